// cs_fifo: a DEPTH-entry stream FIFO (one branch of a fork, e.g. a residual skip).
// Timing: a beat pushed at edge e can leave from edge e+1; in_ready = not full.
module cs_fifo #(
  parameter integer W = 8,
  parameter integer DEPTH = 4
) (
  input  logic clk,
  input  logic rst,
  input  logic in_valid,
  output logic in_ready,
  input  logic [W-1:0] in_data,
  output logic out_valid,
  input  logic out_ready,
  output logic [W-1:0] out_data
);
  localparam integer AB = (DEPTH > 1) ? $clog2(DEPTH) : 1;
  localparam integer CB = $clog2(DEPTH + 1);
  logic [DEPTH*W-1:0] mem;
  logic [AB-1:0] rd, wr;
  logic [CB-1:0] count;
  logic push, pop;
  assign in_ready = count != CB'(DEPTH);
  assign out_valid = count != '0;
  assign push = in_valid && in_ready;
  assign pop = out_valid && out_ready;
  assign out_data = mem[32'(rd)*W +: W];
  always_ff @(posedge clk) begin
    if (rst) begin
      rd <= '0;
      wr <= '0;
      count <= '0;
    end else begin
      if (push) wr <= (wr == AB'(DEPTH - 1)) ? '0 : wr + AB'(1);
      if (pop) rd <= (rd == AB'(DEPTH - 1)) ? '0 : rd + AB'(1);
      count <= count + CB'(push) - CB'(pop);
    end
  end
  always_ff @(posedge clk) if (push) mem[32'(wr)*W +: W] <= in_data;
endmodule
