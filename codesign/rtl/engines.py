"""One class per hardware engine: its SystemVerilog parameters, streams and kind.

Each engine maps one layer (or a conv/dense with its fused ReLU) onto a module of hw/.
The parameters come from the layer's shape and the DesignPoint's types; the arithmetic
is the bit-accurate model's (codesign/bitaccurate.py), which the modules implement.
Its cycles are its kind's (codesign.rtl.engine_kinds: per-kind closed forms and the
per-edge handshake); codesign/rtl/latency.py composes them over a network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.fixed import FixedType, Overflow, Rounding
from codesign.rtl.adder_graph import AdderGraph
from codesign.rtl.engine_kinds import KINDS, EngineKind, WindowEngine
from codesign.rtl.pipeline import Stages

if TYPE_CHECKING:
    from codesign.rtl.mac import MacPlan

ROUNDING_CODES = {Rounding.TRN: 0, Rounding.RND: 1, Rounding.RND_ZERO: 2,
                  Rounding.RND_MIN_INF: 3, Rounding.RND_INF: 4, Rounding.RND_CONV: 5,
                  Rounding.TRN_ZERO: 6}
OVERFLOW_CODES = {Overflow.WRAP: 0, Overflow.SAT: 1, Overflow.SAT_ZERO: 2, Overflow.SAT_SYM: 3}


def type_params(prefix: str, t: FixedType, modes: bool = False) -> dict[str, int]:
    """Width/signedness (and rounding/overflow codes) of a type as SV parameters."""
    out = {f"{prefix}W": t.width, f"{prefix}S": int(t.signed)}
    if modes:
        out[f"{prefix}RND"] = ROUNDING_CODES[t.rounding]
        out[f"{prefix}OVF"] = OVERFLOW_CODES[t.overflow]
    return out


def csd_masks(values: np.ndarray, digits: int) -> tuple[str, str]:
    """Canonical signed digits of each integer (non-adjacent form) as two flat packed
    literals of `digits` bits per value: the +1 digits and the -1 digits."""
    pos_all = neg_all = 0
    flat = np.asarray(values, dtype=np.int64).ravel().tolist()
    for j, w in enumerate(flat):
        r, b, pos, neg = int(w), 0, 0, 0
        while r:
            if r & 1:
                d = 2 - (r & 3)  # +1 when r = 1 (mod 4), -1 when r = 3 (mod 4)
                if d > 0:
                    pos |= 1 << b
                else:
                    neg |= 1 << b
                r -= d
            r >>= 1
            b += 1
        assert b <= digits, (w, digits)
        pos_all |= pos << (j * digits)
        neg_all |= neg << (j * digits)
    bits = digits * len(flat)
    return f"{bits}'h{pos_all:x}", f"{bits}'h{neg_all:x}"


@dataclass
class Engine:
    """One instance in the generated top: a module, its parameters and its streams."""

    name: str  # instance name
    module: str  # hw/ module
    layers: tuple[str, ...]  # the layers it computes (last one's values leave it)
    inputs: tuple[int, ...]  # stream ids
    output: int  # stream id
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "window"  # window | accumulate | relu | add | fifo: its handshake (KINDS)
    timing: dict[str, int] = field(default_factory=dict)
    # RF 1 lossless conv/dense: the adder graph of its constant-matrix product, built by
    # the generated module graph_module and wired to the engine's win/y ports
    graph: AdderGraph | None = None
    graph_module: str = ""  # the generated module's name (an adder graph or a MAC)
    # its pipeline to the design's clock (timing["PIPE"] = stages.stages register stages)
    stages: Stages | None = None
    # RF > 1, a lossy accumulator or DSP products: the MAC plan (codesign.rtl.mac)
    # of the generated module graph_module, wired to the engine's win/t/acc ports
    mac: MacPlan | None = None

    @property
    def model(self) -> EngineKind:
        """Its kind's cycle formulas (codesign.rtl.engine_kinds)."""
        return KINDS[self.kind]

    def cycles_per_image(self) -> int:
        """Cycles between images when never starved or blocked."""
        return self.model.cycles_per_image(self.timing)

    def capacity(self) -> int:
        """Beats it can hold (bounds the skip FIFO a fork needs)."""
        return self.model.capacity(self.timing)


def window_timing(h: int, w: int, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
                  rf: int) -> dict[str, int]:
    return {"H": h, "W": w, "KH": kh, "KW": kw, "SH": sh, "SW": sw, "PH": ph, "PW": pw,
            "RF": rf, "HP": h + 2 * ph, "WP": w + 2 * pw}


def isolated_window_cycles(t: dict[str, int]) -> dict[str, int]:
    """First image through one window engine from reset, input always valid and sink
    always ready: edge of the first input, edge of the last output, and the interval."""
    return WindowEngine().isolated(t)
