"""bench/fit.py's table and summary on canned allocate results (no synthesis): the
shares it reports are the issue's targets, so they are checked by hand here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from codesign.alloc.budget import Budget

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fit():
    spec = importlib.util.spec_from_file_location("bench_fit", ROOT / "bench" / "fit.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_fit"] = mod  # its dataclass looks its module up
    spec.loader.exec_module(mod)
    return mod


DEVICE = {"lut": 1000.0, "ff": 2000.0, "dsp": 10.0, "bram": 4.0}


def _point(method: str, omega: float, lut: float, dsp: float = 2.0) -> dict:
    return {"method": method, "point": 0, "omega": omega, "lut": lut, "ff": 100.0,
            "dsp": dsp, "bram": 1.0}


def _measured(lut: float, yosys_lut: float, dsp: float = 2.0, yosys_ff: float = 90.0
              ) -> dict:
    return {"cost": {"lut": lut, "ff": 100.0, "dsp": dsp, "bram": 1.0,
                     "band": {"lut": {"high": round(lut * 1.4)}, "ff": {"high": 103}}},
            "yosys": {"lut": yosys_lut, "ff": yosys_ff, "dsp": dsp, "bram": 1.0}}


def test_rows_judge_yosys_against_the_budget_and_the_device(fit):
    budget = Budget({"lut": 500.0})
    result = {"points": [_point("exact", 1.0, 400), _point("uniform", 2.0, 400),
                         _point("ascend-descend", 1.5, 400)]}
    measured = [_measured(400, 480), _measured(400, 520), _measured(400, 1200)]
    rows = fit.rows_for("net", budget, DEVICE, "band", result, measured)
    assert [(r["in_budget"], r["in_device"]) for r in rows] == [
        (True, True), (False, True), (False, False)]
    failed = fit.rows_for("net", budget, DEVICE, "band", {"error": "no design fits",
                                                          "points": []}, [])
    assert failed[0]["error"] == "no design fits" and "in_budget" not in failed[0]
    text = fit.table(rows + failed)
    assert text.count("\n") == 4 and "NO" in text and "no design fits" in text


def test_summary_counts_misses_errors_and_model_agreement(fit):
    budget = Budget({"lut": 500.0})
    band = fit.rows_for("net", budget, DEVICE, "band", {"points": [
        _point("exact", 1.0, 400), _point("uniform", 3.0, 450, dsp=3)]},
        [_measured(420, 480), _measured(450, 600, dsp=2)])  # uniform: 600 > 500 LUT
    check = fit.rows_for("net", budget, DEVICE, "synth-check",
                         {"points": [_point("exact", 1.0, 400)],
                          "synth_check": {"iterations": [{}, {}], "claim": "fits by Yosys"}},
                         [_measured(400, 480)])
    failed = fit.rows_for("net2", budget, DEVICE, "band", {"error": "x", "points": []}, [])
    s = fit.summary(band + check + failed)
    assert s["fits_band"] == {"fit": 1, "of": 2, "share": 0.5, "refused": ["net2 lut=500"]}
    assert s["fits_synth-check"] == {"fit": 1, "of": 1, "share": 1.0, "refused": []}
    assert check[0]["iterations"] == 2
    a = s["alloc_vs_cost"]
    assert a["of"] == 3 and a["lut_max_abs"] == pytest.approx(20 / 420)  # 400 vs 420
    assert a["lut_within_5pct"] == 3 and a["dsp_exact"] == 2 and a["bram_exact"] == 3
    assert s["band_coverage"]["lut"] == {"covered": 3, "of": 3}  # 1.4 x cost >= Yosys
    assert s["band_coverage"]["ff"] == {"covered": 3, "of": 3}
    assert s["omega_vs_exact"] == {"exact": 1.0, "uniform": 3.0}
    text = fit.summary_text(s)
    assert "1/2 (50%); no design returned (refused) at 1: net2 lut=500" in text
    assert "1/1 (100%)" in text and "DSP exact 2/3" in text
