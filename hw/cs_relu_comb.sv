// cs_relu_comb: `x > 0 ? x : 0` per channel, then the cast to the ReLU's result type
// (combinational; fused into engines and wrapped by cs_relu).
module cs_relu_comb #(
  parameter integer C = 1,
  parameter integer IW = 8, parameter integer IS = 1,
  parameter integer SHIFT = 0,
  parameter integer OW = 8, parameter integer OS = 1,
  parameter integer RND = 0, parameter integer OVF = 0
) (
  input  logic [C*IW-1:0] x,
  output logic [C*OW-1:0] y
);
  logic [C*IW-1:0] pos;
  for (genvar c = 0; c < C; c++) begin : g_ch
    if (IS != 0) begin : g_signed
      assign pos[c*IW +: IW] = x[c*IW + IW - 1] ? '0 : x[c*IW +: IW];
    end else begin : g_unsigned
      assign pos[c*IW +: IW] = x[c*IW +: IW];
    end
  end
  cs_cast #(.C(C), .IW(IW), .IS(IS), .SHIFT(SHIFT), .OW(OW), .OS(OS), .RND(RND), .OVF(OVF))
    u_cast (.x(pos), .y(y));
endmodule
