"""The allocator's per-candidate costs (codesign.alloc.layercost) against `codesign cost`'s
structural estimate of the designs they describe, their disk cache, and the error of
the interpolated widths against engines planned at those widths."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from codesign.alloc.candidates import build_candidates
from codesign.alloc.design import accum_widths
from codesign.alloc.layercost import StructuralLayerCosts
from codesign.cost.estimate import estimate_structural
from codesign.data import load_dataset
from codesign.devices import get_device
from codesign.ir import Graph
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, calibrate_design
from tests.alloc.conftest import fake_table

BITS = (2, 3, 4, 6, 8)
DEVICE = "xc7z020"
ROMS = ("lut", "bram")


@pytest.fixture(scope="module")
def setup(digits_cnn_trained, tmp_path_factory):
    """digits_cnn's whole candidate table costed once into a fresh cache (the allocator's
    call: every width, reuse 1 and 2, both multiplier styles, both weight ROM styles)."""
    graph = Graph.from_torch(digits_cnn_trained, (1, 8, 8))
    x = load_dataset("digits").x_train[:512]
    cache = tmp_path_factory.mktemp("costcache")
    costs = StructuralLayerCosts(graph, get_device(DEVICE), x, cache=cache)
    cands = build_candidates(graph, fake_table(graph, "digits_cnn", bits=BITS),
                             costs.layer_costs, reuse=(1, 2), model="digits_cnn",
                             accum=accum_widths(graph, x), roms=ROMS)
    return graph, x, cache, costs, cands


def _design(graph, x, w, a, reuse, multiplier, rom="auto"):
    """A design as the allocator writes it: calibrated widths, then reuse and styles."""
    dev = get_device(DEVICE)
    d = calibrate_design(graph, x, Widths(w, a), device=dev.part,
                         clock_mhz=dev.default_clock_mhz)
    for layer in graph.weighted:
        d = d.with_layer(layer.name, reuse=reuse, multiplier=multiplier, weight_rom=rom)
    return d


def _allocator_total(graph, cands, design) -> dict[str, float]:
    """The sum over layers of the candidate costs this design picks (the solver's rows)."""
    total = dict.fromkeys(("lut", "ff", "dsp", "bram"), 0.0)
    for lc in cands.layers:
        x_bits = (design.input.width if lc.name == "input"
                  else design.type_of(graph[lc.name].inputs[0]).width)
        sel = (lc.x_bits == x_bits) & (lc.out_bits == design.type_of(lc.name).width)
        if lc.params:
            impl = design[lc.name]
            sel &= ((lc.w_bits == impl.weight.width) & (lc.reuse == impl.reuse)
                    & (lc.dsp == (impl.multiplier == "dsp")) & (lc.rom == impl.weight_rom))
        (i,) = np.flatnonzero(sel)
        for k in total:
            total[k] += lc.cost[k][i]
    return total


@pytest.mark.parametrize("w, a, reuse, multiplier, rom", [
    (3, 6, 1, "lut", "auto"),  # adder graphs at interpolated widths
    (6, 4, 2, "lut", "lut"),  # MACs with a LUT ROM
    (6, 4, 2, "lut", "bram"),  # the same in block RAM
    (4, 6, 1, "dsp", "auto"),  # a `*` by constants that may map to DSPs
    (8, 8, 2, "dsp", "bram"),
    (3, 8, 2, "dsp", "lut"),  # a width interpolated between planned ones
])
def test_allocator_cost_is_codesign_costs_estimate(setup, w, a, reuse, multiplier, rom):
    graph, x, _, _, cands = setup
    design = _design(graph, x, w, a, reuse, multiplier, rom)
    got = _allocator_total(graph, cands, design)
    want = estimate_structural(QuantizedNet.from_float(graph, design), get_device(DEVICE))
    assert got["dsp"] == want["dsp"] and got["bram"] == want["bram"]
    assert (got["bram"] > 0) == (rom == "bram")
    for k in ("lut", "ff"):
        assert got[k] == pytest.approx(want[k], rel=0.05), k


def test_a_second_run_reads_the_cache(setup):
    graph, x, cache, costs, cands = setup
    assert costs.solved > 0 and list((cache / "layercost").glob("*.json"))
    again = StructuralLayerCosts(graph, get_device(DEVICE), x, cache=cache)
    cands2 = build_candidates(graph, fake_table(graph, "digits_cnn", bits=BITS),
                              again.layer_costs, reuse=(1, 2), model="digits_cnn",
                              accum=accum_widths(graph, x), roms=ROMS)
    assert again.solved == 0  # nothing planned: every engine came from the cache
    for a, b in zip(cands.layers, cands2.layers, strict=True):
        for k in a.cost:
            np.testing.assert_array_equal(a.cost[k], b.cost[k])
    # other weights are another entry
    layer = graph.weighted[1]
    moved = dataclasses.replace(layer, weight=layer.weight * 1.5)
    assert again._key(moved) != again._key(layer)


def test_interpolated_widths_are_close_to_planned_ones(setup):
    """conv2d_0's adder graphs (RF 1, LUT style: the engines the table interpolates)
    against the engine planned at each width; the grid's own points are the graph
    solved at the widest input, re-ranged (close too)."""
    graph, _, _, costs, _ = setup
    layer = graph["conv2d_0"]
    table = costs._tables[layer.name]
    errors = []
    for w in BITS:
        for xb in BITS:
            entry = table[(w, xb, 1, False, "auto")]
            exact = costs._core(layer, w, xb, 1, False, "auto")
            if len(entry) > 2 and entry[2] == "exact":  # planned: identical
                assert entry[0] == exact[0]
                continue
            for j in (0, 1):  # LUT, FF
                errors.append(abs(entry[0][j] - exact[0][j]) / exact[0][j])
            assert entry[0][2:4] == exact[0][2:4]  # DSP, BRAM
    assert errors and max(errors) < 0.10 and np.mean(errors) < 0.05


def test_a_held_out_width_of_the_wider_conv_is_close(setup):
    """conv2d_4 (72x16): its RF 1 table solves the narrow half of the widths and the
    widest, each once (re-ranged across inputs); width 6 is interpolated on CSD digits
    and lands within 5% of the engine planned there."""
    graph, _, _, costs, _ = setup
    layer = graph["conv2d_4"]
    entry = costs._tables[layer.name][(6, 8, 1, False, "auto")]
    assert len(entry) == 2  # interpolated, not planned
    exact = costs._core(layer, 6, 8, 1, False, "auto")
    for j in (0, 1):  # LUT, FF
        assert entry[0][j] == pytest.approx(exact[0][j], rel=0.05)
