"""Pipelining an adder graph to a clock: which stage each adder computes in.

A delay model (hw/devices/delays.yaml, per device family) prices each adder on a path at
level_ns (a LUT level and its route) and the path's carry ripple at carry_ns per bit of
the adder it ends in: ripple adders in series overlap (bit i of one waits only for bit i
of the adder before it), so a chain of L adders ending in a w-bit one costs
reg_ns + L * level_ns + carry_ns * w. Stages are assigned as soon as possible: an
adder joins the latest stage of its operands unless the path through it would exceed the
clock period, then it starts the next stage (its operands arrive registered). Every node
gets its earliest (stage, arrival) pair, so no assignment under the same model has fewer
stages. The last stage also holds each output's bias adder (a level) and the engine's
cast (and fused ReLU): a rounding increment (a level and the output width's ripple) and
the overflow select (a level).

Stage k > 0 begins at a bank of registers (boundary k); a value produced in stage s and
read in stage s' > s is registered at boundaries s+1..s' (codesign.rtl.adder_sv). The
graph's outputs leave from the last stage, `stages` boundaries after its inputs: the
engine's output timing grows by exactly that many cycles (cs_graph_engine PIPE).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import yaml

from codesign.errors import CodesignError
from codesign.rtl.adder_graph import AdderGraph


@dataclass(frozen=True)
class DelayModel:
    """Delays of one device family (ns): see hw/devices/delays.yaml."""

    family: str
    reg_ns: float
    level_ns: float
    carry_ns: float

    def ripple(self, width: int) -> float:
        """The carry ripple through `width` bits at the end of a path."""
        return self.carry_ns * width

    def tail(self, out_width: int) -> float:
        """The engine's cast after the graph: a rounding increment (a level and the
        ripple through the output) and the overflow select (a level)."""
        return 2 * self.level_ns + self.ripple(out_width)


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, float]]:
    path = importlib.resources.files("codesign.hw") / "devices" / "delays.yaml"
    return yaml.safe_load(path.read_text())["families"]


def delay_model(family: str) -> DelayModel:
    """The family's delays, or the table's `default` for a family it does not list."""
    table = _table()
    spec = table.get(family, table["default"])
    return DelayModel(family if family in table else "default", float(spec["reg_ns"]),
                      float(spec["level_ns"]), float(spec["carry_ns"]))


@dataclass(frozen=True)
class Stages:
    """A graph's pipeline: node_stage[n] for every node (inputs are stage 0); `stages`
    register boundaries between the inputs and the outputs; worst_ns the longest
    register-to-register path the model predicts (meets: worst_ns <= period_ns)."""

    node_stage: tuple[int, ...]
    stages: int
    period_ns: float
    worst_ns: float

    @property
    def meets(self) -> bool:
        return self.worst_ns <= self.period_ns + 1e-9

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stages:
        return cls(tuple(data["node_stage"]), data["stages"], data["period_ns"],
                   data["worst_ns"])


def _out_delay(g: AdderGraph, o: int, model: DelayModel) -> float:
    """Output o's bias adder (a level, when it has a term and a constant) and the cast
    after it, from the output node's base arrival."""
    out = g.outputs[o]
    bias = model.level_ns if out.node >= 0 and out.const != 0 else 0.0
    return bias + model.tail(g.out_width)


def assign_stages(g: AdderGraph, model: DelayModel, clock_mhz: float) -> Stages:
    """Earliest stage of every adder so each register-to-register path fits the period.

    An adder wider than one period on its own sits alone in its stage and the clock is
    missed (worst_ns says by how much)."""
    if not clock_mhz > 0:
        raise CodesignError(f"clock_mhz must be positive to pipeline, not {clock_mhz}")
    period = 1000.0 / clock_mhz
    budget = period - model.reg_ns
    stage = [0] * g.n_in
    base = [0.0] * g.n_in  # levels into the node's stage: its bits arrive at base + ripple
    for ad in g.adders:
        s = max(stage[ad.a], stage[ad.b])
        start = max((base[m] for m in (ad.a, ad.b) if stage[m] == s), default=0.0)
        if start + model.level_ns + model.ripple(ad.width) > budget and start > 0:
            s, start = s + 1, 0.0
        stage.append(s)
        base.append(start + model.level_ns)
    last = 0
    for o, out in enumerate(g.outputs):
        if out.node < 0:
            continue
        s, t = stage[out.node], base[out.node] + _out_delay(g, o, model)
        if t > budget and base[out.node] > 0:
            s += 1
        last = max(last, s)
    stages = Stages(tuple(stage), last, period, 0.0)
    return Stages(stages.node_stage, last, period, worst_path_ns(g, stages, model))


def worst_path_ns(g: AdderGraph, stages: Stages, model: DelayModel) -> float:
    """The longest register-to-register path of a staged graph under the model (a
    check of any assignment: operands never from a later stage, outputs in the last)."""
    st = stages.node_stage
    base = [0.0] * g.n_in
    worst = 0.0
    for i, ad in enumerate(g.adders):
        s = st[g.n_in + i]
        if st[ad.a] > s or st[ad.b] > s:
            raise CodesignError(f"adder {g.n_in + i} reads a value of a later stage")
        base.append(max((base[m] for m in (ad.a, ad.b) if st[m] == s), default=0.0)
                    + model.level_ns)
        worst = max(worst, base[-1] + model.ripple(ad.width))
    for o, out in enumerate(g.outputs):
        if out.node < 0:
            continue
        if st[out.node] > stages.stages:
            raise CodesignError(f"output {o} reads a node past the last stage")
        start = base[out.node] if st[out.node] == stages.stages else 0.0
        worst = max(worst, start + _out_delay(g, o, model))
    return round(model.reg_ns + worst, 3)
