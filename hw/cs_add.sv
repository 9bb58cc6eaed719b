// cs_add: residual add of two streams of equal shape: the exact sum on the finer grid,
// then one cast to the result type (codesign/bitaccurate.run_add). A join: both beats
// transfer together when the output register (a cs_out_reg) is free.
// The skip branch's buffering is a cs_fifo the generator puts on each fork branch.
module cs_add #(
  parameter integer C = 1,
  parameter integer AW_ = 8, parameter integer AS_ = 1, parameter integer ASH = 0,
  parameter integer BW_ = 8, parameter integer BS_ = 1, parameter integer BSH = 0,
  parameter integer FSHIFT = 0,   // result frac - common (finer) frac
  parameter integer RW = 8, parameter integer RS = 1,
  parameter integer RRND = 0, parameter integer ROVF = 0
) (
  input  logic clk,
  input  logic rst,
  input  logic a_valid,
  output logic a_ready,
  input  logic [C*AW_-1:0] a_data,
  input  logic b_valid,
  output logic b_ready,
  input  logic [C*BW_-1:0] b_data,
  output logic out_valid,
  input  logic out_ready,
  output logic [C*RW-1:0] out_data
);
  logic out_free;
  logic [C*RW-1:0] res;
  assign a_ready = out_free && b_valid;
  assign b_ready = out_free && a_valid;
  localparam integer SWA = ((AW_ + ASH > BW_ + BSH) ? AW_ + ASH : BW_ + BSH) + 2;
  for (genvar c = 0; c < C; c++) begin : g_ch
    logic signed [SWA-1:0] sum;
    assign sum = (((AS_ != 0) ? SWA'($signed(a_data[c*AW_ +: AW_]))
                              : SWA'($unsigned(a_data[c*AW_ +: AW_]))) <<< ASH)
               + (((BS_ != 0) ? SWA'($signed(b_data[c*BW_ +: BW_]))
                              : SWA'($unsigned(b_data[c*BW_ +: BW_]))) <<< BSH);
    cs_cast #(.C(1), .IW(SWA), .IS(1), .SHIFT(FSHIFT), .OW(RW), .OS(RS), .RND(RRND),
              .OVF(ROVF)) u_res (.x(sum), .y(res[c*RW +: RW]));
  end
  cs_out_reg #(.WIDTH(C*RW)) u_out (
    .clk(clk), .rst(rst), .in_valid(a_valid && b_valid), .in_ready(out_free), .in_data(res),
    .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data));
endmodule
