"""`codesign quantize --uniform W` for every width it accepts (1..32) either refuses by
name (the layer, the tensor and the limit) or writes a design that emit and rtl accept
(issue 23, item 5: 1, 2 and 16 bits were written but refused by emit; from 28 bits up the
error named no layer). The cheap checks for every width; the hls4ml conversion (no
compile) at 16 bits, which failed there; at 2 bits, whose first conv has weights of
ap_fixed<2,3> (negative fraction bits), the C simulation against the bit-accurate model
and the values hls4ml writes; the RTL generation at 1 and 2 bits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from codesign.cli.main import main
from codesign.hls.checks import check_emittable
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
    assert {1, 2, 3, 8, 16} <= written
    assert 28 not in written and "layer 'conv2d_0'" in outcomes[28][1]["error"]


def test_narrow_widths_give_negative_fraction_bits(outcomes) -> None:
    """What the 1-2 bit tests below exercise: digits_cnn's first conv has weights beyond
    +-2, so at 1 and 2 bits its weight type has negative fraction bits."""
    for width in (1, 2):
        qnet = QuantizedNet.load(outcomes[width][1]["design"])
        assert qnet.design["conv2d_0"].weight.frac < 0, width


@pytest.mark.parametrize("width", [16])
def test_emit_converts_the_written_design(outcomes, tmp_path: Path, capsys, width) -> None:
    """hls4ml's own conversion (its float32 reading of weights and biases included)."""
    design = outcomes[width][1]["design"]
    assert main(["emit", design, "--out", str(tmp_path / "hls"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(tmp_path / "hls")


@pytest.fixture(scope="module")
def csim2(outcomes, tmp_path_factory) -> tuple[int, dict, Path]:
    """(exit code, JSON result, project) of `emit --csim --samples 50` on the 2-bit design
    (one compile, ~10 s)."""
    import contextlib
    import io

    out_dir = tmp_path_factory.mktemp("csim2") / "hls"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["emit", outcomes[2][1]["design"], "--out", str(out_dir), "--csim",
                     "--samples", "50", "--json"])
    return code, json.loads(out.getvalue()), out_dir


def test_csim_bit_identical_at_2_bits(csim2) -> None:
    code, result, _ = csim2
    assert code == 0, result
    assert result["csim"] == {"samples": 50, "outputs": 500, "identical_outputs": 500,
                              "identical_samples": 50, "ok": True}


def test_negative_fraction_weights_written_exactly(outcomes, csim2) -> None:
    """The project gives the F < 0 weight type to hls4ml as it is (ap_fixed<2,3> holds
    -4, -2, 0, 2) and the weight text holds exactly the design's values."""
    code, result, project = csim2
    assert code == 0, result
    qnet = QuantizedNet.load(outcomes[2][1]["design"])
    for name in ("conv2d_0", "conv2d_4", "dense_9"):
        t = qnet.design[name].weight
        defines = (project / "firmware" / "defines.h").read_text()
        spelled = re.search(rf"typedef (ap_u?fixed<[^>]*>) {name}_weight_t;", defines)
        assert spelled is not None, name
        width, integer = (int(v) for v in spelled.group(1).split("<")[1].split(",")[:2])
        assert (width, integer) == (t.width, t.integer), (name, spelled.group(1))
        header = next(h for h in (project / "firmware" / "weights").glob("w*.h")
                      if f"{name}_weight_t " in h.read_text())
        written = sorted(float(v) for v in header.with_suffix(".txt").read_text().split(","))
        expected = sorted((qnet.weights[name] * 2.0 ** -t.frac).ravel().tolist())
        assert written == expected, name


@pytest.mark.parametrize("width", [1, 2])
def test_rtl_generates_the_written_design(outcomes, tmp_path: Path, capsys, width) -> None:
    design = outcomes[width][1]["design"]
    assert main(["rtl", design, "--out", str(tmp_path / "rtl"), "--json"]) == 0
    assert (tmp_path / "rtl" / "cs_top.sv").is_file()
