// cs_relu: a standalone ReLU engine: one pipeline register (a cs_out_reg), one beat per
// cycle.
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
  cs_out_reg #(.WIDTH(C*OW)) u_out (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_data(y),
    .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data));
endmodule
