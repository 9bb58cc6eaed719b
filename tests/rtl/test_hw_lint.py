"""Every engine is lint clean under `verilator --lint-only -Wall`, over parameter sets
that reach each generate branch (RF, ReLU, lossy accumulators, CSD vs `*`, every
rounding and overflow code, max and average pooling), and the generated tops (adder
graphs; generated MAC modules with ROMs, narrow chains and DSP products)."""

from __future__ import annotations

import subprocess

import pytest

from codesign.rtl.network import HW_FILES, HW_INCLUDES, generate_rtl, hw_dir
from codesign.verify.rtlsim import configure_verilator, verilator_root

CASES = [
    ("cs_cast", {}),
    *[("cs_cast", {"SHIFT": s, "RND": r, "OVF": o, "IS": i, "OS": os_})
      for s, r, o, i, os_ in [(-3, 5, 3, 1, 1), (2, 0, 1, 1, 0), (-12, 1, 0, 0, 1),
                              (-1, 2, 2, 1, 1), (-9, 6, 3, 0, 0), (-4, 3, 1, 1, 1),
                              (-2, 4, 2, 0, 1)]],
    ("cs_relu", {"SHIFT": -2, "RND": 1, "OVF": 1}),
    ("cs_mac_engine", {}),
    ("cs_mac_engine", {"RF": 4, "RELU": 1, "PH": 1, "PW": 1, "SH": 2, "RSHIFT": -3, "RRND": 1,
                       "ROVF": 1, "QSHIFT": -1, "AS": 0}),
    ("cs_graph_engine", {}),
    ("cs_graph_engine", {"RELU": 1, "PH": 1, "PW": 1, "SH": 2, "RSHIFT": -3, "RRND": 1,
                         "ROVF": 1, "QSHIFT": -1}),
    ("cs_graph_engine", {"PIPE": 1}),
    ("cs_graph_engine", {"PIPE": 3, "RELU": 1, "KH": 1, "KW": 4, "H": 1, "W": 4}),
    ("cs_pool", {}),
    ("cs_pool", {"MODE": 1, "KH": 3, "KW": 3, "SH": 1, "SW": 1, "AFRAC_X": 2}),
    ("cs_pool", {"MODE": 1, "AFRAC_X": -2, "AOVF": 1, "AW": 6}),
    ("cs_add", {"ASH": 2, "FSHIFT": -1, "RRND": 5, "ROVF": 3}),
    ("cs_fifo", {"DEPTH": 5}),
    ("cs_fifo", {"DEPTH": 5, "BRAM": 1}),
    ("cs_out_reg", {"WIDTH": 5}),
    ("cs_out_reg", {"WIDTH": 0}),
]


def _lint(files: list[str], top: str, params: dict, cwd) -> subprocess.CompletedProcess:
    configure_verilator()
    cmd = [str(verilator_root() / "bin" / "verilator"), "--lint-only", "-Wall",
           f"-I{cwd}", "--top-module", top, *(f"-G{k}={v}" for k, v in params.items()), *files]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("top,params", CASES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CASES)])
def test_engine_lint_clean(top, params):
    hw = hw_dir()
    proc = _lint([str(hw / f) for f in HW_FILES], top, params, hw)
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr[-3000:]


def test_generated_top_lint_clean(digits_qnet, tmp_path):
    generate_rtl(digits_qnet, tmp_path)
    files = (tmp_path / "files.f").read_text().split()
    proc = _lint(files, "cs_top", {}, tmp_path)
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr[-3000:]


def test_pipelined_top_lint_clean(tmp_path):
    """A random all-graph network at 450 MHz: its graphs hold register stages."""
    from dataclasses import replace

    from codesign.qnet import QuantizedNet

    from .randnet import random_qnet

    q, _ = random_qnet(22, False, True)
    fast = QuantizedNet(q.graph, replace(q.design, clock_mhz=450), q.weights, q.biases)
    generate_rtl(fast, tmp_path)
    assert "always_ff" in "".join(p.read_text() for p in tmp_path.glob("cs_mvm*.sv"))
    files = (tmp_path / "files.f").read_text().split()
    proc = _lint(files, "cs_top", {}, tmp_path)
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr[-3000:]


def test_generated_mac_top_lint_clean(tmp_path):
    from .test_rtl_mac import mac_network

    qnet, _ = mac_network(1)
    generate_rtl(qnet, tmp_path)
    files = (tmp_path / "files.f").read_text().split()
    proc = _lint(files, "cs_top", {}, tmp_path)
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr[-3000:]


def test_every_hw_file_is_one_module_named_after_it():
    for f in HW_FILES:
        text = (hw_dir() / f).read_text()
        modules = [line.split()[1] for line in text.splitlines()
                   if line.startswith("module ")]
        assert modules == [f.removesuffix(".sv")], (f, modules)
        for banned in ("import ", " inside ", "'{", "return "):
            assert banned not in text, (f, banned)


def test_every_hw_include_is_included_and_declares_no_module():
    """An `include file is text pasted into a parameter list: no module of its own, and
    read by some engine (else it is dead and need not ship)."""
    engines = "".join((hw_dir() / f).read_text() for f in HW_FILES)
    for f in HW_INCLUDES:
        text = (hw_dir() / f).read_text()
        assert not any(line.startswith("module ") for line in text.splitlines()), f
        assert f'`include "{f}"' in engines, f
