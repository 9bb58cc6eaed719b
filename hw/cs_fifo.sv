// cs_fifo: a DEPTH-entry stream FIFO (one branch of a fork, e.g. a residual skip).
// Timing: a beat pushed at edge e can leave from edge e+1; in_ready = not full.
// Storage (codesign.hwrules.fifo_plan decides BRAM): a RAM array, so synthesis maps it to
// distributed RAM (asynchronous read: LUTRAM) or, with BRAM = 1, to block RAM. Block RAM
// reads synchronously: every edge it reads the slot that is the head after that edge,
// and a beat written into that very slot at the same edge is taken from a bypass
// register instead, so out_data is the head from the edge after its push, as with
// LUTRAM: the handshake (count, in_ready, out_valid) is the same in both.
module cs_fifo #(
  parameter integer W = 8,
  parameter integer DEPTH = 4,
  parameter integer BRAM = 0
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
  logic [AB-1:0] rd, wr, rd_next;
  logic [CB-1:0] count;
  logic push, pop;
  assign in_ready = count != CB'(DEPTH);
  assign out_valid = count != '0;
  assign push = in_valid && in_ready;
  assign pop = out_valid && out_ready;
  assign rd_next = pop ? ((rd == AB'(DEPTH - 1)) ? '0 : rd + AB'(1)) : rd;
  always_ff @(posedge clk) begin
    if (rst) begin
      rd <= '0;
      wr <= '0;
      count <= '0;
    end else begin
      if (push) wr <= (wr == AB'(DEPTH - 1)) ? '0 : wr + AB'(1);
      rd <= rd_next;
      count <= count + CB'(push) - CB'(pop);
    end
  end
  generate
    if (BRAM != 0) begin : g_block
      (* ram_style = "block" *) logic [W-1:0] mem [0:DEPTH-1];
      logic [W-1:0] q, byp_data;
      logic byp;
      always_ff @(posedge clk) begin
        if (push) mem[wr] <= in_data;
        q <= mem[rd_next];
      end
      always_ff @(posedge clk) begin
        byp <= push && wr == rd_next;
        byp_data <= in_data;
      end
      assign out_data = byp ? byp_data : q;
    end else begin : g_distributed
      (* ram_style = "distributed" *) logic [W-1:0] mem [0:DEPTH-1];
      always_ff @(posedge clk) if (push) mem[wr] <= in_data;
      assign out_data = mem[rd];
    end
  endgenerate
endmodule
