"""Cycle model of the generated accelerator: predicted == what Verilator counts.

Every engine has a kind (codesign.rtl.engine_kinds: window, accumulate, relu, add, fifo) that owns
its cycle formulas. Over a network the engines hand beats to each other through
valid/ready, so a slow engine stalls its producers. Two models compose the kinds, both
with the input always valid and the sink always ready, both giving the edge of every
input and output transfer, hence the latency (first input accepted to last output of an
image) and the interval between images:

- `compose`: the closed form. Each kind maps offer/readiness edges to edges (max-plus
  recurrences over beat indices, numpy scans); the network is their least fixpoint.
  Milliseconds per network. What `network_timing` (the CLI, the RTL checks, the cost
  estimate) uses.
- `simulate`: the reference. Each kind's exact per-edge handshake rules (the same
  registers and ready equations as the RTL), one clock edge at a time. Proven against
  Verilator; tests/test_latency.py holds the closed form to it edge for edge.

Edge 0 is the first rising clock edge with reset low; every time is an edge index.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from codesign.rtl.engine_kinds import NEG, pipe_stages, slope_max
from codesign.rtl.network import Plan


@dataclass
class Timing:
    """Transfer edges of the network's input and output beats, and the per-image figures."""

    in_edges: list[int]
    out_edges: list[int]
    in_beats: int  # per image
    out_beats: int
    sweeps: int = field(default=0, compare=False)  # closed form: sweeps to its fixpoint

    @property
    def images(self) -> int:
        return len(self.out_edges) // self.out_beats

    def first_input(self, i: int) -> int:
        return self.in_edges[i * self.in_beats]

    def last_output(self, i: int) -> int:
        return self.out_edges[(i + 1) * self.out_beats - 1]

    def latencies(self) -> list[int]:
        """Per image: edges from its first input accepted to its last output transferred."""
        return [self.last_output(i) - self.first_input(i) for i in range(self.images)]

    def intervals(self) -> list[int]:
        """Edges between consecutive images' last outputs."""
        return [self.last_output(i) - self.last_output(i - 1) for i in range(1, self.images)]

    def summary(self) -> dict[str, int]:
        lat, ivl = self.latencies(), self.intervals()
        return {"latency": lat[0], "interval": ivl[-1] if ivl else 0,
                "total": self.last_output(self.images - 1) + 1}


def expand_pipelines(plan: Plan) -> Plan:
    """The plan with every pipelined engine (timing PIPE = P > 0: an adder graph
    registered for the clock, cs_graph_engine) split into its window, whose output
    register is stage 1, and P one-beat registers behind it: each stage loads when it is
    empty or the next one loads, exactly a cs_relu stage's handshake
    (engine_kinds.PassEngine). Both `simulate` and `compose` run on this plan."""
    if not any(pipe_stages(e.timing) for e in plan.engines):
        return plan
    streams = list(plan.streams)
    engines = []
    next_id = max(st.id for st in streams) + 1
    by_id = {st.id: st for st in streams}
    for e in plan.engines:
        stages = pipe_stages(e.timing)
        if not stages:
            engines.append(e)
            continue
        out = by_id[e.output]
        chain = []
        for _ in range(stages):
            streams.append(replace(out, id=next_id))
            chain.append(next_id)
            next_id += 1
        engines.append(replace(e, timing={**e.timing, "PIPE": 0}, output=chain[0]))
        for k, sid in enumerate(chain):
            engines.append(replace(e, name=f"{e.name}.stage{k + 2}", kind="relu",
                                   timing={"beats": out.beats}, inputs=(sid,),
                                   output=chain[k + 1] if k + 1 < stages else e.output,
                                   graph=None, stages=None))
    return replace(plan, streams=streams, engines=engines)


def _topo(plan: Plan) -> list[int]:
    producer = {e.output: i for i, e in enumerate(plan.engines)}
    order: list[int] = []
    seen: set[int] = set()

    def visit(i: int) -> None:
        if i in seen:
            return
        seen.add(i)
        for s in plan.engines[i].inputs:
            if s in producer:
                visit(producer[s])
        order.append(i)

    for i in range(len(plan.engines)):
        visit(i)
    return order


def _readers(plan: Plan) -> dict[int, list[tuple[int, int]]]:
    """Per stream: the (engine, input port) pairs that read it."""
    readers: dict[int, list[tuple[int, int]]] = {s.id: [] for s in plan.streams}
    for i, e in enumerate(plan.engines):
        for port, s in enumerate(e.inputs):
            readers[s].append((i, port))
    return readers


def simulate(plan: Plan, images: int, max_edges: int | None = None) -> Timing:
    """Run the handshake model for `images` back-to-back images, input always valid and
    the output always ready: every engine's kind applies its per-edge rules
    (codesign.rtl.engine_kinds), one clock edge at a time. The reference the closed
    form (`compose`) is tested against."""
    plan = expand_pipelines(plan)
    engines = plan.engines
    kinds = [e.model for e in engines]
    order = _topo(plan)
    streams = {s.id: s for s in plan.streams}
    in_beats = streams[plan.input].beats
    out_beats = streams[plan.output].beats
    total_in, total_out = in_beats * images, out_beats * images
    readers = _readers(plan)
    st = [k.sim_state(e.timing) for k, e in zip(kinds, engines, strict=True)]
    in_edges: list[int] = []
    out_edges: list[int] = []
    limit = max_edges if max_edges is not None else 10_000 + 50 * images * max(
        sum(e.cycles_per_image() for e in engines), 1)
    edge = 0
    n_in = 0
    valid: dict[int, bool] = {}
    ready: dict[int, bool] = {}
    in_ready: dict[tuple[int, int], bool] = {}
    while len(out_edges) < total_out:
        if edge > limit:
            raise RuntimeError("timing model did not finish: the network deadlocks")
        # valid of every stream: registered state of its producer
        valid[plan.input] = n_in < total_in
        for i, e in enumerate(engines):
            valid[e.output] = kinds[i].sim_valid(st[i])
        # ready, consumers first (every reader of a stream comes later in `order`)
        ready[plan.output] = True
        for i in reversed(order):
            e = engines[i]
            oready = ready[e.output]
            got = kinds[i].sim_ready(st[i], oready, [valid[s] for s in e.inputs])
            for port, r in enumerate(got):
                in_ready[(i, port)] = r
            for sid in e.inputs:
                ready[sid] = all(in_ready.get(u, False) for u in readers[sid])
        fire = {sid: valid[sid] and ready[sid] for sid in valid}
        # register updates
        if fire[plan.input]:
            in_edges.append(edge)
            n_in += 1
        if fire[plan.output]:
            out_edges.append(edge)
        for i, e in enumerate(engines):
            kinds[i].sim_update(st[i], [fire[s] for s in e.inputs], ready[e.output])
        edge += 1
    return Timing(in_edges, out_edges, in_beats, out_beats)


class NoFixpoint(RuntimeError):
    """The closed form's sweeps did not settle (a network that deadlocks never does)."""


PROBE_IMAGES = 6  # images solved before looking for the periodic regime


def compose(plan: Plan, images: int, max_sweeps: int | None = None) -> Timing:
    """The same edges as `simulate`, in closed form: every engine's kind maps the edges its
    inputs are offered and its output is taken to the edges it takes its inputs and offers
    its output (max-plus recurrences over beat indices, numpy prefix scans), composed
    over the network (`_fixpoint`).

    Many images: the network settles into a periodic regime (every transfer of image i+1
    is image i's plus the interval P). Once the fixpoint for n images shows its last
    three images as exact shifted copies on every stream, in both directions (offers and
    readiness), the remaining images are the same copies shifted by P: each engine's
    recurrence reaches back at most one image before older terms are dominated (an image
    adds at most P to any engine's running sums, P >= every engine's cycles per image).
    Otherwise n doubles, up to solving all images directly."""
    plan = expand_pipelines(plan)
    n = images
    if images > PROBE_IMAGES:
        n = PROBE_IMAGES
        while n < images:
            fix = _fixpoint(plan, n, max_sweeps)
            period = _period(fix, n)
            if period is not None:
                return _timing(plan, fix, n, images, period)
            n = min(2 * n, images)
    fix = _fixpoint(plan, images, max_sweeps)
    return _timing(plan, fix, images, images, 0)


@dataclass
class _Fix:
    """The fixpoint: every stream's offers, every reader's readiness, network ends."""

    arrays: list[np.ndarray]  # offers (but the input's constant 0) and readiness
    in_fire: np.ndarray
    out_fire: np.ndarray
    sweeps: int
    fires: dict[int, np.ndarray]  # every stream's transfer edges


def _fixpoint(plan: Plan, images: int, max_sweeps: int | None) -> _Fix:
    """Forward offers and backward readiness (backpressure) depend on each other, so the
    engines are evaluated in sweeps, alternately in topological and reverse order, from
    "every consumer always ready" upwards, until no engine's edges move: the least
    fixpoint of the handshake equations, which is what the RTL does (every transfer at
    the first edge both sides allow). A fork stream is taken when all its FIFOs take it
    (each FIFO sees it offered only then); an add takes both inputs at once. A fork and
    its join form a loop, resolved one lap per sweep pair (sweeps grow with the images
    a loop binds over). Raises NoFixpoint after max_sweeps (a deadlocking network grows
    without bound)."""
    engines = plan.engines
    kinds = [e.model for e in engines]
    order = _topo(plan)
    readers = _readers(plan)
    beats = {s.id: s.beats * images for s in plan.streams}
    offer: dict[int, np.ndarray] = {plan.input: np.zeros(beats[plan.input], dtype=np.int64)}
    for e in engines:
        offer[e.output] = np.full(beats[e.output], NEG, dtype=np.int64)
    take = {(i, p): np.full(beats[s], NEG, dtype=np.int64)
            for i, e in enumerate(engines) for p, s in enumerate(e.inputs)}

    def taken(sid: int) -> np.ndarray:
        """The edge every reader of the stream could take beat k."""
        users = readers[sid]
        if not users:
            return np.full(beats[sid], NEG, dtype=np.int64)
        return np.maximum.reduce([take[u] for u in users])

    def evaluate(i: int) -> bool:
        e = engines[i]
        valids = []
        for port, sid in enumerate(e.inputs):
            others = [take[u] for u in readers[sid] if u != (i, port)]
            valids.append(np.maximum.reduce([offer[sid], *others]))
        takes, out = kinds[i].closed_form(e.timing, valids, taken(e.output))
        moved = not np.array_equal(out, offer[e.output])
        offer[e.output] = out
        for port, t in enumerate(takes):
            moved |= not np.array_equal(t, take[(i, port)])
            take[(i, port)] = t
        return moved

    if max_sweeps is None:
        max_sweeps = 100 + 8 * images
    for sweep in range(max_sweeps):
        moved = [evaluate(i) for i in (order if sweep % 2 == 0 else order[::-1])]
        if sweep > 0 and not any(moved):
            inner = [a for sid, a in offer.items() if sid != plan.input]  # not the constant
            fires = {sid: slope_max(np.maximum(a, taken(sid))) for sid, a in offer.items()}
            return _Fix([*inner, *take.values()], fires[plan.input], fires[plan.output],
                        sweep + 1, fires)
    raise NoFixpoint(f"the closed-form timing did not settle in {max_sweeps} sweeps: the "
                     "network deadlocks (a fork FIFO too shallow for its join?)")


def _period(fix: _Fix, images: int) -> int | None:
    """P when the last three images of every array are copies shifted by P; else None."""
    if images < 3:
        return None
    period = None
    for a in fix.arrays:
        rows = a.reshape(images, -1)[-3:]
        if rows.size == 0:
            continue
        if rows.min() <= NEG // 2:
            return None
        d = np.diff(rows, axis=0)
        if period is None:
            period = int(d[0, 0])
        if not np.all(d == period):
            return None
    return period


def _timing(plan: Plan, fix: _Fix, solved: int, images: int, period: int) -> Timing:
    """The network's transfer edges for `images`, the ones past `solved` extended by the
    period; input transfers only as far as `simulate` runs (to the last output)."""
    ends = []
    for fire in (fix.in_fire, fix.out_fire):
        rows = fire.reshape(solved, -1)
        more = rows[-1] + period * np.arange(1, images - solved + 1)[:, None]
        ends.append(np.concatenate([rows, more]).ravel())
    in_fire, out_fire = ends
    in_fire = in_fire[in_fire <= out_fire[-1]]
    s = {st.id: st for st in plan.streams}
    t = Timing(in_fire.tolist(), out_fire.tolist(), s[plan.input].beats, s[plan.output].beats)
    t.sweeps = fix.sweeps
    return t


def _held(push: np.ndarray, pop: np.ndarray) -> int:
    """The most beats a FIFO holds when a beat is pushed, plus that beat: the depth at
    which it takes every beat at these edges."""
    return int((np.arange(len(push)) - np.searchsorted(pop, push, side="left")).max()) + 1


def fifo_depths(plan: Plan, least: int) -> dict[str, int]:
    """Per fork FIFO (by engine name): a depth (at least `least`, at most the plan's) at
    which every output transfer of the network stays at its edge with the plan's depths
    (which must not deadlock), checked by the closed form over 2 x PROBE_IMAGES images:
    the same output edges, and a periodic regime reached (the plan's own may not be:
    its deep FIFOs let the input run ahead, image after image).

    Each reader takes beat k of its copy at the edge it did with the plan's depths
    (pop[k]), so the fork need not transfer beat k before its first reader takes it:
    late[k] = min over its FIFOs of pop[k] - 1. What a FIFO holds when pushed at those
    edges is its branch's skew (the skip of a residual block keeps the beats its long
    branch takes before the join; the long branch's own reader, and a reader slower than
    the fork's producer, need little): no depth below it keeps the readers' edges. It
    is the answer when the check passes (a producer that can wait, e.g. an adder graph);
    else each FIFO in turn is bisected between it and the plan's depth (a folded
    producer needs slack to compute its next beat while the fork waits)."""
    ex = expand_pipelines(plan)
    fifos = [e for e in ex.engines if e.kind == "fifo"]
    if not fifos:
        return {}
    before = {e.name: e.timing["depth"] for e in fifos}
    images = 2 * PROBE_IMAGES
    # deep FIFOs bind the fork-join loop over many images: sweeps grow with the skew
    fix = _fixpoint(ex, images, 100 + 50 * images)
    want, sweeps = fix.out_fire, 2 * fix.sweeps + 8
    late: dict[int, np.ndarray] = {}
    for e in fifos:
        pop = fix.fires[e.output] - 1
        late[e.inputs[0]] = np.minimum(late.get(e.inputs[0], pop), pop)
    floor = {e.name: min(before[e.name], max(least, _held(late[e.inputs[0]],
                                                        fix.fires[e.output])))
             for e in fifos}

    def same(periodic: bool = True) -> bool:
        try:
            got = _fixpoint(ex, images, sweeps)
        except NoFixpoint:  # deadlocks, or settles far slower: not taken
            return False
        return np.array_equal(got.out_fire, want) and (
            not periodic or _period(got, images) is not None)

    try:
        for e in fifos:
            e.timing["depth"] = floor[e.name]
        if same():
            return floor
        for e in fifos:
            e.timing["depth"] = before[e.name]
        for e in fifos:  # the others deeper meanwhile: periodic only at the end
            lo, hi = floor[e.name], before[e.name]
            while lo < hi:
                e.timing["depth"] = (lo + hi) // 2
                if same(periodic=False):
                    hi = e.timing["depth"]
                else:
                    lo = e.timing["depth"] + 1
            e.timing["depth"] = hi
        return {e.name: e.timing["depth"] for e in fifos} if same() else before
    finally:
        for e in fifos:
            e.timing["depth"] = before[e.name]


def network_timing(plan: Plan, images: int) -> Timing:
    """Closed form when it settles; the per-edge simulation otherwise (which raises on
    a deadlock with its own message)."""
    try:
        return compose(plan, images)
    except NoFixpoint:
        return simulate(plan, images)


def latency_shares(plan: Plan, layers: list[tuple[str, tuple[str, ...]]]) -> dict[str, Any]:
    """The network's latency and interval (closed form) and every layer's share of the
    latency: along the critical path (from the output back through the input whose last
    beat of image 0 came latest) a layer's share is the edges from its latest input's
    last beat to its own (negative when it finishes first: a strided window that ignores
    its input's last rows); layers off that path, and layers whose values share a stream
    (a fused ReLU, a Flatten), get 0. The shares add up to the latency exactly.

    layers: (name, input names) in graph order, the first being the network input."""
    plan = expand_pipelines(plan)
    fires = _fixpoint(plan, 1, None).fires
    stream_of: dict[str, int] = {layers[0][0]: plan.input}
    for e in plan.engines:
        if e.kind != "fifo":
            for name in e.layers:
                stream_of[name] = e.output
    for name, inputs in layers[1:]:  # a Flatten re-reads its input's stream
        if name not in stream_of:
            stream_of[name] = stream_of[inputs[0]]
    last = {name: int(fires[sid][-1]) for name, sid in stream_of.items()}
    first_in = int(fires[plan.input][0])
    inputs_of = dict(layers)
    shares = dict.fromkeys(inputs_of, 0)
    node = layers[-1][0]
    while inputs_of[node]:
        prev = max(inputs_of[node], key=lambda n: last[n])
        shares[node] = last[node] - last[prev]
        node = prev
    shares[node] = last[node] - first_in
    two = compose(plan, 2).summary()
    assert sum(shares.values()) == two["latency"]
    return {"latency": two["latency"], "interval": two["interval"], "layers": shares}


def engine_table(plan: Plan) -> list[dict[str, object]]:
    """Per engine: its closed-form cycles per image on its own, and the register stages
    its adder graph was pipelined into for the design's clock."""
    return [{"engine": e.name, "module": e.module, "layers": "+".join(e.layers),
             "cycles_per_image": e.cycles_per_image(),
             "pipeline_stages": pipe_stages(e.timing)} for e in plan.engines]
