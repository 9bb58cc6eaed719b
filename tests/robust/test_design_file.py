"""Design files the property tests found accepted although they mean nothing: named
errors, not a result (an infinite clock printed `Infinity`, which is not JSON)."""

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
