// cs_relu: a standalone ReLU engine: one pipeline register, one beat per cycle.
// Timing: a beat accepted at edge e is offered from edge e+1; in_ready = output free.
module cs_relu #(
  parameter integer C = 1,
  parameter integer IW = 8, parameter integer IS = 1,
  parameter integer SHIFT = 0,
  parameter integer OW = 8, parameter integer OS = 1,
  parameter integer RND = 0, parameter integer OVF = 0
) (
  input  logic clk,
  input  logic rst,
  input  logic in_valid,
  output logic in_ready,
  input  logic [C*IW-1:0] in_data,
  output logic out_valid,
  input  logic out_ready,
  output logic [C*OW-1:0] out_data
);
  logic [C*OW-1:0] y;
  cs_relu_comb #(.C(C), .IW(IW), .IS(IS), .SHIFT(SHIFT), .OW(OW), .OS(OS), .RND(RND),
                 .OVF(OVF)) u_relu (.x(in_data), .y(y));
  assign in_ready = !out_valid || out_ready;
  always_ff @(posedge clk) begin
    if (rst) out_valid <= 1'b0;
    else if (in_valid && in_ready) out_valid <= 1'b1;
    else if (out_ready) out_valid <= 1'b0;
  end
  always_ff @(posedge clk) if (in_valid && in_ready) out_data <= y;
endmodule
