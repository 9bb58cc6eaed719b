"""Many accelerators in one Verilator build: each network's RTL is generated with its own
module prefix (`generate_rtl(..., prefix=)`), a wrapper `cs_multi` puts their tops side by
side (ports <prefix>in_valid, ...), and one cocotb run (tb_multi.py) streams every
network's samples at once. Each network is then judged as codesign.verify.rtlsim.verify_rtl
judges one: every output beat against the bit-accurate model (the first mismatch named by
sample, pixel, channel and, from the network's stream trace, the first layer that
differs) and, in timing mode, every input and output transfer edge against
codesign.rtl.latency.

The build is cached by the content hash of all sources, so a rerun with unchanged RTL
only simulates.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codesign.errors import CodesignError
from codesign.qnet import QuantizedNet
from codesign.rtl.latency import Timing, simulate
from codesign.rtl.network import HW_FILES, HW_INCLUDES, TOP, Plan, generate_rtl
from codesign.verify.rtlsim import (
    build_sources,
    configure_verilator,
    first_layer_mismatch,
    stream_beats,
)

WRAPPER = "cs_multi"


@dataclass
class Member:
    """One network of a multi build: `label` names it in every report (e.g. its seed)."""

    label: str
    qnet: QuantizedNet
    prefix: str = ""
    rtl: Path | None = None
    plan: Plan | None = None


def _module_names(text: str) -> list[str]:
    return re.findall(r"^\s*module\s+(\w+)", text, flags=re.M)


def generate_all(members: list[Member], src: Path) -> list[Path]:
    """Each member's RTL in src/<prefix>, prefixed; the shared hw/ engines once; the
    wrapper. Returns the sources in compile order. Refuses two generated modules of the
    same name (a generated module the prefix does not reach) and hw/ files that differ."""
    shared: dict[str, str] = {}
    own: dict[str, str] = {}  # module -> the member that defines it
    sources: list[Path] = []
    for i, m in enumerate(members):
        m.prefix = m.prefix or f"n{i}_"
        m.rtl = src / m.prefix.rstrip("_")
        generate_rtl(m.qnet, m.rtl, prefix=m.prefix)
        manifest = json.loads((m.rtl / "manifest.json").read_text())
        m.plan = Plan.from_json(manifest)
        for name in manifest["files"] + manifest["includes"]:
            text = (m.rtl / name).read_text()
            if name in HW_FILES + HW_INCLUDES:
                if shared.setdefault(name, text) != text:
                    raise CodesignError(f"{name} differs between networks of one build")
                continue
            for module in _module_names(text):
                if module in own:
                    raise CodesignError(
                        f"module {module} is generated for both {own[module]} and {m.label} "
                        f"({name}): every module generate_rtl writes for a network must "
                        "carry its prefix")
                own[module] = m.label
            sources.append(m.rtl / name)
    hw = src / "hw"
    hw.mkdir(parents=True, exist_ok=True)
    for name, text in shared.items():
        (hw / name).write_text(text)
    (src / f"{WRAPPER}.sv").write_text(render_wrapper(members))
    return [hw / n for n in HW_FILES if n in shared] + sources + [src / f"{WRAPPER}.sv"]


def render_wrapper(members: list[Member]) -> str:
    """`cs_multi`: every member's top, its stream ports renamed <prefix><port>."""
    ports = ["  input  logic clk", "  input  logic rst"]
    body = []
    for m in members:
        assert m.plan is not None
        p, plan = m.prefix, m.plan
        in_bits, out_bits = plan.streams[plan.input].bits, plan.streams[plan.output].bits
        ports += [f"  input  logic {p}in_valid", f"  output logic {p}in_ready",
                  f"  input  logic [{in_bits - 1}:0] {p}in_data",
                  f"  output logic {p}out_valid", f"  input  logic {p}out_ready",
                  f"  output logic [{out_bits - 1}:0] {p}out_data"]
        conns = ", ".join(f".{n}({p}{n})" for n in ("in_valid", "in_ready", "in_data",
                                                      "out_valid", "out_ready", "out_data"))
        body.append(f"  {p}{TOP} u_{p}top (.clk(clk), .rst(rst), {conns});  // {m.label}")
    return "\n".join([f"// {WRAPPER}: {len(members)} generated accelerators side by side "
                      "(tests/rtl/multinet.py).", f"module {WRAPPER} (", ",\n".join(ports),
                      ");", *body, "endmodule"]) + "\n"


def build_all(members: list[Member], work: Path, build_root: Path | None = None
              ) -> tuple[Path, bool]:
    """Generate and verilate the members into one executable (cached by content)."""
    sources = generate_all(members, work / "src")
    hw = work / "src" / "hw"  # the shared engines and their `include files
    h = hashlib.sha256()
    for f in sources + [hw / n for n in HW_INCLUDES]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return build_sources(sources, WRAPPER, f"multi-{h.hexdigest()[:20]}", [hw], build_root)


@dataclass
class Verdict:
    """One member's result: bit-exact and cycle-exact, or what differed first."""

    label: str
    samples: int
    equal: int
    mismatch: dict[str, Any] | None
    layer_mismatch: dict[str, Any] | None
    predicted: dict[str, int] | None
    measured: dict[str, int] | None
    cycles_equal: bool | None
    complete: bool

    @property
    def ok(self) -> bool:
        return self.complete and self.equal == self.samples and self.cycles_equal is not False

    def explain(self) -> str:
        if not self.complete:
            return f"{self.label}: incomplete output (deadlock?)"
        if self.equal != self.samples:
            return (f"{self.label}: {self.samples - self.equal} of {self.samples} samples "
                    f"differ; first mismatch {self.mismatch}; first layer that differs "
                    f"{self.layer_mismatch}")
        if self.cycles_equal is False:
            return (f"{self.label}: cycles differ from codesign.rtl.latency: predicted "
                    f"{self.predicted}, measured {self.measured}")
        return f"{self.label}: ok"


def simulate_all(members: list[Member], xs: list[np.ndarray], build_dir: Path, work: Path, *,
                 mode: str = "timing", seed: int = 1) -> list[Verdict]:
    """Stream xs[i] (float samples, batch first) through member i, all in one simulation,
    and judge every member."""
    configure_verilator()
    from cocotb_tools.runner import get_runner

    work.mkdir(parents=True, exist_ok=True)
    cfg_members, golden, predicted = [], [], []
    max_edges = 0
    for m, x in zip(members, xs, strict=True):
        assert m.plan is not None
        plan = m.plan
        values = m.qnet.forward_int(x, return_all=True)
        assert isinstance(values, dict)
        s_in, s_out = plan.streams[plan.input], plan.streams[plan.output]
        expected = stream_beats(values[s_out.source], s_out)
        stim = work / f"{m.prefix}stim.npz"
        np.savez(stim, inputs=stream_beats(values["input"], s_in), expected=expected,
                 widths=np.array([s_in.width, s_out.width, int(s_out.signed)]))
        timing = simulate(plan, len(x))
        total = timing.summary()["total"]
        max_edges = max(max_edges, total + 1000 if mode == "timing"
                        else 40 * (simulate(plan, 1).summary()["total"] + 100) * len(x))
        cfg_members.append({"prefix": m.prefix, "stim": str(stim)})
        golden.append((values, expected))
        predicted.append(timing)
    cfg = work / "multi.json"
    cfg.write_text(json.dumps({"mode": mode, "seed": seed, "max_edges": max_edges,
                               "members": cfg_members}))
    result_path = work / "result.json"
    if result_path.exists():
        result_path.unlink()
    module = f"{__name__.rsplit('.', 1)[0]}.tb_multi"  # the runner passes on our sys.path
    try:
        get_runner("verilator").test(
            test_module=module, hdl_toplevel=WRAPPER, hdl_toplevel_lang="verilog",
            build_dir=build_dir, test_dir=work, log_file=work / "sim.log",
            extra_env={"CS_MULTI": str(cfg), "CS_RESULT": str(result_path)},
            plusargs=[f"+{m.prefix}cs_trace={work / (m.prefix + 'trace.txt')}" for m in members])
    except (SystemExit, Exception):
        pass  # judged from the result file below
    if not result_path.is_file():
        log = (work / "sim.log").read_text()[-3000:] if (work / "sim.log").is_file() else ""
        raise CodesignError(f"the simulation of {len(members)} networks produced no result:\n"
                            f"{log}")
    res = json.loads(result_path.read_text())
    return [_judge(m, res[m.prefix], values, expected, timing, work, mode)
            for m, (values, expected), timing in zip(members, golden, predicted, strict=True)]


def _judge(m: Member, got: dict[str, Any], values: dict[str, np.ndarray],
           expected: np.ndarray, timing: Timing, work: Path, mode: str) -> Verdict:
    assert m.plan is not None
    plan = m.plan
    s_in, s_out = plan.streams[plan.input], plan.streams[plan.output]
    n = expected.shape[0]
    equal, mismatch, layer_mismatch = 0, None, None
    if got["complete"]:
        mask = (1 << s_out.width) - 1
        beats = np.array([[(v >> (c * s_out.width)) & mask for c in range(s_out.channels)]
                          for v in got["outputs"][: n * s_out.beats]], dtype=np.int64)
        if s_out.signed:
            beats = np.where(beats >> (s_out.width - 1) & 1, beats - (1 << s_out.width), beats)
        beats = beats.reshape(expected.shape)
        same = (beats == expected).all(axis=(1, 2))
        equal = int(same.sum())
        if not same.all():
            i = int(np.argmin(same))
            b, c = (int(v) for v in np.argwhere(beats[i] != expected[i])[0])
            mismatch = {"sample": i, "pixel": b, "channel": c, "got": int(beats[i, b, c]),
                        "expected": int(expected[i, b, c])}
            layer_mismatch = first_layer_mismatch(plan, values, work / f"{m.prefix}trace.txt")
    predicted = measured = cycles_equal = None
    if mode == "timing" and got["complete"]:
        measured_t = Timing(got["in_edges"], got["out_edges"], s_in.beats, s_out.beats)
        predicted, measured = timing.summary(), measured_t.summary()
        cycles_equal = (measured_t.in_edges == timing.in_edges
                        and measured_t.out_edges == timing.out_edges)
    return Verdict(m.label, n, equal, mismatch, layer_mismatch, predicted, measured,
                   cycles_equal, bool(got["complete"]))
