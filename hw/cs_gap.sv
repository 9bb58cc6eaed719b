// cs_gap: global average pool, the mean of each channel over the whole H x W image, as
// one accumulator per channel (no line buffer, no window).
//
// The arithmetic is cs_pool's average (MODE 1), term for term: the beats arrive in
// raster order, the order of cs_pool's (kh, kw) window, and each add is exact on the
// finer of the accumulator's and the input's grids, then cast to the accumulator type
// (cs_cast); after the H*W-th beat the sum's mantissa s is divided as
// q = sign(s) * floor(|s| / N) (truncation toward zero, C's `/`), and q is cast to the
// result type. The accumulator register restarts at 0 with every image.
// Timing (codesign.rtl.engine_kinds.AccumulateEngine): one beat per cycle; the last beat
// of an image is taken only when the output register can load the mean in that same cycle
// (in_ready = !last || the register is free), so the mean is offered the cycle after.
module cs_gap #(
  parameter integer H = 4, parameter integer W = 4, parameter integer C = 1,
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
  localparam integer N = H * W;
  localparam integer LOGN = $clog2(N);
  localparam logic POW2 = ((1 << LOGN) == N);
  localparam integer NB = (N > 1) ? $clog2(N) : 1;
  localparam integer GF = (AFRAC_X > 0) ? 0 : -AFRAC_X;  // finer grid - accumulator grid...
  localparam integer GX = (AFRAC_X > 0) ? AFRAC_X : 0;   // ...and - input grid
  localparam integer SWK = ((AW + GF > XW + GX) ? AW + GF : XW + GX) + 2;

  logic [NB-1:0] n;  // beats of this image taken so far
  logic last, fire, res_ready;
  logic [C*RW-1:0] res;

  assign last = (n == NB'(N - 1));
  assign in_ready = !last || res_ready;
  assign fire = in_valid && in_ready;

  always_ff @(posedge clk) begin
    if (rst) n <= '0;
    else if (fire) n <= last ? '0 : n + NB'(1);
  end

  for (genvar c = 0; c < C; c++) begin : g_ch
    logic [AW-1:0] acc, nxt, q;
    logic signed [SWK-1:0] sum;
    /* verilator lint_off UNUSEDSIGNAL */
    logic signed [AW:0] sa, mag, qm, qs;
    /* verilator lint_on UNUSEDSIGNAL */
    assign sum = (((AS != 0) ? SWK'($signed(acc)) : SWK'($unsigned(acc))) <<< GF)
               + (((XS != 0) ? SWK'($signed(in_data[c*XW +: XW]))
                             : SWK'($unsigned(in_data[c*XW +: XW]))) <<< GX);
    cs_cast #(.C(1), .IW(SWK), .IS(1), .SHIFT(-GF), .OW(AW), .OS(AS), .RND(ARND),
              .OVF(AOVF)) u_acc (.x(sum), .y(nxt));
    always_ff @(posedge clk) begin
      if (rst) acc <= '0;
      else if (fire) acc <= last ? '0 : nxt;
    end
    // q = sign(s) * floor(|s| / N) on the accumulator's grid, s the image's sum
    assign sa = (AS != 0) ? (AW+1)'($signed(nxt)) : (AW+1)'($unsigned(nxt));
    assign mag = sa[AW] ? -sa : sa;
    assign qm = POW2 ? (mag >>> LOGN) : (mag / (AW+1)'(N));
    assign qs = sa[AW] ? -qm : qm;
    /* verilator lint_off WIDTHTRUNC */
    assign q = qs[AW-1:0];
    /* verilator lint_on WIDTHTRUNC */
    cs_cast #(.C(1), .IW(AW), .IS(AS), .SHIFT(RSHIFT), .OW(RW), .OS(RS), .RND(RRND),
              .OVF(ROVF)) u_res (.x(q), .y(res[c*RW +: RW]));
  end

  cs_out_reg #(.WIDTH(C*RW)) u_out (
    .clk(clk), .rst(rst), .in_valid(in_valid && last), .in_ready(res_ready), .in_data(res),
    .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data));
endmodule
