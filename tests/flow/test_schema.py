"""Flow files: every error names the file, the line and the key."""

from __future__ import annotations

import pytest

from codesign.cli.main import main
from codesign.flow import FlowError, load_flow
from tests.flow.conftest import write_flow


def error_of(tmp_path, text: str) -> str:
    with pytest.raises(FlowError) as info:
        load_flow(write_flow(tmp_path, text))
    return str(info.value)


def test_a_good_flow_loads_with_defaults(tmp_path):
    flow = load_flow(write_flow(tmp_path, """
        model: {zoo: digits_cnn}
        quantize:
          methods: lsq
          bits: [4, 8]
        hls: null
    """))
    assert flow.model.zoo == "digits_cnn"
    assert flow.quantize.methods == ["lsq"]  # a scalar where a list goes is a one-item list
    assert flow.quantize.bits == [4, 8]
    assert flow.hls is None and flow.rtl is not None
    assert flow.target.devices == ["xc7a35t"]
    assert flow.title == "flow"


def test_unknown_key_names_file_line_key_and_allowed_keys(tmp_path):
    msg = error_of(tmp_path, """
        model: {zoo: digits_cnn}
        quantize:
          methods: [calibrate]
          epcohs: 3
    """)
    assert msg.startswith(f"{tmp_path / 'flow.yaml'}:4: quantize.epcohs: unknown key")
    assert "allowed keys: methods, bits, calibration" in msg


def test_unknown_top_level_key(tmp_path):
    msg = error_of(tmp_path, "model: {zoo: digits_cnn}\n\nbudgets: [1]\n")
    assert ":3: budgets: unknown key" in msg
    assert "sensitivity" in msg and "quantize" in msg


def test_wrong_type_names_line_and_key(tmp_path):
    msg = error_of(tmp_path, """
        model: {zoo: digits_cnn}
        quantize:
          bits: [4, eight]
    """)
    assert ":3: quantize.bits: expected int, got 'eight'" in msg


def test_bad_choice_lists_the_choices(tmp_path):
    msg = error_of(tmp_path, """
        model: {zoo: digits_cnn}
        quantize:
          methods: [calibrate, lsqq]
    """)
    assert ":3: quantize.methods: 'lsqq' is not one of calibrate, datafree, adaround" in msg


def test_bad_cost_model_lists_the_models(tmp_path):
    msg = error_of(tmp_path, """
        model: {zoo: digits_cnn}
        cost:
          model: exactish
    """)
    assert ":3: cost.model: 'exactish' is not one of structural, fast" in msg


def test_bad_device_in_a_list(tmp_path):
    msg = error_of(tmp_path, """
        model: {zoo: digits_cnn}
        target:
          devices:
            - xc7a35t
            - xc9999
    """)
    assert ":3: target.devices: 'xc9999' is not one of xc7a35t" in msg


def test_out_of_range_value(tmp_path):
    msg = error_of(tmp_path, """
        model: {zoo: digits_cnn}
        rtl:
          sim: true
          sim_samples: 0
    """)
    assert ":4: rtl.sim_samples: must be positive, not 0" in msg


def test_missing_model(tmp_path):
    msg = error_of(tmp_path, "name: x\n")
    assert ":1: flow: missing required key(s) ['model']" in msg


def test_model_needs_exactly_one_source(tmp_path):
    msg = error_of(tmp_path, """
        model:
          zoo: digits_cnn
          file: net.py:make
          input_shape: [1, 8, 8]
    """)
    assert ":2: model.zoo: give exactly one of" in msg


def test_model_file_must_exist(tmp_path):
    msg = error_of(tmp_path, """
        model:
          file: nowhere.py:make
          input_shape: [1, 8, 8]
    """)
    assert ":2: model.file: " in msg and "nowhere.py does not exist" in msg


def test_model_file_needs_input_shape(tmp_path, linear_model):
    msg = error_of(tmp_path, "model:\n  file: linear.py:make\n")
    assert ":2: model.file: a model file needs 'input_shape" in msg


def test_bad_yaml_names_the_line(tmp_path):
    msg = error_of(tmp_path, "model: {zoo: digits_cnn}\nquantize: [a, b\nrtl: x\n")
    assert str(tmp_path / "flow.yaml") + ":" in msg and "not valid YAML" in msg


def test_duplicate_key_is_an_error(tmp_path):
    msg = error_of(tmp_path, "model: {zoo: digits_cnn}\nname: a\nname: b\n")
    assert ":3:" in msg and "duplicate key 'name'" in msg


def test_section_must_be_a_mapping(tmp_path):
    msg = error_of(tmp_path, "model: digits_cnn\n")
    assert ":1: model: expected a mapping of zoo, file, weights" in msg


def test_a_list_for_a_section_is_named_in_yaml_terms(tmp_path):
    """Not the loader's internal LocatedList (issue 23, item 9)."""
    msg = error_of(tmp_path, "model: {zoo: digits_cnn}\nquantize:\n  - lsq\n")
    assert ":3: quantize: expected a mapping of methods" in msg
    assert "not a list (['lsq'])" in msg and "Located" not in msg


def test_cli_reports_a_bad_flow_without_traceback(tmp_path, capsys):
    path = write_flow(tmp_path, "model: {zoo: digits_cnn}\nselect: {max_drop: 1}\n")
    assert main(["run", str(path), "--runs-dir", str(tmp_path / "runs")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("codesign run: error: ")
    assert f"{path}:2: select.max_drop: unknown key; allowed keys: max_accuracy_drop" in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_missing_flow_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "none.yaml")]) == 1
    assert "none.yaml does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(("lines", "expected"), [
    ("reuse: fold", "allocate.reuse: 'fold' must be 'auto' or a list of positive reuse"),
    ("reuse: [1, 0]", "allocate.reuse: [1, 0] must be 'auto'"),
    ("fps: -3", "allocate.fps: must be a positive number of images per second"),
])
def test_bad_folding_settings_are_named(tmp_path, lines, expected):
    msg = error_of(tmp_path, f"""
        model: {{zoo: digits_cnn}}
        allocate:
          {lines}
    """)
    assert expected in msg


def test_folding_settings_load(tmp_path):
    from codesign.flow.schema import load_flow

    path = tmp_path / "f.yaml"
    path.write_text("model: {zoo: digits_cnn}\nallocate: {reuse: auto, fps: 5000}\n")
    flow = load_flow(path)
    assert flow.allocate.reuse == "auto" and flow.allocate.fps == 5000
