"""The closed-form cycle model (codesign.rtl.latency.compose) against the per-edge
handshake simulation (codesign.rtl.latency.simulate, itself checked edge for edge against
Verilator in tests/rtl): every input and output transfer edge equal, on the zoo networks
at several reuse factors, on random qnets' plans and on hundreds of random timing plans
(chains, strides, padding, pools, global average pools, 1-D convs, residual forks and
joins, three-way forks, a stream added to itself, reuse factors up to a layer's terms,
extra pipeline stages)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from rtl.randnet import random_qnet  # tests/ is on sys.path (rootdir conftest)

from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.layers import pool_out
from codesign.rtl.engine_kinds import KINDS, NEG, scan, slope_max
from codesign.rtl.latency import NoFixpoint, compose, network_timing, simulate
from codesign.rtl.network import Plan, plan_network, plan_timing
from codesign.zoo import ZOO, build_model


def _same(plan: Plan, images: int) -> None:
    a, b = simulate(plan, images), compose(plan, images)
    assert b.in_edges == a.in_edges
    assert b.out_edges == a.out_edges
    assert b.summary() == a.summary()


# -- random timing plans -----------------------------------------------------------------
class _RandomGraph:
    """A random float graph (zero weights: only shapes matter for cycles)."""

    def __init__(self, seed: int) -> None:
        self.r = np.random.default_rng(seed)
        self.layers: list[L.Layer] = []
        self.n = 0

    def _name(self, kind: str) -> str:
        self.n += 1
        return f"{kind}{self.n}"

    def _add(self, layer: L.Layer) -> tuple[str, tuple[int, ...]]:
        self.layers.append(layer)
        return layer.name, layer.out_shape

    def conv(self, src, shape, cout=None, k=None, s=None, p=None, relu=None):
        r = self.r
        c, h, w = shape
        k = int(r.integers(1, 4)) if k is None else k
        p = int(r.integers(0, 2)) if p is None else p
        s = int(r.integers(1, 3)) if s is None else s
        k = min(k, h + 2 * p, w + 2 * p)
        cout = int(r.integers(1, 4)) if cout is None else cout
        out = (cout, pool_out(h, k, s, p), pool_out(w, k, s, p))
        src, shape = self._add(L.Conv2d(self._name("conv"), (src,), out,
                                        weight=np.zeros((cout, c, k, k)), bias=np.zeros(cout),
                                        stride=(s, s), padding=(p, p)))
        if relu if relu is not None else r.random() < 0.6:
            src, shape = self._add(L.ReLU(self._name("relu"), (src,), shape))
        return src, shape

    def residual(self, src, shape):
        r = self.r
        if r.random() < 0.1:  # a stream added to itself: two FIFOs, one join
            out, shape = self._add(L.Add(self._name("add"), (src, src), shape))
            return out, shape
        mid, _ = self.conv(src, shape, shape[0], 3, 1, 1)
        k = int(r.choice([1, 3]))
        mid, _ = self.conv(mid, shape, shape[0], k, 1, k // 2)
        kind = r.integers(0, 3)
        if kind == 0:  # three readers: a second branch joins first
            other, _ = self.conv(src, shape, shape[0], 1, 1, 0)
            mid, _ = self._add(L.Add(self._name("add"), (mid, other), shape))
        elif kind == 1:  # the skip through a relu engine
            src, _ = self._add(L.ReLU(self._name("relu"), (src,), shape))
        out, shape = self._add(L.Add(self._name("add"), (mid, src), shape))
        if r.random() < 0.5:
            out, shape = self._add(L.ReLU(self._name("relu"), (out,), shape))
        return out, shape

    def pool(self, src, shape):
        r = self.r
        c, h, w = shape
        k = int(r.integers(2, min(3, h, w) + 1))
        s = int(r.integers(1, k + 1))
        u = r.random()
        if u >= 0.8:  # a global average pool: an accumulator engine
            return self._add(L.GlobalAvgPool2d(self._name("gap"), (src,), (c, 1, 1),
                                               kernel=(h, w), stride=(h, w)))
        cls = L.MaxPool2d if u < 0.5 else L.AvgPool2d
        out = (c, pool_out(h, k, s), pool_out(w, k, s))
        return self._add(cls(self._name("pool"), (src,), out, kernel=(k, k), stride=(s, s)))

    def image_net(self) -> Graph:
        r = self.r
        shape = (int(r.integers(1, 4)), int(r.integers(3, 10)), int(r.integers(3, 10)))
        self.layers = [L.Input("input", (), shape)]
        src = "input"
        for _ in range(int(r.integers(1, 6))):
            step = r.random()
            if step < 0.4:
                src, shape = self.conv(src, shape)
            elif step < 0.7 and min(shape[1:]) >= 2:
                src, shape = self.residual(src, shape)
            elif min(shape[1:]) >= 2:
                src, shape = self.pool(src, shape)
        return self._head(src, shape)

    def sequence_net(self) -> Graph:
        r = self.r
        c, w = int(r.integers(1, 4)), int(r.integers(4, 16))
        self.layers = [L.Input("input", (), (c, w))]
        src, shape = "input", (c, w)
        for _ in range(int(r.integers(1, 4))):
            k, s, p = int(r.integers(1, 4)), int(r.integers(1, 3)), int(r.integers(0, 2))
            k = min(k, shape[1] + 2 * p)
            cout = int(r.integers(1, 4))
            out = (cout, pool_out(shape[1], k, s, p))
            src, shape = self._add(L.Conv1d(self._name("conv"), (src,), out,
                                            weight=np.zeros((cout, shape[0], k)),
                                            bias=np.zeros(cout), stride=s, padding=p))
            if r.random() < 0.5:
                src, shape = self._add(L.ReLU(self._name("relu"), (src,), shape))
        return self._head(src, shape)

    def _head(self, src, shape) -> Graph:
        r = self.r
        n = int(np.prod(shape))
        src, _ = self._add(L.Flatten(self._name("flatten"), (src,), (n,)))
        for _ in range(int(r.integers(0, 3))):
            out = int(r.integers(1, 6))
            src, _ = self._add(L.Dense(self._name("dense"), (src,), (out,),
                                       weight=np.zeros((out, n)), bias=np.zeros(out)))
            n = out
            if r.random() < 0.3:
                src, _ = self._add(L.ReLU(self._name("relu"), (src,), (n,)))
        if len(self.layers) == 2:  # a graph ends in an engine
            src, _ = self._add(L.Dense(self._name("dense"), (src,), (2,),
                                       weight=np.zeros((2, n)), bias=np.zeros(2)))
        return Graph(tuple(self.layers))

    def reuse(self, graph: Graph) -> dict[str, int]:
        r = self.r
        return {layer.name: int(r.integers(1, min(layer.terms, 9) + 1)) if r.random() < 0.6
                else 1 for layer in graph.weighted}


def random_plan(seed: int) -> Plan:
    gen = _RandomGraph(seed)
    graph = gen.sequence_net() if seed % 5 == 4 else gen.image_net()
    plan = plan_timing(graph, gen.reuse(graph))
    if seed % 3 == 2:  # extra pipeline stages on some window engines (i9pipe's PIPE)
        for e in plan.engines:
            if e.kind == "window" and gen.r.random() < 0.5:
                e.timing["PIPE"] = int(gen.r.integers(1, 4))
    return plan


def test_random_plans_equal_the_simulation():
    start = time.perf_counter()
    kinds: set[str] = set()
    forks = 0
    for seed in range(300):
        plan = random_plan(seed)
        kinds |= {e.kind for e in plan.engines}
        forks += any(e.kind == "fifo" for e in plan.engines)
        _same(plan, 1 + seed % 3)
    assert kinds == set(KINDS) and forks > 50  # every kind, many residual joins
    assert time.perf_counter() - start < 120


def test_many_images_periodic_regime():
    """Past PROBE_IMAGES the closed form solves a few images and extends the periodic
    regime: still every edge of every image equal, on plans whose fork/join loops bind."""
    checked = 0
    for seed in range(200):
        plan = random_plan(seed)
        if not any(e.kind == "fifo" for e in plan.engines):
            continue
        _same(plan, 20)
        checked += 1
        if checked == 15:
            break
    assert checked == 15


# -- zoo networks and random qnets ------------------------------------------------------
@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_networks_at_several_reuse_factors(name):
    graph = Graph.from_torch(build_model(name), ZOO[name].input_shape)
    r = np.random.default_rng(len(name))
    settings = [{}, {w.name: min(3, w.terms) for w in graph.weighted},
                {w.name: int(r.integers(1, min(w.terms, 12) + 1)) for w in graph.weighted}]
    if name.startswith("digits"):  # the slowest sharing (the simulation takes seconds)
        settings.append({w.name: w.terms for w in graph.weighted})
    for reuse in settings:
        _same(plan_timing(graph, reuse), 2)


@pytest.mark.parametrize("seed", range(12))
def test_random_qnets_equal_the_simulation(seed):
    """The planner's own plans (adder-graph engines, lossy MACs), and its timing-only
    plan, given the pipeline stages of its adder graphs, equals the full one."""
    qnet, _ = random_qnet(seed, seed % 2 == 0, seed % 3 == 0)
    plan = plan_network(qnet)
    _same(plan, 3)
    pipe = {e.layers[0]: e.timing["PIPE"] for e in plan.engines if "PIPE" in e.timing}
    timing_only = plan_timing(qnet.graph, {n: i.reuse for n, i in qnet.design.layers.items()},
                              pipe)
    assert [(e.kind, e.timing, e.inputs, e.output, e.layers) for e in timing_only.engines] == \
        [(e.kind, e.timing, e.inputs, e.output, e.layers) for e in plan.engines]


def test_closed_form_over_a_manifest_round_trip():
    plan = random_plan(7)
    again = Plan.from_json(plan.to_json())
    assert compose(again, 2).out_edges == simulate(plan, 2).out_edges


# -- pieces -----------------------------------------------------------------------------
def test_scan_and_slope_max_are_the_recurrences():
    r = np.random.default_rng(0)
    a = r.integers(-5, 30, 50)
    step = r.integers(1, 4, 50)
    x, want = scan(a, step), []
    for k in range(50):
        want.append(a[k] if k == 0 else max(want[-1] + step[k], a[k]))
    assert x.tolist() == want
    s = slope_max(a)
    assert s.tolist() == [max(a[i] + k - i for i in range(k + 1)) for k in range(50)]


def test_engine_alone_closed_form(digits_qnet8):
    """Alone, a window engine's first input, last output and interval are its kind's."""
    plan = plan_network(digits_qnet8)
    for e in plan.engines:
        s_in, s_out = plan.streams[e.inputs[0]], plan.streams[e.output]
        for rf in (1, 2, 5):
            e.timing = {**e.timing, "RF": rf}
            t = simulate(Plan([s_in, s_out], [e], s_in.id, s_out.id), 3)
            form = e.model.isolated(e.timing)
            assert t.in_edges[0] == form["first_input"]
            assert t.out_edges[s_out.beats - 1] == form["last_output"]
            assert t.intervals()[-1] == form["interval"] == e.cycles_per_image()


def test_a_deadlocking_network_is_refused_by_both():
    """A fork FIFO too shallow for its join: the closed form does not settle (NoFixpoint),
    network_timing falls back to the simulation, which names the deadlock."""
    for seed in range(300):
        plan = random_plan(seed)
        fifos = [e for e in plan.engines if e.kind == "fifo"]
        if not fifos:
            continue
        for e in fifos:
            e.timing = {**e.timing, "depth": 1}
        try:
            simulate(plan, 1)
        except RuntimeError:
            break
    else:
        pytest.fail("no random plan deadlocks with one-beat fork FIFOs")
    with pytest.raises(NoFixpoint, match="deadlocks"):
        compose(plan, 1, max_sweeps=60)
    with pytest.raises(RuntimeError, match="deadlocks"):
        network_timing(plan, 1)


def test_always_ready_sink_and_input_constraints():
    """NEG is "always": a relu alone takes one beat per edge and offers it one later."""
    take, offer = KINDS["relu"].closed_form({"beats": 4}, [np.zeros(4, dtype=np.int64)],
                                            np.full(4, NEG, dtype=np.int64))
    assert slope_max(np.maximum(take[0], 0)).tolist() == [0, 1, 2, 3]
    assert offer.tolist() == [1, 2, 3, 4]


def test_a_global_pool_waits_for_its_output_register():
    """An accumulator (cs_gap) takes an image's last beat only when its output register
    can load: behind a dense layer slower than its input (RF 6 over 3 beats per image)
    it stalls that beat, and the closed form puts every edge where the per-edge rules do."""
    graph = Graph((
        L.Input("input", (), (6, 1, 3)),
        L.GlobalAvgPool2d("gap", ("input",), (6, 1, 1), kernel=(1, 3), stride=(1, 3)),
        L.Flatten("flat", ("gap",), (6,)),
        L.Dense("fc", ("flat",), (2,), weight=np.zeros((2, 6)), bias=np.zeros(2))))
    plan = plan_timing(graph, {"fc": 6})
    assert [e.kind for e in plan.engines] == ["accumulate", "window"]
    t = simulate(plan, 5)
    _same(plan, 5)
    gaps = np.diff(t.in_edges)
    assert gaps.max() > 1  # the last beat of an image waited for the register
    assert t.summary()["interval"] == plan.engines[1].cycles_per_image() == 6
