"""`codesign rtl`: generation, the --force guard, and a --sim --json run on digits
(reusing the session's Verilator build: same sources, same content hash)."""

from __future__ import annotations

import json

from codesign.cli.main import main


def test_rtl_generates_and_refuses_to_overwrite(digits_qnet, tmp_path, capsys):
    design = digits_qnet.save(tmp_path / "d")
    assert main(["rtl", str(design), "--out", str(tmp_path / "rtl")]) == 0
    files = (tmp_path / "rtl" / "files.f").read_text().split()
    assert files[-1] == "cs_top.sv" and all((tmp_path / "rtl" / f).is_file() for f in files)
    capsys.readouterr()
    assert main(["rtl", str(design), "--out", str(tmp_path / "rtl")]) == 1
    assert "--force" in capsys.readouterr().err


def test_rtl_sim_json(digits_qnet, digits_build, tmp_path, capsys):
    design = digits_qnet.save(tmp_path / "d")
    code = main(["rtl", str(design), "--out", str(tmp_path / "rtl"), "--sim", "--samples", "30",
                 "--stress", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] and out["build_cached"]
    timing, stress = out["runs"]
    assert timing["bit_exact"] == 30 and stress["bit_exact"] == 30
    assert timing["cycles_equal"] and timing["predicted_cycles"] == timing["measured_cycles"]
    assert out["predicted_latency"] == timing["measured_cycles"]["latency"]


def test_rtl_testbench_arguments(digits_qnet, tmp_path, capsys):
    """--testbench writes a suite (RTL beside it without --out); --rtl/--top need it; an
    existing suite is kept without --force; the suite names the user's file list."""
    design = digits_qnet.save(tmp_path / "d")
    assert main(["rtl", str(design)]) == 1
    assert "--out DIR" in capsys.readouterr().err
    assert main(["rtl", str(design), "--out", str(tmp_path / "r"), "--top", "x"]) == 1
    assert "need --testbench" in capsys.readouterr().err
    mine = tmp_path / "mine" / "files.f"
    mine.parent.mkdir()
    mine.write_text("wrapper.sv\n")
    assert main(["rtl", str(design), "--testbench", str(tmp_path / "tb"), "--samples", "5",
                 "--rtl", str(mine), "--top", "my_top", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    suite = json.loads((tmp_path / "tb" / "suite.json").read_text())
    assert (suite["top"], suite["sources"]) == ("my_top", "../mine/files.f")
    assert out["testbench"]["top"] == "my_top" and (tmp_path / "tb" / "rtl" / "cs_top.sv").is_file()
    assert len((tmp_path / "tb" / "vectors" / "expected.hex").read_text().split()) == 5
    assert suite["timing"]["latency"] == out["predicted_latency"]
    assert main(["rtl", str(design), "--testbench", str(tmp_path / "tb"), "--out",
                 str(tmp_path / "r2"), "--json"]) == 1
    err = json.loads(capsys.readouterr().out)["error"]
    assert "already holds a regression suite" in err and not (tmp_path / "r2").exists()


def test_rtl_prefix(digits_qnet, tmp_path, capsys):
    """--prefix names the top and the generated modules apart; a bad one is refused."""
    design = digits_qnet.save(tmp_path / "d")
    assert main(["rtl", str(design), "--out", str(tmp_path / "rtl"), "--prefix", "acc1_",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["top"] == "acc1_cs_top"
    manifest = json.loads((tmp_path / "rtl" / "manifest.json").read_text())
    assert manifest["top"] == "acc1_cs_top" and manifest["files"][-1] == "acc1_cs_top.sv"
    generated = [f for f in manifest["files"] if "mvm" in f]
    assert generated and all(f.startswith("acc1_cs_mvm") for f in generated)
    assert main(["rtl", str(design), "--out", str(tmp_path / "r2"), "--prefix", "9x",
                 "--json"]) == 1
    assert "not a SystemVerilog identifier" in json.loads(capsys.readouterr().out)["error"]


def test_rtl_sim_with_relative_paths_builds_uncached(tmp_path, monkeypatch, capsys):
    """The documented `codesign rtl D --out DIR --sim` with relative DIR (and build
    folder): Verilator runs in its build folder, so a relative path was joined twice
    (issue 23, item 1). A tiny design in an empty build folder, so the build really runs."""
    import torch
    from torch import nn

    from codesign.data import load_dataset
    from codesign.ir import Graph
    from codesign.qnet import QuantizedNet
    from codesign.quant.calibrate import Widths, calibrate_design

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.ReLU(), nn.Flatten(),
                        nn.Linear(18, 3)).eval()
    graph = Graph.from_torch(net, (1, 8, 8))
    design = calibrate_design(graph, load_dataset("digits").x_train[:64], Widths(4, 4))
    QuantizedNet.from_float(graph, design).save(tmp_path / "d")
    monkeypatch.chdir(tmp_path)
    code = main(["rtl", "d/design.yaml", "--out", "r", "--sim", "--samples", "3",
                 "--build-dir", "builds", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] and out["build_cached"] is False
    assert out["runs"][0]["bit_exact"] == 3 and out["runs"][0]["cycles_equal"]
    assert (tmp_path / "r" / "sim" / "timing" / "stim.npz").is_file()
    assert any((tmp_path / "builds").iterdir())
