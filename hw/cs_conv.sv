// cs_conv: a conv2d engine (conv1d is H = 1; dense is cs_dense, a full-image window).
//
// cs_window walks the padded image and freezes each KHxKWxCIN window for RF cycles;
// cs_mac accumulates COUT outputs over them (bias first, terms in (kh, kw, cin) order);
// the sum is cast to the result type and, when RELU = 1 (a fused ReLU layer), clamped at
// zero and cast to the ReLU's result type. One output pixel (all COUT channels) leaves
// per transfer. Timing: see cs_window (at RF = 1, one padded position per cycle).
module cs_conv #(
  parameter integer H = 4, parameter integer W = 4, parameter integer CIN = 1,
  parameter integer COUT = 1,
  parameter integer KH = 3, parameter integer KW = 3,
  parameter integer SH = 1, parameter integer SW = 1,
  parameter integer PH = 0, parameter integer PW = 0,
  parameter integer RF = 1, parameter integer PERM_P = 0,
  parameter integer XW = 8, parameter integer XS = 1,
  parameter integer WW = 8, parameter integer WS = 1,
  parameter integer BW = 8, parameter integer BS = 1,
  parameter integer AW = 16, parameter integer AS = 1,
  parameter integer PSHIFT = 0, parameter integer BSHIFT = 0,
  parameter integer ARND = 0, parameter integer AOVF = 0,
  parameter integer LOSSLESS = 1, parameter integer CSD = 1,
  parameter logic [KH*KW*CIN*COUT*WW-1:0] WEIGHTS = '0,
  parameter logic [COUT*BW-1:0] BIASES = '0,
  parameter integer CSD_GIVEN = 0,
  parameter logic [KH*KW*CIN*COUT*(WW+2)-1:0] CSD_P = '0,
  parameter logic [KH*KW*CIN*COUT*(WW+2)-1:0] CSD_N = '0,
  parameter integer RW = 8, parameter integer RS = 1,     // result type
  parameter integer RSHIFT = 0,                            // result frac - accum frac
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
  input  logic [CIN*XW-1:0] in_data,
  output logic out_valid,
  input  logic out_ready,
  output logic [COUT*OW-1:0] out_data
);
  localparam integer TERMS = KH * KW * CIN;
  localparam integer TW = (RF > 1) ? $clog2(RF) : 1;

  logic [TERMS*XW-1:0] win;
  logic [TW-1:0] t;
  /* verilator lint_off UNUSEDSIGNAL */
  logic acc_en;  // unused at RF = 1
  /* verilator lint_on UNUSEDSIGNAL */
  logic load;
  logic [COUT*AW-1:0] acc_q, acc_d;
  logic [COUT*RW-1:0] res;
  logic [COUT*OW-1:0] post;

  cs_window #(.H(H), .W(W), .CIN(CIN), .KH(KH), .KW(KW), .SH(SH), .SW(SW), .PH(PH), .PW(PW),
              .XW(XW), .RF(RF)) u_win (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
    .win(win), .t(t), .acc_en(acc_en), .load(load), .out_valid(out_valid),
    .out_ready(out_ready));

  cs_mac #(.TERMS(TERMS), .COUT(COUT), .RF(RF), .PERM_P(PERM_P), .XW(XW), .XS(XS),
           .WW(WW), .WS(WS), .BW(BW), .BS(BS), .AW(AW), .AS(AS), .PSHIFT(PSHIFT),
           .BSHIFT(BSHIFT), .ARND(ARND), .AOVF(AOVF), .LOSSLESS(LOSSLESS), .CSD(CSD),
           .WEIGHTS(WEIGHTS), .BIASES(BIASES), .CSD_GIVEN(CSD_GIVEN), .CSD_P(CSD_P),
           .CSD_N(CSD_N)) u_mac (
    .win(win), .t(t), .acc_in(acc_q), .acc_out(acc_d));

  cs_cast #(.C(COUT), .IW(AW), .IS(AS), .SHIFT(RSHIFT), .OW(RW), .OS(RS), .RND(RRND),
            .OVF(ROVF)) u_res (.x(acc_d), .y(res));

  if (RELU != 0) begin : g_relu
    cs_relu_comb #(.C(COUT), .IW(RW), .IS(RS), .SHIFT(QSHIFT), .OW(QW), .OS(QS), .RND(QRND),
                   .OVF(QOVF)) u_relu (.x(res), .y(post));
  end else begin : g_plain
    assign post = res;
  end

  if (RF > 1) begin : g_acc
    always_ff @(posedge clk) if (acc_en) acc_q <= acc_d;
  end else begin : g_noacc
    assign acc_q = '0;
  end

  always_ff @(posedge clk) if (load) out_data <= post;
endmodule
