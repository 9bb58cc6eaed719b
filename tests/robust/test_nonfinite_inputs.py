"""Inputs the property tests found accepted although they mean nothing (an infinite
clock or budget, printed as `Infinity`, which is not JSON): named errors, not a result."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.robust.conftest import assert_named_error, cli


@pytest.mark.parametrize("clock", [".inf", "-.inf", ".nan", "true", "0", "fast"])
def test_a_clock_that_is_not_a_positive_number_is_named(capsys, tmp_path: Path,
                                                        saved_design8: Path,
                                                        clock: str) -> None:
    shutil.copytree(saved_design8.parent, tmp_path / "d")
    design = tmp_path / "d" / "design.yaml"
    text = design.read_text()
    assert "\nclock_mhz: " in text
    design.write_text("\n".join(f"clock_mhz: {clock}" if line.startswith("clock_mhz:")
                                else line for line in text.splitlines()))
    outcome = cli(capsys, "rtl", design, "--out", tmp_path / "rtl", "--json")
    assert "clock_mhz must be a positive number" in assert_named_error(outcome, json_mode=True)
    assert not (tmp_path / "rtl").exists()


@pytest.mark.parametrize("budget", ["lut=inf", "lut=nan", "latency=-inf", "size=inf"])
def test_a_budget_that_is_not_finite_is_named(capsys, tmp_path: Path, budget: str) -> None:
    """`lut=inf` was accepted and echoed as Infinity under --json; `nan` fitted nothing."""
    outcome = cli(capsys, "allocate", "digits_cnn", "--sensitivity", tmp_path / "t.yaml",
                  "--device", "xc7a35t", f"--budget={budget}", "--out", tmp_path / "a",
                  "--json")
    assert "is not a finite number" in assert_named_error(outcome, json_mode=True)
    assert not (tmp_path / "a").exists()
