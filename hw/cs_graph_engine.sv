// cs_graph_engine: a conv or dense engine at RF = 1 whose arithmetic is a generated
// adder graph (codesign.rtl.adder_sv writes one module per layer; the top wires it to
// the win/y ports here).
//
// cs_window walks the padded image and presents each KHxKWxCIN window on win (stream
// order (kh, kw, c); a dense layer is one window over its P input beats). The graph
// module returns y = window * K + bias exactly, in the layer's product grid (YW bits
// per output, two's complement); y is cast to the result type and, with RELU = 1 (a
// fused ReLU layer), clamped at zero and cast to the ReLU's type. One output pixel (all
// COUT channels) leaves per transfer; timing is cs_window's at RF = 1.
//
// PIPE > 0: the graph module is pipelined (codesign.rtl.pipeline) with PIPE register
// stages, loaded by pipe_en. Stage 1 is loaded when the window loads (its valid is
// cs_window's out_valid); stages 2..PIPE and the output register (stage PIPE+1) each hold
// one value with a valid bit and load from the stage before when they are free (empty, or
// the next stage loads this cycle). A full pipeline stalls stage by stage when out_ready
// is low, and nothing is lost or repeated; each output leaves PIPE cycles later than at
// PIPE = 0 and the throughput (one output per cycle) is unchanged.
module cs_graph_engine #(
  parameter integer H = 4, parameter integer W = 4, parameter integer CIN = 1,
  parameter integer COUT = 1,
  parameter integer KH = 3, parameter integer KW = 3,
  parameter integer SH = 1, parameter integer SW = 1,
  parameter integer PH = 0, parameter integer PW = 0,
  parameter integer XW = 8,
  parameter integer YW = 16,                               // graph output width
  parameter integer RW = 8, parameter integer RS = 1,     // result type
  parameter integer RSHIFT = 0,                            // result frac - graph frac
  parameter integer RRND = 0, parameter integer ROVF = 0,
  parameter integer RELU = 0,                              // fused ReLU
  parameter integer QW = 8, parameter integer QS = 1,     // the ReLU's result type
  parameter integer QSHIFT = 0,                            // its frac - result frac
  parameter integer QRND = 0, parameter integer QOVF = 0,
  parameter integer PIPE = 0,                              // register stages in the graph
  localparam integer OW = (RELU != 0) ? QW : RW,
  localparam integer TERMS = KH * KW * CIN,
  localparam integer PE = (PIPE > 0) ? PIPE : 1
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
  input  logic [COUT*YW-1:0] y,
  output logic [PE-1:0] pipe_en                            // the graph's register loads
);
  /* verilator lint_off UNUSEDSIGNAL */
  logic t, acc_en;  // the compute cycle: always 0 at RF = 1
  /* verilator lint_on UNUSEDSIGNAL */
  logic load;
  logic wv, win_ready;  // the window's output valid (stage 1 when pipelined) and its ready
  logic out_load;  // the output register loads

  cs_window #(.H(H), .W(W), .CIN(CIN), .KH(KH), .KW(KW), .SH(SH), .SW(SW), .PH(PH), .PW(PW),
              .XW(XW), .RF(1)) u_win (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
    .win(win), .t(t), .acc_en(acc_en), .load(load), .out_valid(wv),
    .out_ready(win_ready));

  cs_post #(.C(COUT), .IW(YW), .IS(1), .RW(RW), .RS(RS), .RSHIFT(RSHIFT), .RRND(RRND),
            .ROVF(ROVF), .RELU(RELU), .QW(QW), .QS(QS), .QSHIFT(QSHIFT), .QRND(QRND),
            .QOVF(QOVF)) u_post (.clk(clk), .load(out_load), .x(y), .out_data(out_data));

  if (PIPE == 0) begin : g_nopipe
    assign out_valid = wv;
    assign win_ready = out_ready;
    assign pipe_en = '0;
    assign out_load = load;
  end else begin : g_pipe
    // stage j = 1..PIPE+1: val[j] it holds a value, free[j] it can load this cycle
    logic [PIPE+1:2] vq;
    logic [PIPE+1:1] val;
    logic [PIPE+1:2] free;
    assign val = {vq, wv};
    assign free[PIPE+1] = !val[PIPE+1] || out_ready;
    for (genvar j = 2; j <= PIPE; j++) begin : g_free
      assign free[j] = !val[j] || free[j+1];
    end
    assign win_ready = free[2];  // the window loads stage 1 when stage 2 frees it
    assign pipe_en[0] = load;
    for (genvar j = 2; j <= PIPE; j++) begin : g_en
      assign pipe_en[j-1] = free[j] && val[j-1];
    end
    for (genvar j = 2; j <= PIPE + 1; j++) begin : g_val
      always_ff @(posedge clk) begin
        if (rst) vq[j] <= 1'b0;
        else if (free[j]) vq[j] <= val[j-1];
      end
    end
    assign out_valid = vq[PIPE+1];
    assign out_load = free[PIPE+1] && val[PIPE];
  end
endmodule
