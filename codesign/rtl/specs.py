"""One EngineSpec per hw/ engine module: everything the toolkit knows about it, in one place.

A spec names the module's SystemVerilog file, its engine kind (the handshake whose cycle
formulas codesign.rtl.engine_kinds holds), its ports (render_top wires every instance from
them), the SV parameters a plan may set, and the key of its structural cost rule
(codesign.cost.structural.RULES, which sits a floor above this package and is keyed by
module). A new hw/ engine is one spec here, one rule there, and tests/rtl/test_specs.py
checks them against each other and against the SV file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from codesign.errors import CodesignError
from codesign.rtl.engine_kinds import KINDS, EngineKind

# hw/ building blocks the engines instantiate, in compile order (each after what it uses)
LIBRARY_FILES = ("cs_cast.sv", "cs_relu_comb.sv", "cs_out_reg.sv", "cs_window.sv", "cs_post.sv")
# hw/ files the engines `include: written beside them, never compiled on their own
HW_INCLUDES: tuple[str, ...] = ("cs_engine_params.svh",)

_WINDOW = ("H", "W", "CIN", "COUT", "KH", "KW", "SH", "SW", "PH", "PW")
_RESULT = ("RW", "RS", "RSHIFT", "RRND", "ROVF")
_RELU = ("RELU", "QW", "QS", "QSHIFT", "QRND", "QOVF")


@dataclass(frozen=True)
class EngineSpec:
    """One hw/ engine module as the generated top instantiates it."""

    module: str
    kind: str  # its handshake: a key of codesign.rtl.engine_kinds.KINDS
    params: tuple[str, ...]  # the SV parameters a plan may set (hw/<module>.sv declares them)
    # ports to the module generated beside it (an adder graph, a MAC): (port, wire suffix);
    # the top declares the wire <instance>_<suffix> and connects it
    generated: tuple[tuple[str, str], ...] = ()
    output: ClassVar[str] = "out"  # the output stream port: out_valid, out_ready, out_data

    @property
    def sv_file(self) -> str:
        return f"{self.module}.sv"

    @property
    def cycles(self) -> EngineKind:
        """Its cycle formulas and per-edge handshake (codesign.rtl.engine_kinds)."""
        return KINDS[self.kind]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Input stream ports, in the order of the engine's input streams: the handshake's
        (each is <name>_valid, <name>_ready, <name>_data)."""
        return self.cycles.ports

    @property
    def structure(self) -> str:
        """The key of its rule in codesign.cost.structural.RULES (what the cost model
        counts of it)."""
        return self.module


SPECS: dict[str, EngineSpec] = {s.module: s for s in (
    EngineSpec("cs_graph_engine", "window", (*_WINDOW, "XW", "YW", *_RESULT, *_RELU, "PIPE"),
               (("win", "win"), ("y", "y"), ("pipe_en", "pen"))),
    EngineSpec("cs_mac_engine", "window",
               (*_WINDOW, "RF", "XW", "AW", "AS", *_RESULT, *_RELU),
               tuple((p, p) for p in ("win", "t", "acc_en", "load", "acc_q", "acc_d"))),
    EngineSpec("cs_pool", "window",
               ("H", "W", "C", "KH", "KW", "SH", "SW", "MODE", "XW", "XS", "AW", "AS",
                "AFRAC_X", "ARND", "AOVF", "RW", "RS", "RSHIFT", "RRND", "ROVF")),
    EngineSpec("cs_gap", "accumulate",
               ("H", "W", "C", "XW", "XS", "AW", "AS", "AFRAC_X", "ARND", "AOVF",
                "RW", "RS", "RSHIFT", "RRND", "ROVF")),
    EngineSpec("cs_relu", "relu", ("C", "IW", "IS", "SHIFT", "OW", "OS", "RND", "OVF")),
    EngineSpec("cs_add", "add", ("C", "AW_", "AS_", "ASH", "BW_", "BS_", "BSH", "FSHIFT",
                                 "RW", "RS", "RRND", "ROVF")),
    EngineSpec("cs_fifo", "fifo", ("W", "DEPTH", "BRAM")),
)}


def spec_of(module: str) -> EngineSpec:
    """The spec of a planned engine's module; an engine without one cannot be wired."""
    spec = SPECS.get(module)
    if spec is None:
        raise CodesignError(f"hw/ module {module!r} has no EngineSpec; add one to "
                            "codesign.rtl.specs.SPECS")
    return spec


# every hw/ file a generated design compiles, in order: the building blocks, then engines
HW_FILES: tuple[str, ...] = LIBRARY_FILES + tuple(s.sv_file for s in SPECS.values())
