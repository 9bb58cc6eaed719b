"""SensitivityTable: the allocator's input survives a round trip and refuses bad files."""

from __future__ import annotations

import pytest
import yaml

from codesign.errors import CodesignError
from codesign.sensitivity.table import LayerSensitivity, SensitivityTable


def _table() -> SensitivityTable:
    return SensitivityTable(
        "hessian", "digits_cnn", "digits", (2, 4),
        {"conv2d_0": LayerSensitivity("conv2d", 72, 0.01, {2: 0.5, 4: 0.01}, {2: 0.2, 4: 0.003},
                                      {"weight_trace": 0.7}),
         "relu_2": LayerSensitivity("relu", 0, None, None, {2: 0.1, 4: 0.002})},
        {"seed": 0})


def test_round_trip(tmp_path):
    path = _table().save(tmp_path / "t.yaml")
    back = SensitivityTable.load(path)
    assert back == _table()
    assert back.omega("conv2d_0", 2) == 0.5
    assert back.omega("relu_2", 4, "act") == 0.002
    assert back.weighted() == ["conv2d_0"]
    raw = yaml.safe_load(path.read_text())
    assert raw["format"] == "codesign-sensitivity/1" and raw["layers"]["conv2d_0"]["weight"][2]


def test_refuses_overwrite_without_force(tmp_path):
    path = _table().save(tmp_path / "t.yaml")
    with pytest.raises(CodesignError, match="exists; pass --force"):
        _table().save(path)
    _table().save(path, force=True)


def test_queries_name_what_is_missing():
    t = _table()
    with pytest.raises(CodesignError, match="no layer 'nope'.*conv2d_0, relu_2"):
        t.omega("nope", 2)
    with pytest.raises(CodesignError, match="3 bits is not a candidate width.*\\[2, 4\\]"):
        t.omega("conv2d_0", 3)
    with pytest.raises(CodesignError, match="layer 'relu_2' has no 'weight' sensitivity"):
        t.omega("relu_2", 2)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(extra=1), "unknown key(s) ['extra'] in the table"),
    (lambda d: d["layers"]["conv2d_0"].update(omega=1), "unknown key(s) ['omega'] in layer"),
    (lambda d: d.update(format="other/9"), "format is 'other/9'"),
    (lambda d: d["layers"]["conv2d_0"]["weight"].pop(4), "has weight entries for widths [2]"),
    (lambda d: d.update(method="magic"), "unknown sensitivity method 'magic'; valid: hessian"),
    (lambda d: d["layers"]["conv2d_0"]["weight"].update({2: float("nan")}), "not a finite"),
])
def test_load_refuses_bad_files(tmp_path, edit, message):
    data = _table().to_dict()
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CodesignError) as exc:
        SensitivityTable.load(path)
    assert message in str(exc.value) and str(path) in str(exc.value)
