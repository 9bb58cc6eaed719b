"""The exact solver against brute force, budgets, infeasibility messages."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from codesign.alloc import (
    Budget,
    Candidates,
    InfeasibleBudget,
    Solver,
    allocate,
    build_candidates,
    prune,
    synthetic_chain,
    tensor_groups,
)
from codesign.alloc.budget import parse_budget
from codesign.alloc.candidates import AllocationError
from codesign.devices import get_device
from codesign.models import load_model


def brute_force(cands: Candidates, limits: dict[str, float]) -> float | None:
    """Smallest total Omega over every consistent choice, by enumeration."""
    best = None
    for tbits in itertools.product(*(t.bits for t in cands.tensors)):
        options = []
        for layer in cands.layers:
            ok = layer.out_bits == tbits[layer.out_tensor]
            if layer.in_tensor is not None:
                ok &= layer.x_bits == tbits[layer.in_tensor]
            options.append(np.flatnonzero(ok))
        act = sum(float(t.omega[list(t.bits).index(b)])
                  for t, b in zip(cands.tensors, tbits, strict=True))
        for choice in itertools.product(*options):
            rows = list(zip(cands.layers, choice, strict=True))
            total = {k: sum(x.cost[k][i] for x, i in rows)
                     for k in ("lut", "ff", "dsp", "bram", "latency")}
            total["interval"] = max(x.cost["interval"][i] for x, i in rows)
            size = sum(x.params * x.w_bits[i] for x, i in rows)
            total["size"] = size
            total["wbits"] = size / cands.total_params
            if any(total[k] > v for k, v in limits.items()):
                continue
            omega = act + sum(float(x.omega[i]) for x, i in rows)
            if best is None or omega < best:
                best = omega
    return best


LIMIT_SETS = [("lut",), ("lut", "dsp"), ("latency", "ff"), ("wbits", "lut"),
              ("interval", "lut"), ("size", "bram", "dsp")]


@pytest.mark.parametrize("seed", range(6))
def test_exact_equals_brute_force_on_random_chains(seed):
    rng = np.random.default_rng(seed)
    cands = synthetic_chain(3, bits=(2, 4, 8), reuse=(1, 2), seed=seed, dsp=True)
    cands = Candidates([x.take(rng.random(len(x)) < 0.25) for x in cands.layers],
                       cands.tensors)
    keys = LIMIT_SETS[seed % len(LIMIT_SETS)]
    solver = Solver(cands, keys)
    for _ in range(3):
        limits = {}
        for k in keys:
            lo = solver.minimum(k, Budget({}))
            hi = solver.solve(Budget({}), "omega").cost[k]
            limits[k] = float(lo + rng.uniform(0, 1.2) * max(hi - lo, 1.0))
        expected = brute_force(cands, limits)
        got = solver.solve(Budget(limits))
        if expected is None:
            assert got is None
        else:
            assert got is not None
            assert got.omega == pytest.approx(expected, rel=1e-9, abs=1e-15)
            assert all(got.cost[k] <= v for k, v in limits.items())


def _cost_fn(name, w, x, o, r, d):
    """A deterministic made-up cost table for a real graph (per-layer, width dependent)."""
    h = sum(map(ord, name)) % 7 + 1
    lut = np.where(d, 10 + o, h * (w + 1) * x / r) + 2 * o
    return {"lut": lut, "ff": 3 * o + x, "dsp": np.where(d, h, 0), "bram": 0 * x,
            "latency": 2 + r * h, "interval": 8 * r}


def test_exact_equals_brute_force_on_a_real_graph(cnn_graph, make_table):
    table = make_table(cnn_graph, "digits_cnn", bits=(2, 8))
    cands = build_candidates(cnn_graph, table, _cost_fn, reuse=(1, 2), model="digits_cnn")
    solver = Solver(cands, ("lut", "dsp"))
    lo = solver.minimum("lut", Budget({"dsp": 3}))
    for cap in (lo, lo * 1.3, lo * 2):
        limits = {"lut": cap, "dsp": 3}
        assert solver.solve(Budget(limits)).omega == pytest.approx(
            brute_force(cands, limits), rel=1e-9)


def test_pruning_keeps_the_optimum():
    cands = synthetic_chain(4, bits=(2, 4, 8), reuse=(1, 2, 4), seed=3)
    small = prune(cands, ("lut",))
    assert small.size < cands.size
    for cap in (3000, 8000, 20000):
        a = Solver(cands, ("lut",)).solve(Budget({"lut": cap}))
        b = Solver(small, ("lut",)).solve(Budget({"lut": cap}))
        assert a.omega == pytest.approx(b.omega, rel=1e-9)


def test_residual_add_ties_both_inputs():
    graph = load_model("digits_resnet", progress=False).graph()
    groups, of_layer = tensor_groups(graph)
    assert of_layer["conv2d_3_conv2"] == of_layer["relu_2"]  # the first add's two sides
    assert of_layer["conv2d_5_conv2"] == of_layer["maxpool2d_4"] == of_layer["relu_3_relu2"]
    assert of_layer["add"] != of_layer["relu_2"]


def test_an_unfolded_batchnorm_is_refused_by_name():
    """The allocator never sees a BatchNorm (Graph.from_torch folds it into the conv):
    a graph that still has one is refused, naming the layer and what to do."""
    from codesign.errors import CodesignError
    from codesign.ir import layers as L
    from codesign.ir.graph import Graph

    graph = Graph((L.Input("input", (), (4,)),
                   L.BatchNorm("bn1", ("input",), (4,), scale=np.ones(4), shift=np.zeros(4))))
    with pytest.raises(CodesignError) as info:
        tensor_groups(graph)
    for part in ("allocator", "batchnorm", "'bn1'", "fold BatchNorm first"):
        assert part in str(info.value)


def test_infeasible_budget_names_the_smallest_feasible_one():
    cands = synthetic_chain(4, seed=5)
    solver = Solver(cands, ("lut", "dsp"))
    smallest = solver.minimum("lut", Budget({"dsp": 0}))
    with pytest.raises(InfeasibleBudget) as info:
        allocate(cands, Budget({"lut": smallest - 1, "dsp": 0}), solver=solver)
    assert f"lut >= {smallest:.6g}" in str(info.value)
    assert info.value.smallest["lut"] == smallest
    assert allocate(cands, Budget({"lut": smallest, "dsp": 0}), solver=solver).cost["lut"] \
        <= smallest


def test_budget_parsing():
    dev = get_device("xc7a35t")
    b = parse_budget("lut=0.5,dsp=0,ff=20%,bram=3,latency=900,size=2kb,wbits=4", dev)
    assert b.limits == {"lut": 0.5 * dev.lut, "dsp": 0, "ff": 0.2 * dev.ff, "bram": 3,
                        "latency": 900, "size": 16000, "wbits": 4}
    with pytest.raises(AllocationError, match="unknown budget key 'luts'.*valid keys"):
        parse_budget("luts=0.5", dev)
    with pytest.raises(AllocationError, match="not a number"):
        parse_budget("lut=lots", dev)
    with pytest.raises(AllocationError, match="latency is not a device resource"):
        parse_budget("latency=50%", dev)
    with pytest.raises(AllocationError, match="key=value"):
        parse_budget("lut", dev)


@pytest.mark.parametrize("seed", range(3))
def test_exact_equals_brute_force_with_a_fan_out(seed):
    """A tensor read by two layers (a residual skip's shape): not a chain, solver only."""
    from dataclasses import replace

    from codesign.alloc.chain import applies

    rng = np.random.default_rng(seed)
    base = synthetic_chain(3, bits=(2, 4, 8), reuse=(1, 2), seed=seed)
    layers = [x.take(rng.random(len(x)) < 0.3) for x in base.layers]
    layers[2] = replace(layers[2], in_tensor=1)  # l1 and l2 both read t1
    layers[2] = layers[2].take(np.isin(layers[2].x_bits, base.tensors[1].bits))
    cands = Candidates(layers, base.tensors)
    budget = Budget({"lut": float(sum(np.median(x.cost["lut"]) for x in layers))})
    assert not applies(cands, budget, "lut")
    got = Solver(cands, ("lut",)).solve(budget)
    expected = brute_force(cands, budget.limits)
    assert (got is None) == (expected is None)
    if got is not None:
        assert got.omega == pytest.approx(expected, rel=1e-9)


def test_reuse_above_a_layers_terms_is_never_a_candidate(cnn_graph, make_table):
    """The RTL engines share multipliers over a layer's terms only (rtl.py refuses a reuse
    above them), so a candidate with more would be costed and returned but never built."""
    from codesign.ir import layers as L

    table = make_table(cnn_graph, "digits_cnn", bits=(2, 8))
    cands = build_candidates(cnn_graph, table, _cost_fn, reuse=(1, 2, 16), model="digits_cnn")
    weighted = [x for x in cnn_graph if isinstance(x, L.WeightedLayer)]
    assert any(x.terms < 16 <= x.terms * x.out_channels for x in weighted)  # conv2d_0: 9
    terms = {x.name: x.terms for x in weighted}
    for layer in cands.layers:
        if layer.name in terms:
            assert layer.reuse.max() <= terms[layer.name], layer.name
            assert {1, 2} <= set(layer.reuse.tolist())
