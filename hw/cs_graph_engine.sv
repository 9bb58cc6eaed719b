// cs_graph_engine: a conv or dense engine at RF = 1 whose arithmetic is a generated
// adder graph (codesign.emit.rtl_graph writes one module per layer; the top wires it to
// the win/y ports here).
//
// cs_window walks the padded image and presents each KHxKWxCIN window on win (stream
// order (kh, kw, c); a dense layer is one window over its P input beats). The graph
// module returns y = window * K + bias exactly, in the layer's product grid (YW bits
// per output, two's complement); y is cast to the result type and, with RELU = 1 (a
// fused ReLU layer), clamped at zero and cast to the ReLU's type. One output pixel (all
// COUT channels) leaves per transfer; timing is cs_window's at RF = 1.
module cs_graph_engine #(
  parameter integer H = 4, parameter integer W = 4, parameter integer CIN = 1,
  parameter integer COUT = 1,
  parameter integer KH = 3, parameter integer KW = 3,
  parameter integer SH = 1, parameter integer SW = 1,
  parameter integer PH = 0, parameter integer PW = 0,
  parameter integer XW = 8,
  parameter integer YW = 16,                               // graph output width
  parameter integer RW = 8, parameter integer RS = 1,     // result type
  parameter integer RSHIFT = 0,                            // result frac - graph frac
  parameter integer RRND = 0, parameter integer ROVF = 0,
  parameter integer RELU = 0,                              // fused ReLU
  parameter integer QW = 8, parameter integer QS = 1,     // the ReLU's result type
  parameter integer QSHIFT = 0,                            // its frac - result frac
  parameter integer QRND = 0, parameter integer QOVF = 0,
  localparam integer OW = (RELU != 0) ? QW : RW,
  localparam integer TERMS = KH * KW * CIN
) (
  input  logic clk,
  input  logic rst,
  input  logic in_valid,
  output logic in_ready,
  input  logic [CIN*XW-1:0] in_data,
  output logic out_valid,
  input  logic out_ready,
  output logic [COUT*OW-1:0] out_data,
  output logic [TERMS*XW-1:0] win,
  input  logic [COUT*YW-1:0] y
);
  /* verilator lint_off UNUSEDSIGNAL */
  logic t, acc_en;  // the compute cycle: always 0 at RF = 1
  /* verilator lint_on UNUSEDSIGNAL */
  logic load;

  cs_window #(.H(H), .W(W), .CIN(CIN), .KH(KH), .KW(KW), .SH(SH), .SW(SW), .PH(PH), .PW(PW),
              .XW(XW), .RF(1)) u_win (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
    .win(win), .t(t), .acc_en(acc_en), .load(load), .out_valid(out_valid),
    .out_ready(out_ready));

  cs_post #(.C(COUT), .IW(YW), .IS(1), .RW(RW), .RS(RS), .RSHIFT(RSHIFT), .RRND(RRND),
            .ROVF(ROVF), .RELU(RELU), .QW(QW), .QS(QS), .QSHIFT(QSHIFT), .QRND(QRND),
            .QOVF(QOVF)) u_post (.clk(clk), .load(load), .x(y), .out_data(out_data));
endmodule
