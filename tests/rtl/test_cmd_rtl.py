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
