"""A design is used only with its model, and a quantized.npz only with its design.yaml;
with --json every error is one JSON object on stdout."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from codesign.cli.main import main
from codesign.errors import DesignError
from codesign.qnet import QuantizedNet


@pytest.fixture()
def saved(digits_qnet8, tmp_path):
    return digits_qnet8.save(tmp_path / "d")


def _edit_yaml(path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_eval_refuses_a_design_made_for_another_model(saved, capsys):
    assert main(["eval", "digits_wide", "--design", str(saved)]) == 1
    err = capsys.readouterr().err
    assert "made for model digits_cnn, not digits_wide" in err


def test_eval_refuses_another_network_without_a_model_name(digits_qnet8, tmp_path, capsys):
    """A design that records no model (made through the API) is compared layer by layer."""
    from dataclasses import replace

    q = digits_qnet8
    anonymous = QuantizedNet(q.graph, replace(q.design, model=None), q.weights, q.biases)
    path = anonymous.save(tmp_path / "anon")
    assert main(["eval", "digits_wide", "--design", str(path), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["exit_code"] == 1
    assert "made for another network than digits_wide" in out["error"]
    assert main(["eval", "digits_cnn", "--design", str(path), "--samples", "20"]) == 0


def test_quantize_refuses_a_template_made_for_another_model(saved, tmp_path, capsys):
    code = main(["quantize", "digits_wide", "--design", str(saved), "--out",
                 str(tmp_path / "q"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out == {"error": out["error"], "exit_code": 1}
    assert "digits_cnn" in out["error"] and "digits_wide" in out["error"]
    assert not (tmp_path / "q").exists()


def test_npz_with_a_changed_weight_type_is_refused(saved, digits_qnet8):
    first = digits_qnet8.graph.weighted[0].name
    old = str(digits_qnet8.design[first].weight)
    new = "ap_fixed<8,7,AP_RND_CONV,AP_SAT>"
    assert new != old
    _edit_yaml(saved, lambda d: d["layers"][first].update(weight=new))
    with pytest.raises(DesignError, match=f"layer '{first}' had weight {old}"):
        QuantizedNet.load(saved)


def test_npz_of_another_design_is_refused(saved, digits_qnet8, tmp_path, capsys):
    """quantized.npz copied in from a design of another model."""
    other = digits_qnet8.design
    from dataclasses import replace

    wide = QuantizedNet(digits_qnet8.graph, replace(other, model="digits_wide"),
                        digits_qnet8.weights, digits_qnet8.biases).save(tmp_path / "w")
    shutil.copy(wide.parent / "quantized.npz", saved.parent / "quantized.npz")
    assert main(["emit", str(saved), "--out", str(tmp_path / "hls"), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert "written for model digits_wide, the design names digits_cnn" in out["error"]


def test_npz_without_its_stamp_is_refused(saved, digits_qnet8, capsys):
    """Without the design.json record a weight type edited in the YAML would reinterpret
    the integers silently (issue 23, item 7): such a file is refused by name."""
    import numpy as np

    npz = saved.parent / "quantized.npz"
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files if k != "design.json"}
    np.savez_compressed(npz, **arrays)
    first = digits_qnet8.graph.weighted[0].name
    edited = "ap_fixed<8,7,AP_RND_CONV,AP_SAT>"
    _edit_yaml(saved, lambda d: d["layers"][first].update(weight=edited))
    assert main(["eval", "digits_cnn", "--design", str(saved), "--samples", "20", "--json"]) == 1
    err = json.loads(capsys.readouterr().out)["error"]
    assert str(npz) in err and "'design.json'" in err and "codesign quantize" in err


def test_result_types_may_change_after_quantization(saved, digits_qnet8):
    """Only the types the saved integers lie on are pinned; results may be explored."""
    last = digits_qnet8.graph.weighted[-1].name
    _edit_yaml(saved, lambda d: d["layers"][last].update(result="ap_fixed<10,5,AP_RND,AP_SAT>"))
    assert str(QuantizedNet.load(saved).design[last].result) == "ap_fixed<10,5,AP_RND,AP_SAT>"


def test_usage_errors_are_json_too(capsys):
    with pytest.raises(SystemExit) as exc:  # argparse's usage-error exit, status 2
        main(["eval", "digits_cnn", "--json"])
    assert exc.value.code == 2
    out = json.loads(capsys.readouterr().out)
    assert out["exit_code"] == 2 and "--design" in out["error"]


def test_plain_errors_leave_stdout_empty(saved, capsys):
    assert main(["eval", "digits_wide", "--design", str(saved)]) == 1
    assert capsys.readouterr().out == ""
