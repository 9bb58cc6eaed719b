"""Engine kinds: every handshake a hw/ engine implements, and all of its cycle formulas.

Each kind owns, in one place, what the rest of the toolkit needs about an engine's
cycles: its cycles per image, the beats it can hold (which sizes a fork's FIFOs), its
exact per-edge handshake rules (the reference model codesign.rtl.latency.simulate runs, one
clock edge at a time, proven against Verilator) and its closed form (what
codesign.rtl.latency.compose composes over a network). The RTL planner (codesign.rtl.network)
picks the kind of every engine; nothing else dispatches on kinds.

The closed forms are max-plus recurrences over beat indices, evaluated with numpy
prefix scans (no per-edge loop). An engine maps
  valid[i][k]  the first edge input i offers its beat k (its producer's output register),
  ready[m]     the first edge its consumers could take output beat m (NEG: always ready),
to
  take[i][k]   the first edge it could take input beat k, given its own past, and
  offer[m]     the first edge it offers output beat m.
A transfer on a stream happens at the first edge both sides allow:
fire = slope_max(max(offer, take)). Every rule below is that greedy earliest-edge rule,
derived from the RTL's registers (see each kind).

Edge 0 is the first rising clock edge with reset low; every time is an edge index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

NEG = -(1 << 40)  # "no constraint": earlier than any edge


# -- max-plus helpers -------------------------------------------------------------------
def slope_max(a: np.ndarray) -> np.ndarray:
    """out[k] = max over i <= k of a[i] + (k - i): at most one transfer per edge."""
    k = np.arange(len(a), dtype=np.int64)
    return np.maximum.accumulate(a - k) + k


def scan(a: np.ndarray, step: np.ndarray | int) -> np.ndarray:
    """x[k] = max(x[k-1] + step[k], a[k]), x[0] = a[0]: a max-plus linear recurrence,
    solved as x = C + cummax(a - C) with C the running sum of the steps."""
    n = len(a)
    steps = np.broadcast_to(np.asarray(step, dtype=np.int64), (n,)).copy()
    if n:
        steps[0] = 0
    c = np.cumsum(steps)
    return np.maximum.accumulate(a - c) + c


def shift(a: np.ndarray, d: int) -> np.ndarray:
    """out[k] = a[k - d] (NEG before the start)."""
    out = np.full(len(a), NEG, dtype=np.int64)
    if d < len(a):
        out[d:] = a[:len(a) - d]
    return out


# -- kinds ------------------------------------------------------------------------------
class EngineKind:
    """One handshake kind. Stateless: the engine's timing dict holds its numbers."""

    name: ClassVar[str] = ""
    ports: ClassVar[tuple[str, ...]] = ("in",)  # input stream ports in the RTL (EngineSpec.inputs)

    def cycles_per_image(self, t: dict[str, int]) -> int:
        """Cycles between images when never starved or blocked."""
        return t["beats"]

    def capacity(self, t: dict[str, int]) -> int:
        """Beats it can hold: bounds the skip FIFO a fork needs."""
        return 1

    # closed form ------------------------------------------------------------------
    def closed_form(self, t: dict[str, int], valid: list[np.ndarray], ready: np.ndarray
                    ) -> tuple[list[np.ndarray], np.ndarray]:
        """(take per input, offer): see the module doc."""
        raise NotImplementedError

    # per-edge reference model -------------------------------------------------------
    def sim_state(self, t: dict[str, int]) -> object:
        """The engine's registers after reset."""
        raise NotImplementedError

    def sim_valid(self, st) -> bool:
        """out_valid this edge (registered: from the state only)."""
        raise NotImplementedError

    def sim_ready(self, st, out_ready: bool, in_valid: list[bool]) -> list[bool]:
        """in_ready of every input port this edge."""
        raise NotImplementedError

    def sim_update(self, st, in_fire: list[bool], out_ready: bool) -> None:
        """The registers at the clock edge."""
        raise NotImplementedError


@dataclass
class _Reg:
    """One output register (relu, add)."""

    ov: bool = False


class PassEngine(EngineKind):
    """cs_relu: one beat in, one out through one output register.

    in_ready = !ov || out_ready: beat k enters once beat k-1 leaves (or at the same edge),
    so take[k] = max(F_in[k-1] + 1, F_out[k-1]) with F_out[k-1] = max(F_in[k-1] + 1,
    R'[k-1]), R' = slope_max(ready); the beat is offered one edge after it entered."""

    name = "relu"

    def closed_form(self, t, valid, ready):
        rp = shift(slope_max(ready), 1)
        f_in = scan(np.maximum(valid[0], rp), 1)
        return [np.maximum(shift(f_in, 1) + 1, rp)], f_in + 1

    def sim_state(self, t):
        return _Reg()

    def sim_valid(self, st):
        return st.ov

    def sim_ready(self, st, out_ready, in_valid):
        return [(not st.ov) or out_ready]

    def sim_update(self, st, in_fire, out_ready):
        if in_fire[0]:
            st.ov = True
        elif out_ready:
            st.ov = False


class AddEngine(PassEngine):
    """cs_add: PassEngine's register, taking beat k of both inputs at the same edge
    (a_ready = free && b_valid, b_ready = free && a_valid): each input's take also waits
    for the other input's offer."""

    name = "add"
    ports = ("a", "b")

    def closed_form(self, t, valid, ready):
        va, vb = valid
        rp = shift(slope_max(ready), 1)
        fire = scan(np.maximum(np.maximum(va, vb), rp), 1)
        free = np.maximum(shift(fire, 1) + 1, rp)
        return [np.maximum(free, vb), np.maximum(free, va)], fire + 1

    def sim_ready(self, st, out_ready, in_valid):
        free = (not st.ov) or out_ready
        return [free and in_valid[1], free and in_valid[0]]


@dataclass
class _Fifo:
    count: int
    depth: int


class FifoEngine(EngineKind):
    """cs_fifo of `depth` beats: in_ready = count < depth, out_valid = count > 0.

    Beat k enters once beat k - depth has left (F_in[k] >= F_out[k-depth] + 1) and is
    offered the edge after it entered; with depth >= 2 the one-per-edge bound dominates
    F_out[k-depth]'s own input term, so the recurrence stays scalar."""

    name = "fifo"

    def capacity(self, t):
        return t["depth"]

    def closed_form(self, t, valid, ready):
        depth = t["depth"]
        step = 1 if depth >= 2 else 2
        rp = shift(slope_max(ready), depth) + 1
        f_in = scan(np.maximum(valid[0], rp), step)
        return [np.maximum(shift(f_in, 1) + step, rp)], f_in + 1

    def sim_state(self, t):
        return _Fifo(0, t["depth"])

    def sim_valid(self, st):
        return st.count > 0

    def sim_ready(self, st, out_ready, in_valid):
        return [st.count < st.depth]

    def sim_update(self, st, in_fire, out_ready):
        st.count += int(in_fire[0]) - int(st.count > 0 and out_ready)


@dataclass
class _Window:
    interior: list[bool]
    completes: list[bool]
    busy_edges: int  # RF + PIPE: edges from a completing step to the result's load
    p: int = 0
    busy: bool = False
    t: int = 0
    ov: bool = False


def window_geometry(t: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per padded position of one image (raster order): does it take an input beat
    (interior), does it complete a window (an output)."""
    r, c = np.divmod(np.arange(t["HP"] * t["WP"]), t["WP"])
    interior = ((t["PH"] <= r) & (r < t["PH"] + t["H"]) & (t["PW"] <= c)
                & (c < t["PW"] + t["W"]))
    completes = ((r >= t["KH"] - 1) & (c >= t["KW"] - 1) & ((r - t["KH"] + 1) % t["SH"] == 0)
                 & ((c - t["KW"] + 1) % t["SW"] == 0))
    return interior, completes


def window_outputs(t: dict[str, int]) -> int:
    oh = (t["HP"] - t["KH"]) // t["SH"] + 1
    ow = (t["WP"] - t["KW"]) // t["SW"] + 1
    return oh * ow


def busy_edges(t: dict[str, int]) -> int:
    """Edges from a completing step to the load of its result into the output register."""
    return t["RF"]


def pipe_stages(t: dict[str, int]) -> int:
    """Register stages behind a window engine's output register (a pipelined adder graph,
    cs_graph_engine PIPE): each stage loads when it is empty or the next one loads, so
    every output leaves this many edges later and throughput is unchanged.
    codesign.rtl.latency splits such an engine into its window and PIPE one-beat stages."""
    return t.get("PIPE", 0)


class WindowEngine(EngineKind):
    """cs_window-based engines (conv, dense, pool, adder graph): one padded position per
    step; an interior position takes one input beat; a completing position makes the
    engine busy for RF edges, then the result loads into the output register once the
    previous output has left (pipeline stages behind it: `pipe_stages`, handled by
    codesign.rtl.latency as one-beat stages of their own; closed_form and the per-edge rules
    here are the window's alone).

    Over positions q (all images in a row): S[q] = max(S[q-1] + c[q], A[q]) with c[q] =
    RF after a completing position, else 1; A[q] = the input's offer at an interior
    position and, after the position completing output m, R'[m-1] (the load waits for
    output m-1 to leave). Output m loads at L[m] = max(S[q_m] + RF, R'[m-1]) and is offered
    at L[m] + 1."""

    name = "window"

    def cycles_per_image(self, t):
        return t["HP"] * t["WP"] + window_outputs(t) * (busy_edges(t) - 1)

    def capacity(self, t):
        # each pipeline stage holds one more output: the window runs on to the next
        # completing position, at most (SH-1)*WP + max(SW, KW) positions further
        gap = (t["SH"] - 1) * t["WP"] + max(t["SW"], t["KW"])
        return (t["KH"] - 1) * t["WP"] + t["KW"] + 2 + pipe_stages(t) * gap

    def closed_form(self, t, valid, ready):
        inter1, comp1 = window_geometry(t)
        images = len(valid[0]) // int(inter1.sum())
        interior, completes = np.tile(inter1, images), np.tile(comp1, images)
        n = len(interior)
        busy = busy_edges(t)
        q_in, q_out = np.flatnonzero(interior), np.flatnonzero(completes)
        rp = slope_max(ready)
        gate = np.full(n, NEG, dtype=np.int64)  # A[q] without the input's offer
        gate[0] = 0
        after = q_out[1:] + 1
        keep = after < n
        gate[after[keep]] = rp[:-1][keep]
        a = gate.copy()
        a[q_in] = np.maximum(a[q_in], valid[0])
        step = np.ones(n, dtype=np.int64)
        step[1:][completes[:-1]] = busy
        s = scan(a, step)
        take = np.maximum(shift(s, 1) + step, gate)[q_in]
        load = s[q_out] + busy
        load[1:] = np.maximum(load[1:], rp[:-1])
        return [take], load + 1

    def isolated(self, t: dict[str, int]) -> dict[str, int]:
        """First image through the engine alone from reset (input always valid, sink
        always ready): edge of its first input, of its last output, and the interval."""
        beats = t["H"] * t["W"]
        nout = window_outputs(t)
        take, offer = self.closed_form(t, [np.zeros(2 * beats, dtype=np.int64)],
                                       np.full(2 * nout, NEG, dtype=np.int64))
        fire_out = slope_max(offer)
        return {"first_input": int(slope_max(take[0])[0]),
                "last_output": int(fire_out[nout - 1]) + pipe_stages(t),
                "interval": self.cycles_per_image(t)}

    def sim_state(self, t):
        inter, comp = window_geometry(t)
        return _Window(inter.tolist(), comp.tolist(), busy_edges(t))

    def sim_valid(self, st):
        return st.ov

    @staticmethod
    def _control(st, out_ready: bool) -> tuple[bool, bool, bool]:
        finishing = st.busy and st.t == st.busy_edges - 1
        load = finishing and (not st.ov or out_ready)
        return finishing, load, (not st.busy) or load

    def sim_ready(self, st, out_ready, in_valid):
        _, _, can_step = self._control(st, out_ready)
        return [can_step and st.interior[st.p]]

    def sim_update(self, st, in_fire, out_ready):
        finishing, load, can_step = self._control(st, out_ready)
        step = can_step and (not st.interior[st.p] or in_fire[0])
        if st.busy and not finishing:
            st.t += 1
        if load:
            st.ov = True
        elif out_ready:
            st.ov = False
        if step:
            if st.completes[st.p]:
                st.busy, st.t = True, 0
            elif load:
                st.busy = False
            st.p = (st.p + 1) % len(st.interior)
        elif load:
            st.busy = False


@dataclass
class _Acc:
    beats: int  # input beats per image
    n: int = 0  # beats of this image taken
    ov: bool = False


class AccumulateEngine(EngineKind):
    """cs_gap: an accumulator per channel takes one beat per edge; the last beat of an
    image loads the result into the output register at the edge it is taken, so it is
    taken only when that register is free (!ov || out_ready), and offered one edge later.

    Over the input beats q (all images in a row): F[q] = max(F[q-1] + 1, V[q], G[q]) with
    G[q] = R'[m-1] at the last beat of image m >= 1 (its register load waits for output
    m-1 to leave), R' = slope_max(ready); output m is offered at F[last beat of m] + 1.
    Unlike a window engine it holds no pixel and spends no compute edge: a full-image
    window (cs_pool) shifts the last beat in and loads one edge later."""

    name = "accumulate"

    def capacity(self, t):
        return t["beats"] + 1  # an image's beats absorbed, and its mean in the register

    def closed_form(self, t, valid, ready):
        beats = t["beats"]
        n = len(valid[0])
        rp = slope_max(ready)
        gate = np.full(n, NEG, dtype=np.int64)
        lasts = np.arange(beats - 1, n, beats)
        gate[lasts[1:]] = rp[:len(lasts) - 1]
        f_in = scan(np.maximum(valid[0], gate), 1)
        return [np.maximum(shift(f_in, 1) + 1, gate)], f_in[lasts] + 1

    def sim_state(self, t):
        return _Acc(t["beats"])

    def sim_valid(self, st):
        return st.ov

    def sim_ready(self, st, out_ready, in_valid):
        return [st.n != st.beats - 1 or not st.ov or out_ready]

    def sim_update(self, st, in_fire, out_ready):
        load = in_fire[0] and st.n == st.beats - 1
        if load:
            st.ov = True
        elif out_ready:
            st.ov = False
        if in_fire[0]:
            st.n = (st.n + 1) % st.beats


KINDS: dict[str, EngineKind] = {k.name: k for k in (WindowEngine(), PassEngine(), AddEngine(),
                                                     FifoEngine(), AccumulateEngine())}
