// cs_cast: requantize C channels from one fixed-point type to another (combinational),
// bit for bit as codesign.fixed.FixedType.cast_int (ap_fixed semantics): one rounding
// decision on the dropped bits, then one overflow rule.
//
// A channel is a W-bit field, channel c at [c*W +: W]. SHIFT = output frac - input frac:
// SHIFT >= 0 appends zeros, SHIFT < 0 drops -SHIFT bits and rounds.
// Rounding codes: 0 TRN, 1 RND, 2 RND_ZERO, 3 RND_MIN_INF, 4 RND_INF, 5 RND_CONV,
// 6 TRN_ZERO. Overflow codes: 0 WRAP, 1 SAT, 2 SAT_ZERO, 3 SAT_SYM.
// Everything but the input is a constant, so only the chosen mode's logic is built.
module cs_cast #(
  parameter integer C = 1,
  parameter integer IW = 8,      // input width
  parameter integer IS = 1,      // input signed
  parameter integer SHIFT = 0,   // output frac - input frac
  parameter integer OW = 8,      // output width
  parameter integer OS = 1,      // output signed
  parameter integer RND = 0,     // rounding code
  parameter integer OVF = 0      // overflow code
) (
  input  logic [C*IW-1:0] x,
  output logic [C*OW-1:0] y
);
  localparam integer D = (SHIFT < 0) ? -SHIFT : 0;     // dropped bits
  localparam integer UP = (SHIFT > 0) ? SHIFT : 0;     // appended zeros
  localparam integer XW = IW + 1;                       // input as a signed value
  localparam integer VW = ((XW + UP + 1 > OW + 2) ? XW + UP + 1 : OW + 2) + 1;
  localparam logic signed [VW-1:0] MN = (OS != 0) ? -(VW'(1) <<< (OW - 1)) : '0;
  localparam logic signed [VW-1:0] MX = (OS != 0) ? (VW'(1) <<< (OW - 1)) - VW'(1)
                                                  : (VW'(1) <<< OW) - VW'(1);

  for (genvar c = 0; c < C; c++) begin : g_ch
    logic signed [XW-1:0] xe;
    logic signed [VW-1:0] v;
    /* verilator lint_off UNUSEDSIGNAL */
    logic neg, inr;
    /* verilator lint_on UNUSEDSIGNAL */
    assign xe = (IS != 0) ? XW'($signed(x[c*IW +: IW])) : XW'($unsigned(x[c*IW +: IW]));
    assign neg = xe[XW-1];
    if (D == 0) begin : g_exact
      assign v = VW'(xe) <<< UP;
    end else begin : g_round
      /* verilator lint_off UNUSEDSIGNAL */
      logic signed [XW-1:0] fl;
      logic half, rest, inc;
      /* verilator lint_on UNUSEDSIGNAL */
      assign fl = xe >>> D;
      if (D - 1 < XW) begin : g_half
        assign half = xe[D-1];
      end else begin : g_half_sign
        assign half = neg;
      end
      if (D == 1) begin : g_norest
        assign rest = 1'b0;
      end else if (D - 1 <= XW) begin : g_rest
        /* verilator lint_off WIDTHTRUNC */
        assign rest = |xe[((D - 1 < XW) ? D - 1 : XW) - 1:0];
        /* verilator lint_on WIDTHTRUNC */
      end else begin : g_rest_all
        assign rest = |xe;
      end
      case (RND)
        1: begin : g_rnd
          assign inc = half;
        end
        2: begin : g_rnd_zero
          assign inc = half & (neg | rest);
        end
        3: begin : g_rnd_min_inf
          assign inc = half & rest;
        end
        4: begin : g_rnd_inf
          assign inc = half & (~neg | rest);
        end
        5: begin : g_rnd_conv
          assign inc = half & (fl[0] | rest);
        end
        6: begin : g_trn_zero
          assign inc = neg & (half | rest);
        end
        default: begin : g_trn
          assign inc = 1'b0;
        end
      endcase
      assign v = VW'(fl) + VW'(inc);
    end
    assign inr = (v >= MN) && (v <= MX);
    case (OVF)
      1: begin : g_sat
        assign y[c*OW +: OW] = inr ? v[OW-1:0] : (neg ? MN[OW-1:0] : MX[OW-1:0]);
      end
      2: begin : g_sat_zero
        assign y[c*OW +: OW] = inr ? v[OW-1:0] : '0;
      end
      3: begin : g_sat_sym
        if (OS != 0 && OW > 1) begin : g_sym
          assign y[c*OW +: OW] = (inr && v != MN) ? v[OW-1:0]
                                 : (neg ? MN[OW-1:0] + OW'(1) : MX[OW-1:0]);
        end else begin : g_plain
          assign y[c*OW +: OW] = inr ? v[OW-1:0] : (neg ? MN[OW-1:0] : MX[OW-1:0]);
        end
      end
      default: begin : g_wrap
        assign y[c*OW +: OW] = v[OW-1:0];
      end
    endcase
  end
endmodule
