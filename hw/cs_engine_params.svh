// cs_engine_params.svh: the parameters cs_graph_engine and cs_mac_engine share (the
// layer's geometry, the input width, the result type and the fused ReLU's type), in one
// place, included in both parameter lists, after each engine's own parameters and
// before its own localparams, so it ends with a comma.
  parameter integer H = 4, parameter integer W = 4, parameter integer CIN = 1,
  parameter integer COUT = 1,
  parameter integer KH = 3, parameter integer KW = 3,
  parameter integer SH = 1, parameter integer SW = 1,
  parameter integer PH = 0, parameter integer PW = 0,
  parameter integer XW = 8,
  parameter integer RW = 8, parameter integer RS = 1,     // result type
  parameter integer RSHIFT = 0,                            // result frac - sum frac
  parameter integer RRND = 0, parameter integer ROVF = 0,
  parameter integer RELU = 0,                              // fused ReLU
  parameter integer QW = 8, parameter integer QS = 1,     // the ReLU's result type
  parameter integer QSHIFT = 0,                            // its frac - result frac
  parameter integer QRND = 0, parameter integer QOVF = 0,
  localparam integer OW = (RELU != 0) ? QW : RW,
  localparam integer TERMS = KH * KW * CIN,
