"""`codesign synth` of a folded design whose weight ROMs are in block RAM (weight_rom:
bram, issue 21): Yosys builds each shallow ROM as a block RAM and the RAMB18/RAMB36 it
reports are exactly `codesign cost`'s BRAM (one small design, cached by content)."""

from __future__ import annotations

from codesign.cost.estimate import estimate_structural
from codesign.devices import get_device
from codesign.qnet import QuantizedNet
from codesign.synth.run import synthesize

from .conftest import tiny_qnet


def test_block_ram_weights_counted_as_yosys_builds_them(tmp_path):
    base = tiny_qnet()
    design = (base.design.with_layer("conv", reuse=3, weight_rom="bram")
              .with_layer("fc", weight_rom="bram"))  # fc already at reuse 2
    q = QuantizedNet.from_float(base.graph, design)
    dev = get_device("xc7z020")
    est = estimate_structural(q, dev)
    syn = synthesize(q, tmp_path, dev)
    assert est["bram"] == syn["bram"] > 0  # RAMB18 halves, as Yosys maps them
    # the same layers with LUT ROMs: no block RAM at all
    lut = QuantizedNet.from_float(base.graph, design.with_layer("conv", weight_rom="lut")
                                  .with_layer("fc", weight_rom="lut"))
    assert estimate_structural(lut, dev)["bram"] == 0
    assert synthesize(lut, tmp_path / "l", dev)["bram"] == 0
