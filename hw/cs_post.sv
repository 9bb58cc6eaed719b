// cs_post: the tail every conv/dense engine shares: the accumulator (or exact sum) cast
// to the layer's result type, with RELU = 1 (a fused ReLU layer) clamped at zero and cast
// to the ReLU's result type, into the output register (a cs_out_reg).
module cs_post #(
  parameter integer C = 1,
  parameter integer IW = 16, parameter integer IS = 1,    // the sum's type
  parameter integer RW = 8, parameter integer RS = 1,     // result type
  parameter integer RSHIFT = 0,                            // result frac - sum frac
  parameter integer RRND = 0, parameter integer ROVF = 0,
  parameter integer RELU = 0,                              // fused ReLU
  parameter integer QW = 8, parameter integer QS = 1,     // the ReLU's result type
  parameter integer QSHIFT = 0,                            // its frac - result frac
  parameter integer QRND = 0, parameter integer QOVF = 0,
  localparam integer OW = (RELU != 0) ? QW : RW
) (
  input  logic clk,
  input  logic rst,
  input  logic in_valid,
  output logic in_ready,
  input  logic [C*IW-1:0] x,
  output logic out_valid,
  input  logic out_ready,
  output logic [C*OW-1:0] out_data
);
  logic [C*RW-1:0] res;
  logic [C*OW-1:0] post;

  cs_cast #(.C(C), .IW(IW), .IS(IS), .SHIFT(RSHIFT), .OW(RW), .OS(RS), .RND(RRND),
            .OVF(ROVF)) u_res (.x(x), .y(res));

  if (RELU != 0) begin : g_relu
    cs_relu_comb #(.C(C), .IW(RW), .IS(RS), .SHIFT(QSHIFT), .OW(QW), .OS(QS), .RND(QRND),
                   .OVF(QOVF)) u_relu (.x(res), .y(post));
  end else begin : g_plain
    assign post = res;
  end

  cs_out_reg #(.WIDTH(C*OW)) u_out (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_data(post),
    .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data));
endmodule
