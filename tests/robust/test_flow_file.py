"""Flow files of the wrong shape (found by the property tests): a mapping where a list
is expected is named by file, line and key, not a traceback from the schema loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robust.conftest import assert_named_error, cli

FLOW = """name: digits
model:
  zoo: digits_cnn
target:
  devices: {devices}
quantize:
  methods: [calibrate]
  bits: {bits}
"""


@pytest.mark.parametrize("devices, bits, where", [
    ("[xc7a100t]", "{}", "quantize.bits"),
    ("{xc7a100t: 1}", "[4]", "target.devices"),
])
def test_a_mapping_for_a_list_is_named(capsys, tmp_path: Path, devices: str, bits: str,
                                       where: str) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.format(devices=devices, bits=bits))
    outcome = cli(capsys, "run", flow, "--runs-dir", tmp_path / "runs", "--json")
    message = assert_named_error(outcome, json_mode=True)
    assert f"{flow}:" in message and where in message
    assert not (tmp_path / "runs").exists()
