// cs_mac: the multiply-accumulate array of a conv or dense engine (combinational).
//
// TERMS products per output, COUT outputs, finished in RF cycles: every cycle t each
// output takes the next T = ceil(TERMS/RF) terms (model order m = t*T + i), so the array
// has COUT*T multipliers. Terms are added in model order, the bias first, following
// codesign/bitaccurate.py: with a lossless accumulator (LOSSLESS=1) the sum is exact;
// otherwise every product and every partial sum is cast to the accumulator type
// (its rounding and overflow), as hls4ml does.
//
// Weights are constants: at RF = 1 each product is wired, and with CSD = 1 written as
// shift-add logic over the weight's canonical signed digits (a zero weight costs
// nothing); with CSD = 0 (a layer meant for DSPs) the `*` operator is used. At RF > 1
// the weights form a ROM indexed by the cycle t, feeding COUT*T `*` multipliers.
//
// The window arrives in stream order (kh, kw, c). PERM_P > 0 marks a dense layer behind
// a flatten: the stream holds PERM_P pixels of TERMS/PERM_P channels, and model order is
// torch's channel-major m = c*PERM_P + p.
module cs_mac #(
  parameter integer TERMS = 1, parameter integer COUT = 1, parameter integer RF = 1,
  parameter integer PERM_P = 0,
  parameter integer XW = 8, parameter integer XS = 1,
  parameter integer WW = 8, parameter integer WS = 1,
  parameter integer BW = 8, parameter integer BS = 1,
  parameter integer AW = 16, parameter integer AS = 1,
  parameter integer PSHIFT = 0,   // accumulator frac - (weight frac + input frac)
  parameter integer BSHIFT = 0,   // accumulator frac - bias frac
  parameter integer ARND = 0, parameter integer AOVF = 0,
  parameter integer LOSSLESS = 1, parameter integer CSD = 1,
  parameter logic [TERMS*COUT*WW-1:0] WEIGHTS = '0,   // [o*TERMS + m], model order
  parameter logic [COUT*BW-1:0] BIASES = '0,
  // optional: the weights' CSD digits, precomputed (elaboration is then much faster)
  parameter integer CSD_GIVEN = 0,
  parameter logic [TERMS*COUT*(WW+2)-1:0] CSD_P = '0,
  parameter logic [TERMS*COUT*(WW+2)-1:0] CSD_N = '0,
  localparam integer TW = (RF > 1) ? $clog2(RF) : 1
) (
  input  logic [TERMS*XW-1:0] win,
  input  logic [TW-1:0] t,
  input  logic [COUT*AW-1:0] acc_in,
  output logic [COUT*AW-1:0] acc_out
);
  localparam integer T = (TERMS + RF - 1) / RF;
  localparam integer PW = XW + WW + 2;
  localparam integer SW = ((AW > PW) ? AW : PW) + 1;
  localparam integer CINP = (PERM_P > 0) ? TERMS / PERM_P : 1;

  // CSD digits of a constant: bit b set in the +1 (neg = 0) or -1 (neg = 1) digit mask.
  function automatic logic [65:0] cs_csd(input logic signed [65:0] wv, input integer neg);
    logic signed [66:0] rem;
    cs_csd = '0;
    rem = 67'(wv);
    for (integer b = 0; b < WW + 2; b++) begin
      if (rem[0]) begin
        if (rem[1]) begin
          if (neg != 0) cs_csd[b] = 1'b1;
          rem = rem + 67'sd1;
        end else begin
          if (neg == 0) cs_csd[b] = 1'b1;
          rem = rem - 67'sd1;
        end
      end
      rem = rem >>> 1;
    end
  endfunction

  // the window in model order
  logic [TERMS*XW-1:0] wm;
  for (genvar m = 0; m < TERMS; m++) begin : g_perm
    localparam integer SRC = (PERM_P > 0) ? (m % PERM_P) * CINP + m / PERM_P : m;
    assign wm[m*XW +: XW] = win[SRC*XW +: XW];
  end

  logic [COUT*T*PW-1:0] prods;
  logic [T-1:0] vld;
  logic first;
  assign first = (t == '0);

  for (genvar i = 0; i < T; i++) begin : g_vld
    if (RF == 1) begin : g_one
      assign vld[i] = 1'b1;
    end else begin : g_many
      assign vld[i] = (32'(t) * T + i) < TERMS;
    end
  end

  for (genvar o = 0; o < COUT; o++) begin : g_out
    for (genvar i = 0; i < T; i++) begin : g_term
      /* verilator lint_off UNUSEDSIGNAL */
      logic signed [PW-1:0] xe;  // unused when the weight is zero
      /* verilator lint_on UNUSEDSIGNAL */
      logic signed [PW-1:0] p;
      if (RF == 1) begin : g_const
        /* verilator lint_off UNUSEDPARAM */
        localparam logic [WW-1:0] WB = WEIGHTS[(o*TERMS + i)*WW +: WW];
        localparam logic signed [65:0] WV = (WS != 0) ? 66'($signed(WB)) : 66'($unsigned(WB));
        /* verilator lint_on UNUSEDPARAM */
        assign xe = (XS != 0) ? PW'($signed(wm[i*XW +: XW])) : PW'($unsigned(wm[i*XW +: XW]));
        if (CSD != 0 && CSD_GIVEN != 0) begin : g_csd_given
          // shift-add over the canonical signed digits the generator computed
          cs_csd_mul #(.PW(PW), .DW(WW + 2),
                       .POS(CSD_P[(o*TERMS + i)*(WW+2) +: WW+2]),
                       .NEG(CSD_N[(o*TERMS + i)*(WW+2) +: WW+2])) u_csd (.x(xe), .p(p));
        end else if (CSD != 0) begin : g_csd
          // shift-add over the canonical signed digits; zero digits cost nothing
          localparam logic [65:0] POS = cs_csd(WV, 0);
          localparam logic [65:0] NEG = cs_csd(WV, 1);
          cs_csd_mul #(.PW(PW), .DW(WW + 2), .POS(POS[WW+1:0]), .NEG(NEG[WW+1:0])) u_csd (
            .x(xe), .p(p));
        end else begin : g_dsp
          assign p = xe * PW'(WV);
        end
      end else begin : g_rom
        logic [TW+$clog2(T+1)+1:0] m;
        logic [WW-1:0] wb;
        logic signed [PW-1:0] we;
        assign m = vld[i] ? ($bits(m))'(32'(t) * T + i) : '0;
        assign wb = WEIGHTS[(o*TERMS + 32'(m))*WW +: WW];
        assign we = (WS != 0) ? PW'($signed(wb)) : PW'($unsigned(wb));
        assign xe = (XS != 0) ? PW'($signed(wm[32'(m)*XW +: XW]))
                              : PW'($unsigned(wm[32'(m)*XW +: XW]));
        assign p = xe * we;
      end
      assign prods[(o*T + i)*PW +: PW] = p;
    end

    localparam logic [BW-1:0] BB = BIASES[o*BW +: BW];
    if (LOSSLESS != 0) begin : g_exact
      logic signed [SW-1:0] s;
      always_comb begin
        s = first ? (((BS != 0) ? SW'($signed(BB)) : SW'($unsigned(BB))) <<< BSHIFT)
                  : ((AS != 0) ? SW'($signed(acc_in[o*AW +: AW]))
                               : SW'($unsigned(acc_in[o*AW +: AW])));
        for (integer k = 0; k < T; k++) begin
          if (vld[k]) s = s + (SW'($signed(prods[(o*T + k)*PW +: PW])) <<< PSHIFT);
        end
      end
      assign acc_out[o*AW +: AW] = s[AW-1:0];
    end else begin : g_lossy
      logic [(T+1)*AW-1:0] chain;
      logic [AW-1:0] bias_a;
      cs_cast #(.C(1), .IW(BW), .IS(BS), .SHIFT(BSHIFT), .OW(AW), .OS(AS), .RND(ARND),
                .OVF(AOVF)) u_bias (.x(BB), .y(bias_a));
      assign chain[0 +: AW] = first ? bias_a : acc_in[o*AW +: AW];
      for (genvar i = 0; i < T; i++) begin : g_step
        logic [AW-1:0] pa, sa;
        logic signed [AW+1:0] sum;
        cs_cast #(.C(1), .IW(PW), .IS(1), .SHIFT(PSHIFT), .OW(AW), .OS(AS), .RND(ARND),
                  .OVF(AOVF)) u_prod (.x(prods[(o*T + i)*PW +: PW]), .y(pa));
        assign sum = (AS != 0)
            ? (AW+2)'($signed(chain[i*AW +: AW])) + (AW+2)'($signed(pa))
            : (AW+2)'($unsigned(chain[i*AW +: AW])) + (AW+2)'($unsigned(pa));
        cs_cast #(.C(1), .IW(AW + 2), .IS(1), .SHIFT(0), .OW(AW), .OS(AS), .RND(ARND),
                  .OVF(AOVF)) u_sum (.x(sum), .y(sa));
        assign chain[(i+1)*AW +: AW] = vld[i] ? sa : chain[i*AW +: AW];
      end
      assign acc_out[o*AW +: AW] = chain[T*AW +: AW];
    end
  end
endmodule
