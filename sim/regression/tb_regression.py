"""cocotb regression tests for one accelerator, written by `codesign rtl --testbench`.

Needs only cocotb (and Verilator to build the design); the golden vectors and the
expected cycle counts sit beside this file (suite.json, vectors/). Three tests:
- timing: every image back to back, input always valid and output always ready; every
  output beat must equal the golden one, and every image's latency (first input
  accepted to last output transferred) and the interval between images must equal the
  expected cycles.
- backpressure: the same images with random input gaps and random output stalls
  (seeded); only the values matter.
- reset_mid_image: reset arrives in the middle of the second image; afterwards the
  images are streamed again from the start and must come out exactly as golden.
The ports are those of the generated top: clk, rst (synchronous, active high),
in_valid/in_ready/in_data and out_valid/out_ready/out_data (valid/ready streams, one
pixel of all channels per beat, channel c at bits [c*W +: W]).

On a mismatch the test stops a few cycles later (so the waveform ends around it),
writes the report CS_REPORT names (JSON) and fails naming the first sample, output
index (channels-first, as the model flattens its output), expected and actual value.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

CLOCK_NS = 10
RESET_CYCLES = 3
MARGIN = 20  # cycles simulated after the first mismatch, so the waveform shows it


@dataclass
class Port:
    """One stream's layout: beats per image of `channels` fields of `width` bits."""

    width: int
    channels: int
    signed: bool
    beats: int

    def unpack(self, value: int) -> list[int]:
        mask = (1 << self.width) - 1
        out = []
        for c in range(self.channels):
            v = (value >> (c * self.width)) & mask
            if self.signed and v >> (self.width - 1):
                v -= 1 << self.width
            out.append(v)
        return out


@dataclass
class Suite:
    inp: Port
    out: Port
    inputs: list[int]  # packed beats, image after image
    expected: list[int]
    timing: dict
    seed: int
    max_cycles: dict

    @property
    def images(self) -> int:
        return len(self.inputs) // self.inp.beats


def load_suite() -> Suite:
    root = Path(os.environ.get("CS_SUITE", Path(__file__).parent))
    meta = json.loads((root / "suite.json").read_text())

    def beats(name: str) -> list[int]:
        lines = (root / meta["vectors"][name]).read_text().split()
        return [int(v, 16) for v in lines]

    seed = int(os.environ.get("CS_SEED") or meta["seed"])
    return Suite(Port(**meta["input"]), Port(**meta["output"]), beats("inputs"),
                 beats("expected"), meta["timing"], seed, meta["max_cycles"])


@dataclass
class Run:
    """What one streaming pass saw: the edge of every transfer and the output beats."""

    in_edges: list[int] = field(default_factory=list)
    out_edges: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    out_times: list[float] = field(default_factory=list)  # ns, for finding it in waves
    edges: int = 0
    first_bad: int | None = None  # index of the first output beat that differs


async def reset(dut) -> None:
    """Hold rst for RESET_CYCLES rising edges with both streams idle; release it between
    edges, so the next rising edge is edge 0 of the run."""
    dut.rst.value = 1
    dut.in_valid.value = 0
    dut.out_ready.value = 0
    for _ in range(RESET_CYCLES):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def stream(dut, suite: Suite, *, rng: random.Random | None, max_edges: int,
                 stop_after_inputs: int | None = None) -> Run:
    """Offer the suite's input beats and take output beats, one decision per clock edge
    (random gaps and stalls when rng is given). Stops when every expected output beat
    arrived, MARGIN edges after the first wrong one, after max_edges, or once
    stop_after_inputs input beats were accepted."""
    run = Run()
    k = 0
    offering = False
    total_out = len(suite.expected)
    while len(run.outputs) < total_out and run.edges < max_edges:
        if stop_after_inputs is not None and k >= stop_after_inputs:
            break
        if run.first_bad is not None and run.edges >= run.out_edges[run.first_bad] + MARGIN:
            break
        if k < len(suite.inputs) and not offering and (rng is None or rng.random() < 0.6):
            offering = True
            dut.in_data.value = suite.inputs[k]
        ready = rng is None or rng.random() < 0.55
        dut.in_valid.value = int(offering)
        dut.out_ready.value = int(ready)
        await ReadOnly()
        if offering and dut.in_ready.value == 1:
            run.in_edges.append(run.edges)
            k += 1
            offering = False
        if ready and dut.out_valid.value == 1:
            value = dut.out_data.value.to_unsigned()
            if run.first_bad is None and value != suite.expected[len(run.outputs)]:
                run.first_bad = len(run.outputs)
            run.out_edges.append(run.edges)
            run.outputs.append(value)
            run.out_times.append(get_sim_time(unit="ns"))
        await FallingEdge(dut.clk)
        run.edges += 1
    dut.in_valid.value = 0
    return run


def check_values(name: str, suite: Suite, run: Run) -> dict | None:
    """The first difference between the output beats and the golden ones, as a report."""
    out = suite.out
    if run.first_bad is not None:
        j = run.first_bad
        got, want = out.unpack(run.outputs[j]), out.unpack(suite.expected[j])
        channel = next(c for c in range(out.channels) if got[c] != want[c])
        sample, beat = divmod(j, out.beats)
        return {"test": name, "kind": "value", "sample": sample, "beat": beat,
                "channel": channel, "output_index": channel * out.beats + beat,
                "expected": want[channel], "actual": got[channel],
                "sim_time_ns": run.out_times[j],
                "message": f"first mismatch: sample {sample}, output index "
                           f"{channel * out.beats + beat} (beat {beat}, channel {channel}): "
                           f"expected {want[channel]}, actual {got[channel]} "
                           f"(at {run.out_times[j]:.0f} ns)"}
    if len(run.outputs) < len(suite.expected):
        sample = len(run.outputs) // out.beats
        return {"test": name, "kind": "missing", "sample": sample,
                "received": len(run.outputs), "expected_beats": len(suite.expected),
                "cycles": run.edges,
                "message": f"only {len(run.outputs)} of {len(suite.expected)} output beats "
                           f"after {run.edges} cycles: sample {sample} never completed "
                           "(deadlock or lost beats)"}
    return None


def check_timing(name: str, suite: Suite, run: Run) -> dict | None:
    """Every image's latency and every interval against the expected cycles."""
    ib, ob = suite.inp.beats, suite.out.beats
    n = suite.timing["images"]
    last = [run.out_edges[(i + 1) * ob - 1] for i in range(n)]
    latencies = [last[i] - run.in_edges[i * ib] for i in range(n)]
    intervals = [last[i] - last[i - 1] for i in range(1, n)]
    for what, got, want in (("latency", latencies, suite.timing["latencies"]),
                            ("interval", intervals, suite.timing["intervals"])):
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if g != w:
                image = i if what == "latency" else i + 1
                return {"test": name, "kind": what, "sample": image, "expected": w,
                        "actual": g, "measured_latencies": latencies,
                        "measured_intervals": intervals,
                        "message": f"{what} moved: image {image} expected {w} cycles, "
                                   f"measured {g}"}
    return None


def finish(name: str, problem: dict | None, extra: dict | None = None) -> None:
    """Write the report and fail with its message."""
    report = {"test": name, "ok": problem is None, "problem": problem, **(extra or {})}
    path = os.environ.get("CS_REPORT")
    if path:
        Path(path).write_text(json.dumps(report, indent=1))
    assert problem is None, problem["message"]


def start(dut) -> None:
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())


@cocotb.test()
async def timing(dut) -> None:
    suite = load_suite()
    start(dut)
    await reset(dut)
    run = await stream(dut, suite, rng=None, max_edges=suite.max_cycles["timing"])
    problem = check_values("timing", suite, run)
    if problem is None:
        problem = check_timing("timing", suite, run)
    finish("timing", problem, {"cycles": run.edges})


@cocotb.test()
async def backpressure(dut) -> None:
    suite = load_suite()
    start(dut)
    await reset(dut)
    run = await stream(dut, suite, rng=random.Random(suite.seed),
                       max_edges=suite.max_cycles["backpressure"])
    finish("backpressure", check_values("backpressure", suite, run),
           {"cycles": run.edges, "seed": suite.seed})


@cocotb.test()
async def reset_mid_image(dut) -> None:
    suite = load_suite()
    start(dut)
    await reset(dut)
    rng = random.Random(suite.seed + 1)
    # half way through the second image (through the first when there is one image)
    cut = suite.inp.beats * min(1, suite.images - 1) + max(1, suite.inp.beats // 2)
    await stream(dut, suite, rng=rng, max_edges=suite.max_cycles["backpressure"],
                 stop_after_inputs=cut)
    await reset(dut)
    run = await stream(dut, suite, rng=rng, max_edges=suite.max_cycles["backpressure"])
    finish("reset_mid_image", check_values("reset_mid_image", suite, run),
           {"cycles": run.edges, "reset_after_input_beats": cut})
