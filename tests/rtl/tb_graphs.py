"""cocotb testbench for generated adder-graph modules (codesign.rtl.adder_sv): the top
`tb_graphs` holds one module per case, ports x<k> / y<k>. For every vector the inputs are
set, the logic settles, and every output is read back; the runner (test_adder_graph.py)
compares them with numpy's x @ K + b.

Configuration (environment): CS_VECTORS (JSON: per case the packed x values), CS_RESULT
(JSON out: per case the packed y values read)."""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.triggers import Timer


@cocotb.test()
async def graphs_compute(dut) -> None:
    with open(os.environ["CS_VECTORS"]) as f:
        cases = json.load(f)
    got: list[list[int]] = []
    for k, xs in enumerate(cases):
        x_port, y_port = getattr(dut, f"x{k}"), getattr(dut, f"y{k}")
        out = []
        for x in xs:
            x_port.value = int(x)
            await Timer(1, unit="ns")
            out.append(y_port.value.to_unsigned())
        got.append(out)
    with open(os.environ["CS_RESULT"], "w") as f:
        json.dump(got, f)
