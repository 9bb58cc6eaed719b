"""`codesign synth` fails loudly when place and route misses the clock (exit status 3 and
a banner), and on Xilinx holds the logic depth against the delay model's budget."""

from __future__ import annotations

import json

import pytest

from codesign.cli.main import main
from codesign.devices import get_device
from codesign.synth.clock import TIMING_EXIT, clock_check, depth_budget


@pytest.mark.parametrize("margin, status", [(0.8, 0), (1.25, TIMING_EXIT)])
def test_synth_exit_status_follows_the_measured_fmax(synth_ecp5, tiny_design, tmp_path,
                                                     monkeypatch, capsys, margin, status):
    _, measured = synth_ecp5  # a real nextpnr-ecp5 run of the tiny design
    fmax = measured["fmax_mhz"]
    monkeypatch.setattr("codesign.cli.cmd_synth.synthesize", lambda *a, **k: dict(measured))
    clock = round(fmax * margin, 1)
    code = main(["synth", str(tiny_design), "--device", "lfe5u-25f", "--clock-mhz",
                 str(clock), "--out", str(tmp_path / "s"), "--json"])
    assert code == status
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["clock"]["met"] is (status == 0)
    assert out["clock"]["fmax_mhz"] == fmax and out["clock"]["target_mhz"] == clock
    assert ("TIMING NOT MET" in captured.err) is (status != 0)


def test_xilinx_depth_is_shown_beside_the_delay_models_levels(synth_xc7):
    """No place and route for Xilinx parts: the depth is reported with the LUT levels the
    delay model fits in a period, and the clock is never called met or missed."""
    _, measured = synth_xc7
    xc7 = get_device("xc7a35t")
    # xc7 delay model: 1.0 ns registers + 0.8 ns a level -> 11 levels at 100 MHz, 1 at 500
    assert depth_budget(xc7, 100.0) == 11 and depth_budget(xc7, 500.0) == 1
    for clock in (10.0, 1000.0):
        check = clock_check(measured, xc7, clock)
        assert check["met"] is None and check["logic_depth"] == measured["logic_depth"]
        assert check["depth_budget"] == depth_budget(xc7, clock)
