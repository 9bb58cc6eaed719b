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
// stages, loaded by pipe_en. Stage j = 1..PIPE's valid bit is a cs_out_reg without data
// (the data registers are in the graph module), the output register (stage PIPE+1) is
// cs_post's; each holds one value and loads from the stage before (stage 1: the window's
// result) when it is free (empty, or the next stage loads this cycle). A full pipeline
// stalls stage by stage when out_ready is low, and nothing is lost or repeated; each
// output leaves PIPE cycles later than at PIPE = 0 and the throughput (one output per
// cycle) is unchanged.
module cs_graph_engine #(
  parameter integer YW = 16,                               // graph output width (the sum)
  parameter integer PIPE = 0,                              // register stages in the graph
  `include "cs_engine_params.svh"
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
  logic t, acc_en, load;  // not needed at RF = 1 (t is always 0; pipe_en is from v, r)
  /* verilator lint_on UNUSEDSIGNAL */
  // stage j = 0..PIPE: v[j] it offers a value (stage 0: the window's result), r[j] the
  // stage after it takes the value this cycle if offered
  logic [PIPE:0] v, r;

  cs_window #(.H(H), .W(W), .CIN(CIN), .KH(KH), .KW(KW), .SH(SH), .SW(SW), .PH(PH), .PW(PW),
              .XW(XW), .RF(1)) u_win (
    .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
    .win(win), .t(t), .acc_en(acc_en), .load(load), .res_valid(v[0]), .res_ready(r[0]));

  for (genvar j = 1; j <= PIPE; j++) begin : g_stage
    /* verilator lint_off UNUSEDSIGNAL */
    logic nodata;
    /* verilator lint_on UNUSEDSIGNAL */
    cs_out_reg #(.WIDTH(0)) u_valid (
      .clk(clk), .rst(rst), .in_valid(v[j-1]), .in_ready(r[j-1]), .in_data(1'b0),
      .out_valid(v[j]), .out_ready(r[j]), .out_data(nodata));
    assign pipe_en[j-1] = v[j-1] && r[j-1];
  end
  if (PIPE == 0) begin : g_nopipe
    assign pipe_en = '0;
  end

  cs_post #(.C(COUT), .IW(YW), .IS(1), .RW(RW), .RS(RS), .RSHIFT(RSHIFT), .RRND(RRND),
            .ROVF(ROVF), .RELU(RELU), .QW(QW), .QS(QS), .QSHIFT(QSHIFT), .QRND(QRND),
            .QOVF(QOVF)) u_post (
    .clk(clk), .rst(rst), .in_valid(v[PIPE]), .in_ready(r[PIPE]), .x(y),
    .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data));
endmodule
