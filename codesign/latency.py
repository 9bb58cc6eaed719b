"""Cycle model of the generated accelerator: predicted == what Verilator counts.

Every engine's timing is closed form on its own (codesign.emit.rtl_engines: a window
engine steps one padded position per cycle and spends RF cycles per output; relu, add
and fifo stages pass one beat per cycle after one register). Over a network the engines
hand beats to each other through valid/ready, so a slow engine stalls its producers;
this module composes the engines by evaluating exactly the handshake rules the RTL
implements (the same registers, the same ready equations), one clock edge at a time,
without any data. With the input always valid and the sink always ready it gives the
edge of every input and output transfer, hence the latency (first input accepted to last
output of an image) and the interval between images.

Edge 0 is the first rising clock edge with reset low; every time is an edge index.
"""

from __future__ import annotations

from dataclasses import dataclass

from codesign.emit.rtl import Plan
from codesign.emit.rtl_engines import Engine, pipe_stages


@dataclass
class Timing:
    """Transfer edges of the network's input and output beats, and the per-image figures."""

    in_edges: list[int]
    out_edges: list[int]
    in_beats: int  # per image
    out_beats: int

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


class _WindowState:
    def __init__(self, e: Engine) -> None:
        t = e.timing
        hp, wp = t["HP"], t["WP"]
        self.rf = t["RF"]
        self.np = hp * wp
        self.interior = []
        self.completes = []
        for p in range(self.np):
            r, c = divmod(p, wp)
            self.interior.append(t["PH"] <= r < t["PH"] + t["H"]
                                 and t["PW"] <= c < t["PW"] + t["W"])
            self.completes.append(r >= t["KH"] - 1 and c >= t["KW"] - 1
                                  and (r - t["KH"] + 1) % t["SH"] == 0
                                  and (c - t["KW"] + 1) % t["SW"] == 0)
        self.p = 0
        self.busy = False
        self.t = 0
        self.ov = False  # the window's output valid (pipelined: stage 1's)
        # a pipelined adder graph (cs_graph_engine PIPE): valids of stages 2..PIPE and of
        # the output register, which is the engine's output valid
        self.pv = [False] * pipe_stages(t)

    def out_valid(self) -> bool:
        return self.pv[-1] if self.pv else self.ov

    def window_ready(self, oready: bool) -> bool:
        """The window's out_ready: the sink's, or whether pipeline stage 2 can load."""
        free = oready
        for v in reversed(self.pv):
            free = not v or free
        return free

    def advance(self, oready: bool) -> None:
        """Each stage loads from the one before when it is free (registers: old values)."""
        vals = [self.ov, *self.pv]
        free = oready
        for j in range(len(self.pv), 0, -1):
            free = not vals[j] or free
            if free:
                self.pv[j - 1] = vals[j - 1]


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


def simulate(plan: Plan, images: int, max_edges: int | None = None) -> Timing:
    """Run the handshake model for `images` back-to-back images, input always valid and
    the output always ready."""
    engines = plan.engines
    order = _topo(plan)
    streams = {s.id: s for s in plan.streams}
    in_beats = streams[plan.input].beats
    out_beats = streams[plan.output].beats
    total_in, total_out = in_beats * images, out_beats * images
    readers: dict[int, list[int]] = {}
    for i, e in enumerate(engines):
        for s in e.inputs:
            readers.setdefault(s, []).append(i)
    st: list[object] = []
    for e in engines:
        if e.kind == "window":
            st.append(_WindowState(e))
        elif e.kind == "fifo":
            st.append([0, e.timing["depth"]])  # count, depth
        else:
            st.append([False])  # out_valid
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
            s = st[i]
            if e.kind == "window":
                valid[e.output] = s.out_valid()  # type: ignore[attr-defined]
            elif e.kind == "fifo":
                valid[e.output] = s[0] > 0  # type: ignore[index]
            else:
                valid[e.output] = s[0]  # type: ignore[index]
        # ready, consumers first
        ready[plan.output] = True
        for i in reversed(order):
            e = engines[i]
            s = st[i]
            oready = ready[e.output]
            if e.kind == "window":
                oready = s.window_ready(oready)  # type: ignore[attr-defined]
                finishing = s.busy and s.t == s.rf - 1  # type: ignore[attr-defined]
                load = finishing and (not s.ov or oready)  # type: ignore[attr-defined]
                can_step = (not s.busy) or load  # type: ignore[attr-defined]
                in_ready[(i, 0)] = can_step and s.interior[s.p]  # type: ignore[attr-defined]
            elif e.kind == "fifo":
                in_ready[(i, 0)] = s[0] < s[1]  # type: ignore[index]
            elif e.kind == "relu":
                in_ready[(i, 0)] = (not s[0]) or oready  # type: ignore[index]
            else:  # add
                free = (not s[0]) or oready  # type: ignore[index]
                a, b = e.inputs
                in_ready[(i, 0)] = free and valid[b]
                in_ready[(i, 1)] = free and valid[a]
            for sid in e.inputs:
                ready[sid] = all(in_ready.get((u, engines[u].inputs.index(sid)), False)
                                 for u in readers[sid])
        fire = {sid: valid[sid] and ready[sid] for sid in valid}
        # register updates
        if fire[plan.input]:
            in_edges.append(edge)
            n_in += 1
        if fire[plan.output]:
            out_edges.append(edge)
        for i, e in enumerate(engines):
            s = st[i]
            ofire = fire[e.output]
            if e.kind == "window":
                oready = s.window_ready(ready[e.output])  # type: ignore[attr-defined]
                s.advance(ready[e.output])  # type: ignore[attr-defined]
                finishing = s.busy and s.t == s.rf - 1  # type: ignore[attr-defined]
                load = finishing and (not s.ov or oready)  # type: ignore[attr-defined]
                can_step = (not s.busy) or load  # type: ignore[attr-defined]
                interior = s.interior[s.p]  # type: ignore[attr-defined]
                step = can_step and (not interior or fire[e.inputs[0]])
                if s.busy and not finishing:  # type: ignore[attr-defined]
                    s.t += 1  # type: ignore[attr-defined]
                if load:
                    s.ov = True  # type: ignore[attr-defined]
                elif oready:
                    s.ov = False  # type: ignore[attr-defined]
                if step:
                    if s.completes[s.p]:  # type: ignore[attr-defined]
                        s.busy, s.t = True, 0  # type: ignore[attr-defined]
                    elif load:
                        s.busy = False  # type: ignore[attr-defined]
                    s.p = (s.p + 1) % s.np  # type: ignore[attr-defined]
                elif load:
                    s.busy = False  # type: ignore[attr-defined]
            elif e.kind == "fifo":
                s[0] += int(fire[e.inputs[0]]) - int(ofire)  # type: ignore[index]
            else:
                took = fire[e.inputs[0]]
                if took:
                    s[0] = True  # type: ignore[index]
                elif ready[e.output]:
                    s[0] = False  # type: ignore[index]
        edge += 1
    return Timing(in_edges, out_edges, in_beats, out_beats)


def engine_table(plan: Plan) -> list[dict[str, object]]:
    """Per engine: its closed-form cycles per image on its own, and the register stages
    its adder graph was pipelined into for the design's clock."""
    return [{"engine": e.name, "module": e.module, "layers": "+".join(e.layers),
             "cycles_per_image": e.cycles_per_image(),
             "pipeline_stages": pipe_stages(e.timing)} for e in plan.engines]
