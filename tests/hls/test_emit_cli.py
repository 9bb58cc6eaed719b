"""`codesign emit` refuses bad input with a message and the right exit code (no compile)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.cli.main import main


def _run(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_missing_design_file(capsys, tmp_path: Path) -> None:
    code, err = _run(capsys, "emit", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "o"))
    assert code == 1 and "none.yaml does not exist" in err and "Traceback" not in err


def test_bad_io_is_a_usage_error(capsys, tmp_path: Path) -> None:
    code, err = _run(capsys, "emit", "d.yaml", "--out", str(tmp_path), "--io", "serial")
    assert code == 2 and "invalid choice" in err


def test_foreign_directory_is_not_overwritten(capsys, tmp_path: Path, digits_qnet8) -> None:
    design = digits_qnet8.save(tmp_path / "d8")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, err = _run(capsys, "emit", str(design), "--out", str(out))
    assert code == 1 and "--force" in err
    assert (out / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("samples", ["0", "-3"])
def test_bad_sample_count(capsys, tmp_path: Path, digits_qnet8, samples: str) -> None:
    design = digits_qnet8.save(tmp_path / "d8")
    code, err = _run(capsys, "emit", str(design), "--out", str(tmp_path / "o"), "--csim",
                     "--samples", samples)
    assert code in (1, 2) and "samples" in err


def test_samples_write_tb_data_without_csim(capsys, tmp_path: Path, digits_qnet8) -> None:
    """--samples alone writes hls4ml's test-bench vectors (no compile): the dataset's first
    test images on the input grid and the bit-accurate outputs, one sample per line."""
    import json

    import numpy as np

    from codesign.data import load_dataset

    design = digits_qnet8.save(tmp_path / "d8")
    code = main(["emit", str(design), "--out", str(tmp_path / "hls"), "--samples", "7",
                 "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["tb_data"]["samples"] == 7 and "csim" not in out
    x = load_dataset("digits").x_test[:7]
    lines = Path(out["tb_data"]["outputs"]).read_text().split("\n")
    assert lines[-1] == "" and len(lines) == 8
    got = np.array([[float(v) for v in line.split(" ") if v] for line in lines[:-1]])
    assert np.array_equal(got, digits_qnet8.forward(x))
    lines = Path(out["tb_data"]["inputs"]).read_text().split("\n")[:-1]
    got = np.array([[np.float32(float(v)) for v in line.split(" ") if v] for line in lines])
    assert np.array_equal(got, digits_qnet8.design.input.quantize(x).reshape(7, -1))


def test_part_is_validated_before_writing(capsys, tmp_path: Path, digits_qnet8) -> None:
    """--part takes a Xilinx part number or a device of the table (issue 23, item 9)."""
    design = str(digits_qnet8.save(tmp_path / "d8"))
    for bad in ("lfe5u-25f", "foo", "xc7a35t cpg236"):
        code, err = _run(capsys, "emit", design, "--out", str(tmp_path / "o"), "--part", bad)
        assert code == 1 and f"--part {bad!r} is not a Xilinx part number" in err
        assert not (tmp_path / "o").exists()
    code, _ = _run(capsys, "emit", design, "--out", str(tmp_path / "o"), "--part", "xc7a100t")
    assert code == 0
    assert "xc7a100tcsg324-1" in (tmp_path / "o" / "hls4ml_config.yml").read_text()
