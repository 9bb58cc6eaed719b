"""`codesign quantize --uniform W` for every width it accepts (1..32) either refuses by
name (the layer, the tensor and the limit) or writes a design that emit and rtl accept
(issue 23, item 5: 1, 2 and 16 bits were written but refused by emit; from 28 bits up the
error named no layer). The cheap checks for every width; the hls4ml conversion (no
compile) at 16 bits, which failed there, and at 3 bits, with the RTL generation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from codesign.cli.main import main
from codesign.emit.hls_checks import check_emittable
from codesign.qnet import QuantizedNet

REFUSAL = re.compile(r"layer '\w+'.*\b(weight|bias|accumulator)s?\b.*\b\d+\b")


@pytest.fixture(scope="module")
def outcomes(digits_cnn_trained, tmp_path_factory) -> dict[int, tuple[int, dict]]:
    """width -> (exit code, JSON result) of `quantize digits_cnn --uniform width`."""
    import contextlib
    import io

    root = tmp_path_factory.mktemp("widths")
    found = {}
    for width in range(1, 33):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main(["quantize", "digits_cnn", "--uniform", str(width), "--out",
                         str(root / str(width)), "--calib-samples", "128", "--json"])
        found[width] = (code, json.loads(out.getvalue()))
    return found


def test_every_width_is_refused_by_name_or_emittable(outcomes) -> None:
    for width, (code, result) in outcomes.items():
        if code == 0:
            qnet = QuantizedNet.load(result["design"])
            check_emittable(qnet, "io_parallel")
            check_emittable(qnet, "io_stream")
        else:
            assert code == 1 and REFUSAL.search(result["error"]), (width, result)
    written = {w for w, (code, _) in outcomes.items() if code == 0}
    assert {3, 8, 16} <= written
    for width in (1, 2):  # digits_cnn's first conv has weights beyond +-2
        assert "use weights of at least 3 bits" in outcomes[width][1]["error"]
    assert 28 not in written and "layer 'conv2d_0'" in outcomes[28][1]["error"]


@pytest.mark.parametrize("width", [3, 16])
def test_emit_converts_the_written_design(outcomes, tmp_path: Path, capsys, width) -> None:
    """hls4ml's own conversion (its float32 reading of weights and biases included)."""
    design = outcomes[width][1]["design"]
    assert main(["emit", design, "--out", str(tmp_path / "hls"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(tmp_path / "hls")


@pytest.mark.parametrize("width", [3])
def test_rtl_generates_the_written_design(outcomes, tmp_path: Path, capsys, width) -> None:
    design = outcomes[width][1]["design"]
    assert main(["rtl", design, "--out", str(tmp_path / "rtl"), "--json"]) == 0
    assert (tmp_path / "rtl" / "cs_top.sv").is_file()
