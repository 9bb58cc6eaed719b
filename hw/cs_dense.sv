// cs_dense: a dense layer over P input beats of CIN channels (P = 1 for a vector; P > 1
// after a flatten, which is only a re-reading of the stream). It is a conv engine whose
// window is the whole input (KH = 1, KW = P), so the timing and the MAC are cs_conv's;
// weights are in torch's order and PERM_P maps them onto the stream.
module cs_dense #(
  parameter integer P = 1, parameter integer CIN = 1, parameter integer COUT = 1,
  parameter integer RF = 1,
  parameter integer XW = 8, parameter integer XS = 1,
  parameter integer WW = 8, parameter integer WS = 1,
  parameter integer BW = 8, parameter integer BS = 1,
  parameter integer AW = 16, parameter integer AS = 1,
  parameter integer PSHIFT = 0, parameter integer BSHIFT = 0,
  parameter integer ARND = 0, parameter integer AOVF = 0,
  parameter integer LOSSLESS = 1, parameter integer CSD = 1,
  parameter logic [P*CIN*COUT*WW-1:0] WEIGHTS = '0,
  parameter logic [COUT*BW-1:0] BIASES = '0,
  parameter integer CSD_GIVEN = 0,
  parameter logic [P*CIN*COUT*(WW+2)-1:0] CSD_P = '0,
  parameter logic [P*CIN*COUT*(WW+2)-1:0] CSD_N = '0,
  parameter integer RW = 8, parameter integer RS = 1, parameter integer RSHIFT = 0,
  parameter integer RRND = 0, parameter integer ROVF = 0,
  parameter integer RELU = 0,
  parameter integer QW = 8, parameter integer QS = 1, parameter integer QSHIFT = 0,
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
  cs_conv #(.H(1), .W(P), .CIN(CIN), .COUT(COUT), .KH(1), .KW(P), .SH(1), .SW(1), .PH(0),
            .PW(0), .RF(RF), .PERM_P((P > 1) ? P : 0), .XW(XW), .XS(XS), .WW(WW), .WS(WS),
            .BW(BW), .BS(BS), .AW(AW), .AS(AS), .PSHIFT(PSHIFT), .BSHIFT(BSHIFT),
            .ARND(ARND), .AOVF(AOVF), .LOSSLESS(LOSSLESS), .CSD(CSD), .WEIGHTS(WEIGHTS),
            .BIASES(BIASES), .CSD_GIVEN(CSD_GIVEN), .CSD_P(CSD_P), .CSD_N(CSD_N),
            .RW(RW), .RS(RS), .RSHIFT(RSHIFT), .RRND(RRND), .ROVF(ROVF),
            .RELU(RELU), .QW(QW), .QS(QS), .QSHIFT(QSHIFT), .QRND(QRND), .QOVF(QOVF)) u_conv (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
    .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data));
endmodule
