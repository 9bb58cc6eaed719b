// cs_pool: max or average pooling over KHxKW windows (no padding), per channel.
//
// MODE 0 (max): the max in the input type, cast to the accumulator type, then to the
// result type. MODE 1 (average), as hls4ml's avg(): `accum_t y = 0; y += x[i]...;
// y /= N`: each add is exact on the finer of the two grids and then cast to the
// accumulator type, in (kh, kw) order. The division is exact integer arithmetic on the
// accumulator's mantissa s: q = sign(s) * floor(|s| / N), i.e. truncation toward zero
// like C's `/` (a right shift of |s| when N is a power of two, a constant divider
// otherwise); q, still on the accumulator's grid, is then cast to the result type.
// Timing: cs_window at RF = 1 (one position per cycle).
module cs_pool #(
  parameter integer H = 4, parameter integer W = 4, parameter integer C = 1,
  parameter integer KH = 2, parameter integer KW = 2,
  parameter integer SH = 2, parameter integer SW = 2,
  parameter integer MODE = 0,
  parameter integer XW = 8, parameter integer XS = 1,
  parameter integer AW = 8, parameter integer AS = 1,
  parameter integer AFRAC_X = 0,   // accumulator frac - input frac
  parameter integer ARND = 0, parameter integer AOVF = 0,
  parameter integer RW = 8, parameter integer RS = 1,
  parameter integer RSHIFT = 0,    // result frac - accumulator frac
  parameter integer RRND = 0, parameter integer ROVF = 0
) (
  input  logic clk,
  input  logic rst,
  input  logic in_valid,
  output logic in_ready,
  input  logic [C*XW-1:0] in_data,
  output logic out_valid,
  input  logic out_ready,
  output logic [C*RW-1:0] out_data
);
  localparam integer N = KH * KW;
  localparam integer LOGN = $clog2(N);
  localparam logic POW2 = ((1 << LOGN) == N);
  localparam integer GF = (AFRAC_X > 0) ? 0 : -AFRAC_X;  // finer grid - accumulator grid...
  localparam integer GX = (AFRAC_X > 0) ? AFRAC_X : 0;   // ...and - input grid

  logic [N*C*XW-1:0] win;
  logic res_valid, res_ready;
  logic [C*RW-1:0] res;
  /* verilator lint_off UNUSEDSIGNAL */
  logic t, acc_en, load;
  /* verilator lint_on UNUSEDSIGNAL */

  cs_window #(.H(H), .W(W), .CIN(C), .KH(KH), .KW(KW), .SH(SH), .SW(SW), .PH(0), .PW(0),
              .XW(XW), .RF(1)) u_win (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
    .win(win), .t(t), .acc_en(acc_en), .load(load), .res_valid(res_valid),
    .res_ready(res_ready));

  for (genvar c = 0; c < C; c++) begin : g_ch
    logic [AW-1:0] a;
    logic [AW-1:0] q;
    if (MODE == 0) begin : g_max
      logic signed [XW:0] m, v;
      always_comb begin
        m = (XS != 0) ? (XW+1)'($signed(win[c*XW +: XW])) : (XW+1)'($unsigned(win[c*XW +: XW]));
        for (integer k = 1; k < N; k++) begin
          v = (XS != 0) ? (XW+1)'($signed(win[(k*C + c)*XW +: XW]))
                        : (XW+1)'($unsigned(win[(k*C + c)*XW +: XW]));
          if (v > m) m = v;
        end
      end
      cs_cast #(.C(1), .IW(XW + 1), .IS(1), .SHIFT(AFRAC_X), .OW(AW), .OS(AS), .RND(ARND),
                .OVF(AOVF)) u_acc (.x(m), .y(a));
      assign q = a;
    end else begin : g_avg
      localparam integer SWK = ((AW + GF > XW + GX) ? AW + GF : XW + GX) + 2;
      logic [(N+1)*AW-1:0] chain;
      /* verilator lint_off UNUSEDSIGNAL */
      logic signed [AW:0] sa, mag, qm, qs;
      /* verilator lint_on UNUSEDSIGNAL */
      assign chain[0 +: AW] = '0;
      for (genvar k = 0; k < N; k++) begin : g_add
        logic signed [SWK-1:0] sum;
        assign sum = (((AS != 0) ? SWK'($signed(chain[k*AW +: AW]))
                                 : SWK'($unsigned(chain[k*AW +: AW]))) <<< GF)
                   + (((XS != 0) ? SWK'($signed(win[(k*C + c)*XW +: XW]))
                                 : SWK'($unsigned(win[(k*C + c)*XW +: XW]))) <<< GX);
        cs_cast #(.C(1), .IW(SWK), .IS(1), .SHIFT(-GF), .OW(AW), .OS(AS), .RND(ARND),
                  .OVF(AOVF)) u_acc (.x(sum), .y(chain[(k+1)*AW +: AW]));
      end
      assign a = chain[N*AW +: AW];
      // q = sign(s) * floor(|s| / N) on the accumulator's grid
      assign sa = (AS != 0) ? (AW+1)'($signed(a)) : (AW+1)'($unsigned(a));
      assign mag = sa[AW] ? -sa : sa;
      assign qm = POW2 ? (mag >>> LOGN) : (mag / (AW+1)'(N));
      assign qs = sa[AW] ? -qm : qm;
      /* verilator lint_off WIDTHTRUNC */
      assign q = qs[AW-1:0];
      /* verilator lint_on WIDTHTRUNC */
    end
    cs_cast #(.C(1), .IW(AW), .IS(AS), .SHIFT(RSHIFT), .OW(RW), .OS(RS), .RND(RRND),
              .OVF(ROVF)) u_res (.x(q), .y(res[c*RW +: RW]));
  end

  cs_out_reg #(.WIDTH(C*RW)) u_out (
    .clk(clk), .rst(rst), .in_valid(res_valid), .in_ready(res_ready), .in_data(res),
    .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data));
endmodule
