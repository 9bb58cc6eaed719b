// cs_window: the sliding-window front end shared by the conv, dense and pool engines.
//
// Walks the zero-padded image in raster order, one position per step. An interior
// position takes one input beat (a pixel, all channels); a padding position shifts in
// zeros without input. The line buffer is a shift register of (KH-1) padded rows plus KW
// pixels, so window tap (kh, kw) sits (KH-1-kh)*WP + (KW-1-kw) pixels back (SRL-friendly).
// When a step completes an output window (stride respected) the engine computes for RF
// cycles (t = 0..RF-1) with the window frozen; on the last cycle the result is offered
// (res_valid) and loaded into the engine's output register (a cs_out_reg, whose in_ready
// is res_ready) as soon as that register is free (load), and stepping resumes in the same
// cycle. At RF = 1 this sustains one position per cycle. t is 0 whenever the engine is
// idle (a block-RAM weight ROM prefetches the value t takes next).
//
// Timing (codesign/rtl/latency.py mirrors this exactly): a step happens when the engine is
// not computing (or is loading) and, at interior positions, an input beat is valid.
module cs_window #(
  parameter integer H = 4, parameter integer W = 4, parameter integer CIN = 1,
  parameter integer KH = 3, parameter integer KW = 3,
  parameter integer SH = 1, parameter integer SW = 1,
  parameter integer PH = 0, parameter integer PW = 0,
  parameter integer XW = 8, parameter integer RF = 1,
  localparam integer TW = (RF > 1) ? $clog2(RF) : 1,
  localparam integer NW = KH * KW * CIN
) (
  input  logic clk,
  input  logic rst,
  input  logic in_valid,
  output logic in_ready,
  input  logic [CIN*XW-1:0] in_data,
  output logic [NW*XW-1:0] win,     // window, ordered (kh, kw, c) with c fastest
  output logic [TW-1:0] t,          // compute cycle
  output logic acc_en,              // a compute cycle that is not the last one
  output logic load,                // load the output register now
  output logic res_valid,           // the last compute cycle: the result is ready
  input  logic res_ready            // the output register takes it this cycle
);
  localparam integer HP = H + 2 * PH;
  localparam integer WP = W + 2 * PW;
  localparam integer LEN = (KH - 1) * WP + KW;
  localparam integer PXW = CIN * XW;
  localparam integer RB = $clog2(HP + 1);
  localparam integer CB = $clog2(WP + 1);

  logic [LEN*PXW-1:0] sr;
  logic [RB-1:0] r;
  logic [CB-1:0] c;
  logic busy, finishing, can_step, interior, step, completes;
  logic [PXW-1:0] pix;

  assign finishing = busy && (t == TW'(RF - 1));
  assign res_valid = finishing;
  assign load = finishing && res_ready;
  assign acc_en = busy && !finishing;
  assign can_step = !busy || load;
  /* verilator lint_off UNSIGNED */
  assign interior = (r >= RB'(PH)) && (r < RB'(PH + H)) && (c >= CB'(PW)) && (c < CB'(PW + W));
  assign in_ready = can_step && interior;
  assign step = can_step && (!interior || in_valid);
  assign completes = (r >= RB'(KH - 1)) && (c >= CB'(KW - 1))
                     && (((r - RB'(KH - 1)) % RB'(SH)) == 0)
                     && (((c - CB'(KW - 1)) % CB'(SW)) == 0);
  /* verilator lint_on UNSIGNED */
  assign pix = interior ? in_data : '0;

  for (genvar kh = 0; kh < KH; kh++) begin : g_kh
    for (genvar kw = 0; kw < KW; kw++) begin : g_kw
      assign win[(kh * KW + kw) * PXW +: PXW] =
          sr[((KH - 1 - kh) * WP + (KW - 1 - kw)) * PXW +: PXW];
    end
  end

  if (LEN > 1) begin : g_sr
    always_ff @(posedge clk) if (step) sr <= {sr[(LEN-1)*PXW-1:0], pix};
  end else begin : g_sr1
    always_ff @(posedge clk) if (step) sr <= pix;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      r <= '0;
      c <= '0;
      busy <= 1'b0;
      t <= '0;
    end else begin
      if (acc_en) t <= t + TW'(1);
      else if (load) t <= '0;  // idle at 0: a weight ROM prefetches t's next value
      if (step) begin
        if (completes) begin
          busy <= 1'b1;
          t <= '0;
        end else if (load) begin
          busy <= 1'b0;
        end
        if (c == CB'(WP - 1)) begin
          c <= '0;
          r <= (r == RB'(HP - 1)) ? '0 : r + RB'(1);
        end else begin
          c <= c + CB'(1);
        end
      end else if (load) begin
        busy <= 1'b0;
      end
    end
  end
endmodule
