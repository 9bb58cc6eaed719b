"""Error bands: quantiles of the stored cross-validated residuals, printed by `codesign
cost`, and what `codesign allocate --confidence` plans against."""

from __future__ import annotations

import json

import pytest

from codesign.cost import bands
from codesign.errors import CodesignError

# 21 residuals 0.00, 0.01, ..., 0.20 (LUT) and -0.10..+0.10 (FF)
FIT = {"families": {"default": {}},
       "bands": {"provenance": {"bench": "bench/cost_model.py", "yosys": "0.70",
                                "date": "2026-12-07", "folds": 2, "designs": 21},
                 "fast": {"xc7": {"lut": [i / 100 for i in range(21)],
                                  "ff": [i / 100 - 0.1 for i in range(21)]}},
                 "structural": {"xc7": {"lut": [i / 100 for i in range(21)]}}}}


@pytest.fixture
def with_bands(monkeypatch):
    monkeypatch.setattr(bands, "load_fit", lambda name: FIT)


def test_band_is_the_quantiles_of_the_residuals():
    b = bands.band("fast", "xc7", "lut", 0.95, FIT)
    assert b == {"lower": 0.01, "upper": 0.19, "n": 21}  # 5% and 95% of 0..0.20
    assert bands.band("fast", "xc7", "lut", 0.5, FIT)["upper"] == 0.10
    assert bands.band("fast", "ecp5", "lut", 0.95, FIT) is None  # not measured
    with pytest.raises(CodesignError, match="between 0 and 1"):
        bands.band("fast", "xc7", "lut", 1.5, FIT)


def test_planning_margins_never_loosen(with_bands):
    assert bands.planning_margins("fast", "xc7", 0.95) == {"lut": 0.19, "ff": 0.09}
    assert bands.planning_margins("fast", "xc7", 0.05) == {"lut": 0.01, "ff": 0.0}
    assert bands.planning_margins("fast", "xc7", 0) == {}


def test_cost_prints_the_band(with_bands, tmp_path, capsys, digits_qnet8):
    from codesign.cli.main import main

    path = digits_qnet8.save(tmp_path / "d")
    assert main(["cost", str(path), "--device", "xc7z020", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["band"]["lut"]["upper"] == 0.19 and "ff" not in r["band"]
    assert r["band"]["lut"]["high"] == round(r["lut"] * 1.19)
    assert main(["cost", str(path), "--device", "xc7z020"]) == 0
    out = capsys.readouterr().out
    assert "error band" in out and "+19.0% at 95%" in out and "2-fold" in out
    assert main(["cost", str(path), "--device", "lfe5u-25f"]) == 0
    assert "none measured for family ecp5" in capsys.readouterr().out
