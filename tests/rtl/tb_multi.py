"""cocotb testbench for many generated accelerators side by side (multinet.py's wrapper
`cs_multi`: ports <prefix>in_valid, <prefix>in_ready, ... per network, one clock and
reset). Each network is driven as codesign.sim.tb_network drives one: in timing mode
the input is always valid and the output always ready, so every transfer edge can be
compared with codesign.rtl.latency; in stress mode random input gaps and output backpressure
(seeded per network) must not change a value. All networks start on the same edge.

Configuration (environment, set by multinet.py): CS_MULTI (JSON: mode, seed, max_edges,
and per network its prefix and stimulus npz: inputs, expected, widths); CS_RESULT (JSON
out: per prefix, the transfer edges and every output beat as read)."""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
from codesign.sim.tb_network import pack


class _Port:
    """One network's stream ports and its driver / sink state."""

    def __init__(self, dut, prefix: str, stim: str, stress: bool, seed: int) -> None:
        data = np.load(stim)
        inputs, expected = data["inputs"], data["expected"]
        in_w = int(data["widths"][0])
        self.beats = [pack(inputs[i, b], in_w) for i in range(inputs.shape[0])
                      for b in range(inputs.shape[1])]
        self.total_out = expected.shape[0] * expected.shape[1]
        self.in_valid = getattr(dut, f"{prefix}in_valid")
        self.in_ready = getattr(dut, f"{prefix}in_ready")
        self.in_data = getattr(dut, f"{prefix}in_data")
        self.out_valid = getattr(dut, f"{prefix}out_valid")
        self.out_ready = getattr(dut, f"{prefix}out_ready")
        self.out_data = getattr(dut, f"{prefix}out_data")
        self.stress = stress
        self.rng = random.Random(seed)
        self.k = 0
        self.offering = False
        self.ready = False
        self.in_edges: list[int] = []
        self.out_edges: list[int] = []
        self.outputs: list[int] = []
        self.last_valid = self.last_ready = -1

    @property
    def done(self) -> bool:
        return len(self.outputs) >= self.total_out

    def drive(self) -> None:
        if self.k < len(self.beats) and not self.offering and (
                not self.stress or self.rng.random() < 0.6):
            self.offering = True
            self.in_data.value = self.beats[self.k]
        self.ready = (not self.stress) or self.rng.random() < 0.55
        valid, ready = int(self.offering), int(self.ready)
        if valid != self.last_valid:  # only changes are written (fewer VPI calls)
            self.in_valid.value = self.last_valid = valid
        if ready != self.last_ready:
            self.out_ready.value = self.last_ready = ready

    def sample(self, edge: int) -> None:
        if self.offering and self.in_ready.value == 1:
            self.in_edges.append(edge)
            self.k += 1
            self.offering = False
        if self.ready and self.out_valid.value == 1:
            self.out_edges.append(edge)
            self.outputs.append(self.out_data.value.to_unsigned())


@cocotb.test()
async def stream_many(dut) -> None:
    with open(os.environ["CS_MULTI"]) as f:
        cfg = json.load(f)
    stress = cfg["mode"] == "stress"
    ports = {m["prefix"]: _Port(dut, m["prefix"], m["stim"], stress, cfg["seed"] + i)
             for i, m in enumerate(cfg["members"])}
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for p in ports.values():
        p.in_valid.value = p.last_valid = 0
        p.in_data.value = 0
        p.out_ready.value = p.last_ready = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    active = list(ports.values())
    edge = 0
    while active and edge < cfg["max_edges"]:
        for p in active:
            p.drive()
        await ReadOnly()
        for p in active:
            p.sample(edge)
        await FallingEdge(dut.clk)
        edge += 1
        if any(p.done for p in active):
            for p in active:
                if p.done:  # idle from here: nothing offered, nothing taken
                    p.in_valid.value = 0
                    p.out_ready.value = 0
            active = [p for p in active if not p.done]
    result = {prefix: {"in_edges": p.in_edges, "out_edges": p.out_edges,
                       "outputs": p.outputs, "complete": p.done}
              for prefix, p in ports.items()}
    result["edges"] = edge  # type: ignore[assignment]
    with open(os.environ["CS_RESULT"], "w") as f:
        json.dump(result, f)
