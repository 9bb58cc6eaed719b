"""`codesign quantize --design D --keep-types`: D's types kept as written, weights on them,
a warning for every tensor they cannot hold; the default path lists what it changed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from codesign.cli.main import main
from codesign.design import DesignPoint
from codesign.fixed import FixedType
from codesign.qnet import QuantizedNet
from codesign.quant.keep_types import saturation

CONV_W = "ap_fixed<6,1,AP_RND_CONV,AP_SAT>"  # the trained conv2d_0 weights reach about 2
RELU = "ap_ufixed<8,1,AP_RND,AP_SAT>"  # relu_2 activations reach about 3.6
DENSE_W = "ap_fixed<8,0>"  # truncating, wrapping: dense weights reach about 0.9


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def edited(tmp_path: Path, digits_qnet8) -> Path:
    """The 8-bit digits design with three types narrowed by hand, as an engineer would."""
    data = yaml.safe_load(digits_qnet8.design.save(tmp_path / "base.yaml").read_text())
    data["layers"]["conv2d_0"]["weight"] = CONV_W
    data["layers"]["relu_2"]["result"] = RELU
    for field in ("result", "accum"):  # a max pool keeps its input's type
        data["layers"]["maxpool2d_3"][field] = RELU
    data["layers"]["dense_9"]["weight"] = DENSE_W
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_keep_types_round_trip_and_warnings(capsys, tmp_path: Path, edited: Path,
                                            quant_graph, quant_digits) -> None:
    code, out, err = _run(capsys, "quantize", "digits_cnn", "--design", str(edited),
                          "--keep-types", "--out", str(tmp_path / "kt"), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["method"] == "keep-types" and result["verified_samples"] == 359
    written, wanted = QuantizedNet.load(result["design"]), DesignPoint.load(edited)
    assert written.design.input == wanted.input and written.design.layers == wanted.layers

    # weights on the written types: conv2d_0 rounds half to even (np.round) and saturates
    w = quant_graph["conv2d_0"].weight
    assert np.array_equal(written.weights["conv2d_0"], np.clip(np.round(w * 32), -32, 31))
    # dense_9 truncates and wraps into 8 bits
    w = quant_graph["dense_9"].weight
    wrapped = (np.floor(w * 256).astype(np.int64) + 128) % 256 - 128
    assert np.array_equal(written.weights["dense_9"], wrapped)

    by_tensor = {(s["layer"], s["tensor"]): s for s in result["saturations"]}
    conv = by_tensor[("conv2d_0", "weight")]
    m = np.round(quant_graph["conv2d_0"].weight * 32)
    assert conv["count"] == int(((m < -32) | (m > 31)).sum()) > 0
    assert conv["high"] == float(quant_graph["conv2d_0"].weight.max()) > conv["type_max"]
    assert (conv["type_min"], conv["type_max"], conv["effect"]) == (-1.0, 0.96875, "saturate")
    acts = quant_graph.forward(quant_digits.x_train[:512], return_all=True)["relu_2"].numpy()
    relu = by_tensor[("relu_2", "result")]
    assert relu["count"] == int((acts * 128 >= 255.5).sum()) > 0  # RND: half rounds up
    assert relu["total"] == acts.size and relu["type"] == RELU
    m = np.floor(quant_graph["dense_9"].weight * 256)
    assert by_tensor[("dense_9", "weight")]["count"] == int(((m < -128) | (m > 127)).sum())
    assert by_tensor[("dense_9", "weight")]["effect"] == "wrap"
    assert ("maxpool2d_3", "result") not in by_tensor  # it only passes relu_2's values on
    assert result["type_changes"] == []
    for s in result["saturations"]:  # one warning on stderr per tensor
        assert f"warning: layer {s['layer']!r}: {s['count']} of {s['total']}" in err
    assert f"{conv['count']} of 72 weights saturate in {CONV_W}" in err


def test_default_path_lists_every_changed_type(capsys, tmp_path: Path, edited: Path) -> None:
    code, out, _ = _run(capsys, "quantize", "digits_cnn", "--design", str(edited), "--out",
                        str(tmp_path / "re"), "--json")
    assert code == 0
    result = json.loads(out)
    before = yaml.safe_load(edited.read_text())
    after = yaml.safe_load(Path(result["design"]).read_text())
    want = [{"layer": name, "field": field, "from": impl[field],
             "to": after["layers"][name][field]}
            for name, impl in before["layers"].items() for field in impl
            if field in ("result", "weight", "bias", "accum")
            and impl[field] != after["layers"][name][field]]
    if before["input"] != after["input"]:
        want.insert(0, {"layer": "input", "field": "result", "from": before["input"],
                        "to": after["input"]})
    assert result["type_changes"] == want
    assert {"layer": "conv2d_0", "field": "weight", "from": CONV_W,
            "to": after["layers"]["conv2d_0"]["weight"]} in want
    code, out, _ = _run(capsys, "quantize", "digits_cnn", "--design", str(edited), "--out",
                        str(tmp_path / "re"), "--force")
    assert f"{len(want)} types changed from {edited}" in out
    assert f"conv2d_0 weight: {CONV_W} -> {after['layers']['conv2d_0']['weight']}" in out


def test_a_design_that_fits_warns_about_nothing(capsys, tmp_path: Path, digits_qnet8) -> None:
    design = digits_qnet8.save(tmp_path / "d8")
    code, out, err = _run(capsys, "quantize", "digits_cnn", "--design", str(design),
                          "--keep-types", "--out", str(tmp_path / "kt"))
    assert code == 0 and "warning" not in err
    assert "every weight and calibration value fits its type" in out
    again = QuantizedNet.load(tmp_path / "kt" / "design.yaml")
    for name, w in digits_qnet8.weights.items():  # calibrated types: the same weights
        assert np.array_equal(again.weights[name], w)


@pytest.mark.parametrize("argv,message", [
    (["--uniform", "8", "--keep-types"], "--keep-types keeps the types of a design"),
    (["--keep-types", "--method", "lsq"], "does not combine with --method lsq"),
    (["--keep-types", "--data-free"], "--data-free"),
])
def test_keep_types_bad_combinations(capsys, tmp_path: Path, digits_qnet8, argv, message
                                     ) -> None:
    design = digits_qnet8.save(tmp_path / "d8")
    if "--uniform" not in argv:
        argv = ["--design", str(design), *argv]
    code, _, err = _run(capsys, "quantize", "digits_cnn", "--out", str(tmp_path / "x"), *argv)
    assert code == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize("text,values,count", [
    # frac 3: max 0.875, min -1. 0.9375 is half an lsb above the max.
    ("ap_fixed<4,1,AP_RND,AP_SAT>", [0.9375, 0.9, -1.0625, -1.0], 1),  # -1.0625 -> -1
    ("ap_fixed<4,1,AP_TRN,AP_SAT>", [0.9375, 0.99, -1.0625, -1.0], 1),  # -1.0625 -> -1.125
    # frac 2: -0.1 rounds to 0 and fits, -0.2 to -1, 1.875 (half above 1.75) to 2
    ("ap_ufixed<3,1,AP_RND,AP_SAT>", [-0.1, -0.2, 1.75, 1.875], 2),
    ("ap_fixed<4,6>", [-32.0, 31.0, 28.0, 32.0, 100.0], 2),  # lsb 4: 31 truncates to 28
])
def test_saturation_counts_after_rounding(text: str, values: list, count: int) -> None:
    found = saturation("x", "weight", np.array(values), FixedType.parse(text))
    assert found is not None and found.count == count
    assert (found.low, found.high) == (min(values), max(values))


def test_python_api(edited: Path, quant_graph, quant_digits) -> None:
    import codesign

    design = codesign.DesignPoint.load(edited)
    kept = codesign.keep_types(quant_graph, design, quant_digits.x_train[:64])
    assert kept.qnet.design == design
    assert {(s.layer, s.tensor) for s in kept.saturations} >= {("conv2d_0", "weight"),
                                                               ("dense_9", "weight")}
    calibrated = codesign.calibrate_design(quant_graph, quant_digits.x_train[:512],
                                           codesign.Widths.from_design(design), base=design)
    changes = codesign.type_changes(design, calibrated)
    assert [(c.layer, c.field) for c in changes if c.layer == "conv2d_0"][0] == \
        ("conv2d_0", "weight")
    assert all(str(getattr(design[c.layer], c.field)) == c.old for c in changes
               if c.layer != "input")
    assert all(str(getattr(calibrated[c.layer], c.field)) == c.new for c in changes
               if c.layer != "input")
