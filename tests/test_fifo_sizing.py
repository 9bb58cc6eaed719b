"""Fork FIFOs sized from the branch skew (codesign.rtl.latency.fifo_depths): every FIFO
at least MIN_FIFO_DEPTH and never deeper than the old bound (every beat the engines past
the fork hold); every output transfer, hence the interval and latency, the same as with
the bound; one beat less moves an output or deadlocks (the depth is the skew, no more);
and the memory goes to LUTRAM or block RAM by codesign.hwrules.fifo_plan."""

from __future__ import annotations

import math

import pytest
from test_latency import random_plan  # tests/ is on sys.path (rootdir conftest)

from codesign.devices import get_device
from codesign.hwrules import fifo_plan, luts_per_block
from codesign.rtl import network
from codesign.rtl.latency import NoFixpoint, _fixpoint, compose, expand_pipelines, simulate
from codesign.rtl.network import MIN_FIFO_DEPTH, Plan


@pytest.fixture(scope="module")
def bound_plans():
    """Random timing plans with forks, sized and as the old bound sized them (not the
    seeds whose plans random_plan gives pipeline stages after planning: the planner
    sizes the forks of the plan it makes)."""
    sized = [(seed, random_plan(seed)) for seed in range(90) if seed % 3 != 2]
    sized = [(s, p) for s, p in sized if any(e.kind == "fifo" for e in p.engines)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(network._Planner, "_size_forks", lambda self, plan: None)
        bound = {s: random_plan(s) for s, _ in sized}
    return [(p, bound[s]) for s, p in sized]


def _fifos(plan: Plan) -> dict[str, int]:
    return {e.name: e.timing["depth"] for e in plan.engines if e.kind == "fifo"}


def test_depth_is_the_measured_skew_and_no_output_moves(bound_plans):
    assert len(bound_plans) >= 15
    shallower = 0
    for sized, bound in bound_plans:
        old, new = _fifos(bound), _fifos(sized)
        for name, depth in new.items():
            assert MIN_FIFO_DEPTH <= depth <= old[name]
            shallower += depth < old[name]
        for images in (1, 3, 9):
            a, b = compose(bound, images), compose(sized, images)
            assert a.out_edges == b.out_edges
            assert a.summary() == b.summary()
        s = simulate(sized, 2)  # the per-edge reference: no deadlock, same edges
        assert s.out_edges == compose(sized, 2).out_edges
    assert shallower > 15


def test_one_beat_less_moves_a_reader(bound_plans):
    """The depth is the skew, no more: any FIFO one beat shallower makes some reader of
    a fork take a beat later (or deadlocks)."""

    def reads(plan: Plan) -> list[list[int]]:
        fires = _fixpoint(expand_pipelines(plan), 12, None).fires
        return [fires[e.output].tolist() for e in plan.engines if e.kind == "fifo"]

    tried = 0
    for sized, _ in bound_plans[:8]:
        ref = reads(sized)
        for e in sized.engines:
            if e.kind != "fifo" or e.timing["depth"] <= MIN_FIFO_DEPTH:
                continue
            e.timing["depth"] -= 1
            try:
                assert reads(sized) != ref, e.name
            except NoFixpoint:
                pass  # deadlocks: too shallow as well
            e.timing["depth"] += 1
            tried += 1
    assert tried >= 4


def test_fifo_memory_rule_boundary():
    """LUTRAM while its LUT share of the part is below the block RAM's share. xc7z020:
    53,200 LUTs / 280 RAMB18 = 190 LUTs per block; a 48-bit FIFO takes two RAMB18 (two
    36-bit slices) up to 512 deep = 380 LUTs' worth, and ceil(48 / 3) = 16 RAM64M (4 LUTs)
    per 64 words: 320 LUTs at 320 deep, 384 at 321 (a sixth bank)."""
    z = get_device("xc7z020")
    assert luts_per_block(z) == 53_200 / 280
    assert fifo_plan(320, 48, z).style == "distributed"
    assert fifo_plan(320, 48, z).luts == 5 * 16 * 4
    block = fifo_plan(321, 48, z)
    assert (block.style, block.blocks, block.luts) == ("block", 2, 0)
    # one bank of distributed RAM is never block RAM, however wide
    assert fifo_plan(64, 512, z).style == "distributed"
    assert fifo_plan(64, 512, z).luts == math.ceil(512 / 3) * 4
    # ECP5: DPR16X4 (16 x 4) counted as 4 LUT4s; lfe5u-25f has 24,288 LUTs / 56 blocks
    e = get_device("lfe5u-25f")
    per = 24_288 / 56
    banks = math.ceil(2 * per / (12 * 4))  # 2 blocks against 12 DPR16X4 per 16 words
    assert fifo_plan(16 * (banks - 1), 48, e).style == "distributed"
    assert fifo_plan(16 * banks, 48, e).style == "block"


def test_cifar_size_residual_block_folded_to_20k_cycles():
    """The issue's reference shape (32x32x3, conv 16/32 with pools, a basic block at 32
    channels on 8x8, conv 64, global pool, dense) folded to about 20,000 cycles per
    image: the skip holds the block's skew, tens of beats where the bound built 147, the
    block's own reader the minimum; the output edges are the bound's."""
    from torch import nn

    from codesign.ir import Graph
    from codesign.rtl.latency import network_timing
    from codesign.rtl.network import plan_timing
    from codesign.zoo import BasicBlock

    def cbr(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    model = nn.Sequential(*cbr(3, 16), nn.MaxPool2d(2), *cbr(16, 32), nn.MaxPool2d(2),
                          BasicBlock(32), *cbr(32, 64), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(64, 10)).eval()
    graph = Graph.from_torch(model, (3, 32, 32))
    reuse = {layer.name: min(rf, layer.terms)
             for layer, rf in zip(graph.weighted, (16, 61, 192, 192, 144, 64), strict=True)}
    sized, bound = plan_timing(graph, reuse), plan_timing(graph, reuse, size_forks=False)
    depths = sorted(_fifos(sized).values())
    assert depths[0] == MIN_FIFO_DEPTH and 2 * (8 + 1) <= depths[1] < 40
    assert sorted(_fifos(bound).values()) == [147, 147]
    a, b = network_timing(sized, 3), network_timing(bound, 3)
    assert a.out_edges == b.out_edges
    assert 18_000 <= a.summary()["interval"] <= 22_000
