// cs_mac_engine: a conv or dense engine whose multiply-accumulate is a generated module
// (codesign.rtl.mac writes one per layer; the top wires it to the win/t/acc ports):
// reuse RF > 1 (weights in a ROM indexed by the cycle), a narrow accumulator the user
// chose, or DSP multipliers.
//
// cs_window walks the padded image and freezes each KHxKWxCIN window (stream order
// (kh, kw, c); a dense layer is one window over its P input beats) for RF cycles
// t = 0..RF-1. Each cycle the MAC module turns acc_q (or the bias, at t = 0) into acc_d;
// acc_d is registered between cycles (acc_en) and, on the last cycle, cast to the result
// type and, with RELU = 1 (a fused ReLU layer), clamped at zero and cast to the ReLU's
// type, into the output register. acc_en and load also let a block-RAM weight ROM fetch
// the next cycle's word one cycle ahead, so the timing is cs_window's at this RF.
module cs_mac_engine #(
  parameter integer RF = 1,
  parameter integer AW = 16, parameter integer AS = 1,    // accumulator (the sum)
  `include "cs_engine_params.svh"
  localparam integer TW = (RF > 1) ? $clog2(RF) : 1
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
  output logic [TW-1:0] t,
  output logic acc_en,
  output logic load,
  output logic [COUT*AW-1:0] acc_q,
  input  logic [COUT*AW-1:0] acc_d
);
  logic res_valid, res_ready;

  cs_window #(.H(H), .W(W), .CIN(CIN), .KH(KH), .KW(KW), .SH(SH), .SW(SW), .PH(PH), .PW(PW),
              .XW(XW), .RF(RF)) u_win (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
    .win(win), .t(t), .acc_en(acc_en), .load(load), .res_valid(res_valid),
    .res_ready(res_ready));

  cs_post #(.C(COUT), .IW(AW), .IS(AS), .RW(RW), .RS(RS), .RSHIFT(RSHIFT), .RRND(RRND),
            .ROVF(ROVF), .RELU(RELU), .QW(QW), .QS(QS), .QSHIFT(QSHIFT), .QRND(QRND),
            .QOVF(QOVF)) u_post (
    .clk(clk), .rst(rst), .in_valid(res_valid), .in_ready(res_ready), .x(acc_d),
    .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data));

  if (RF > 1) begin : g_acc
    always_ff @(posedge clk) if (acc_en) acc_q <= acc_d;
  end else begin : g_noacc
    assign acc_q = '0;
  end
endmodule
