// cs_out_reg: the output register every engine ends in (and the valid bit of each
// register stage of a pipelined adder graph): one value with a valid bit. It loads
// when in_valid and it is free: empty, or its value leaves this cycle
// (in_ready = !out_valid || out_ready), so one beat per cycle passes with one cycle of
// latency. Not a skid buffer: in_ready depends on out_ready combinationally, which the
// cycle model (codesign/latency.py) counts on.
// WIDTH = 0: the valid bit only (the data register lives elsewhere and loads when this
// one does: in_valid && in_ready).
module cs_out_reg #(
  parameter integer WIDTH = 8,
  localparam integer DW = (WIDTH > 0) ? WIDTH : 1
) (
  input  logic clk,
  input  logic rst,
  input  logic in_valid,
  output logic in_ready,
  /* verilator lint_off UNUSEDSIGNAL */
  input  logic [DW-1:0] in_data,    // unused at WIDTH = 0
  /* verilator lint_on UNUSEDSIGNAL */
  output logic out_valid,
  input  logic out_ready,
  output logic [DW-1:0] out_data    // 0 at WIDTH = 0
);
  logic fire;
  assign in_ready = !out_valid || out_ready;
  assign fire = in_valid && in_ready;
  always_ff @(posedge clk) begin
    if (rst) out_valid <= 1'b0;
    else if (fire) out_valid <= 1'b1;
    else if (out_ready) out_valid <= 1'b0;
  end
  if (WIDTH > 0) begin : g_data
    always_ff @(posedge clk) if (fire) out_data <= in_data;
  end else begin : g_nodata
    assign out_data = '0;
  end
endmodule
