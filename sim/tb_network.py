"""cocotb testbench for a generated accelerator (codesign.rtl.network's cs_top).

Streams N samples back to back into the input and collects every output beat; the
driver and the sink decide per clock edge, so the edge of every transfer is known.
Two modes:
- timing: input always valid, output always ready; the transfer edges are compared by
  the runner with codesign.rtl.latency's prediction.
- stress: random input gaps and random output backpressure (seeded); only the values
  matter, they must not change.
Every output beat is compared with the bit-accurate model's; the first mismatch is
named (sample, pixel, channel). The runner (codesign.verify.rtlsim) prepares the stimulus file
and reads back the JSON this writes.

Configuration (environment, set by the runner): CS_STIM (npz: inputs, expected,
widths), CS_MODE, CS_SEED, CS_RESULT (JSON out), CS_MAX_EDGES.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge


def pack(channels: np.ndarray, width: int) -> int:
    """One beat: channel c at bits [c*width +: width] (two's complement)."""
    mask = (1 << width) - 1
    value = 0
    for c, v in enumerate(channels.tolist()):
        value |= (int(v) & mask) << (c * width)
    return value


def unpack(value: int, channels: int, width: int, signed: bool) -> list[int]:
    mask = (1 << width) - 1
    out = []
    for c in range(channels):
        v = (value >> (c * width)) & mask
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out


@cocotb.test()
async def stream_samples(dut) -> None:
    stim = np.load(os.environ["CS_STIM"])
    inputs, expected = stim["inputs"], stim["expected"]  # (N, beats, C)
    in_w, out_w, out_signed = (int(v) for v in stim["widths"])
    mode = os.environ.get("CS_MODE", "timing")
    rng = random.Random(int(os.environ.get("CS_SEED", "1")))
    max_edges = int(os.environ.get("CS_MAX_EDGES", "10000000"))
    n, in_beats, _ = inputs.shape
    _, out_beats, out_ch = expected.shape
    beats = [pack(inputs[i, b], in_w) for i in range(n) for b in range(in_beats)]
    total_out = n * out_beats
    stress = mode == "stress"

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.in_valid.value = 0
    dut.in_data.value = 0
    dut.out_ready.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    in_edges: list[int] = []
    out_edges: list[int] = []
    outputs: list[int] = []
    k = 0  # next input beat
    offering = False
    edge = 0
    while len(outputs) < total_out and edge < max_edges:
        # drive this edge's inputs (we are between the previous and the next rising edge)
        if k < len(beats):
            if not offering and (not stress or rng.random() < 0.6):
                offering = True
                dut.in_data.value = beats[k]
        ready = (not stress) or rng.random() < 0.55
        dut.in_valid.value = int(offering)
        dut.out_ready.value = int(ready)
        await ReadOnly()
        if offering and dut.in_ready.value == 1:
            in_edges.append(edge)
            k += 1
            offering = False
        if ready and dut.out_valid.value == 1:
            out_edges.append(edge)
            outputs.append(dut.out_data.value.to_unsigned())
        await FallingEdge(dut.clk)
        edge += 1

    got = np.array([unpack(v, out_ch, out_w, bool(out_signed)) for v in outputs],
                   dtype=np.int64).reshape(-1, out_beats, out_ch) if outputs else None
    mismatch = None
    equal = 0
    if got is not None and len(outputs) == total_out:
        same = (got == expected).all(axis=(1, 2))
        equal = int(same.sum())
        if not same.all():
            i = int(np.argmin(same))
            b, c = (int(v) for v in np.argwhere(got[i] != expected[i])[0])
            mismatch = {"sample": i, "pixel": b, "channel": c, "got": int(got[i, b, c]),
                        "expected": int(expected[i, b, c])}
    result = {"mode": mode, "samples": n, "equal": equal, "edges": edge,
              "complete": len(outputs) == total_out, "mismatch": mismatch,
              "in_edges": in_edges, "out_edges": out_edges}
    with open(os.environ["CS_RESULT"], "w") as f:
        json.dump(result, f)
    assert result["complete"], f"only {len(outputs)} of {total_out} output beats in {edge} edges"
    assert mismatch is None, f"first mismatch: {mismatch}"
