"""A damaged quantized.npz: every command that loads a design names the file and says
what to do (exit 1, one JSON object under --json), instead of numpy's traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.robust.conftest import assert_named_error, cli


def _arrays(npz: Path) -> dict[str, np.ndarray]:
    with np.load(npz) as z:
        return {k: z[k] for k in z.files}


def _damage(npz: Path, how: str) -> None:
    data = npz.read_bytes()
    if how == "empty":
        npz.write_bytes(b"")
    elif how == "truncated":
        npz.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        npz.write_bytes(b"this is not an archive\n" * 40)
    elif how == "single array":
        with npz.open("wb") as f:
            np.save(f, np.arange(5))
    elif how == "bad graph json":
        np.savez(npz, **(_arrays(npz) | {"graph.json": np.array("{not json")}))
    elif how == "unknown compression":  # zipfile's NotImplementedError (property tests)
        at = data.index(b"PK\x01\x02") + 10  # the first central directory entry's method
        npz.write_bytes(data[:at] + b"\x63\x00" + data[at + 2:])
    elif how == "no integer weights":
        np.savez(npz, **{k: v for k, v in _arrays(npz).items() if not k.startswith("int/")})
    else:
        raise AssertionError(how)


DAMAGE = ["empty", "truncated", "garbage", "single array", "unknown compression",
          "bad graph json", "no integer weights"]
# every command that loads a design (the model-free ones first: no dataset is read)
COMMANDS = {
    "cost": lambda d, tmp: ["cost", d],
    "emit": lambda d, tmp: ["emit", d, "--out", tmp / "hls"],
    "rtl": lambda d, tmp: ["rtl", d, "--out", tmp / "rtl"],
    "synth": lambda d, tmp: ["synth", d, "--out", tmp / "syn"],
    "eval": lambda d, tmp: ["eval", "digits_cnn", "--design", d],
}


@pytest.mark.parametrize("how", DAMAGE)
@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "text"])
def test_damaged_weights_file_is_named(capsys, tmp_path: Path, saved_design8: Path,
                                       how: str, command: str, json_mode: bool) -> None:
    design_dir = tmp_path / "design"
    shutil.copytree(saved_design8.parent, design_dir)
    _damage(design_dir / "quantized.npz", how)
    argv = COMMANDS[command](design_dir / "design.yaml", tmp_path)
    outcome = cli(capsys, *argv, *(["--json"] if json_mode else []))
    message = assert_named_error(outcome, json_mode=json_mode)
    assert str(design_dir / "quantized.npz") in message
    assert "codesign quantize" in message  # what to do about it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["design"]  # nothing written
