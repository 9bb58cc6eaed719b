// cs_csd_mul: x times a constant given by its canonical signed digits, as shift-add
// logic: p = sum over set bits b of POS of (x << b) minus the same over NEG. A zero
// constant has no digits and costs nothing; k nonzero digits cost k-1 adders.
module cs_csd_mul #(
  parameter integer PW = 16,                   // width of x and p
  parameter integer DW = 10,                   // digit positions
  parameter logic [DW-1:0] POS = '0,           // +1 digits
  parameter logic [DW-1:0] NEG = '0            // -1 digits
) (
  /* verilator lint_off UNUSEDSIGNAL */
  input  logic signed [PW-1:0] x,              // unused when the constant is zero
  /* verilator lint_on UNUSEDSIGNAL */
  output logic signed [PW-1:0] p
);
  localparam integer NB = (DW < PW) ? DW : PW;
  logic [(NB+1)*PW-1:0] part;
  assign part[0 +: PW] = '0;
  for (genvar b = 0; b < NB; b++) begin : g_bit
    if (POS[b]) begin : g_add
      assign part[(b+1)*PW +: PW] = part[b*PW +: PW] + PW'(x <<< b);
    end else if (NEG[b]) begin : g_sub
      assign part[(b+1)*PW +: PW] = part[b*PW +: PW] - PW'(x <<< b);
    end else begin : g_skip
      assign part[(b+1)*PW +: PW] = part[b*PW +: PW];
    end
  end
  assign p = part[NB*PW +: PW];
endmodule
