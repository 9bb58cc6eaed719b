"""Flows with an `allocate:` section: the allocator's frontier designs become the sweep
points, are quantized onto their per-layer widths, evaluated, costed and chosen from."""

from __future__ import annotations

import pytest

from codesign.design import DesignPoint
from codesign.devices import get_device
from codesign.flow import run_flow
from codesign.flow.located import FlowError
from codesign.flow.schema import load_flow
from codesign.qnet import QuantizedNet
from tests.flow.conftest import write_flow

ALLOC_FLOW = """
    name: lin_alloc
    model:
      file: linear.py:make
      input_shape: [1, 8, 8]
      train: {epochs: 1}
    dataset: digits
    target: {devices: [xc7a100t]}
    sensitivity:
      method: hessian
      bits: [2, 4, 8]
      activations: false
      min_iters: 2
      max_iters: 2
      tol: 1.0
      batches: 1
      batch_size: 32
    quantize:
      methods: [calibrate]
    allocate:
      methods: [exact, uniform]
      budget: {lut: 0.55, dsp: 0}  # planned at 0.55 / 1.73 (the fast LUT band)
      points: 2
      reuse: [1]
    hls: null
    rtl: null
"""


def test_a_flow_quantizes_and_chooses_among_the_allocators_frontier(tmp_path, linear_model):
    flow = write_flow(tmp_path, ALLOC_FLOW)
    result = run_flow(flow, tmp_path / "runs", quiet=True)
    s = result.summary
    assert result.ok, s
    assert [st["stage"] for st in s["stages"][:3]] == ["train", "sensitivity", "allocate"]
    frontier = s["allocate"]["devices"]["xc7a100t"]["points"]
    methods = [row["method"] for row in frontier]
    assert set(methods) == {"exact", "uniform"} and methods == sorted(methods)
    assert all(1 <= methods.count(m) <= 2 for m in methods)
    # one sweep point per frontier design of every allocator method
    assert [p["label"] for p in s["points"]] == [
        f"xc7a100t-calibrate-{row['method']}-{row['point']:02d}" for row in frontier]
    budget_luts = 0.55 * get_device("xc7a100t").lut
    for record, row in zip(s["points"], frontier, strict=True):
        assert record["error"] is None
        allocated = DesignPoint.load(result.run_dir / "stages" / "allocate" / row["design"])
        qnet = QuantizedNet.load(result.run_dir / "points" / record["label"] / "quantize"
                                 / "design.yaml")
        # the quantized design has the allocator's widths, layer by layer
        for name, impl in allocated.layers.items():
            if impl.weight is not None:
                assert qnet.design[name].weight.width == impl.weight.width
                assert qnet.design[name].reuse == impl.reuse
        assert row["lut"] <= budget_luts and row["dsp"] == 0
        assert row["binding"].startswith(("lut (budget", "ff (device", "bram (device"))
        assert record["cost"]["dsp"] == 0
    assert s["chosen"] in [p["label"] for p in s["points"]]
    md = result.report_md.read_text()
    assert "## Hardware-aware allocation (exact, uniform)" in md
    assert "| binding limit |" in md
    assert "error band (where Yosys lands): LUT" in md  # the chosen design's estimate
    for row in frontier:  # the points table names each allocator method's points
        label = f"xc7a100t-calibrate-{row['method']}-{row['point']:02d}"
        assert f"| {label}" in md and f"| {row['method']} #{row['point']} |" in md
    # a rerun is all cache hits; a new budget redoes allocate and the points, not train
    again = run_flow(flow, tmp_path / "runs", quiet=True)
    assert all(st["cached"] for st in again.summary["stages"])
    write_flow(tmp_path, ALLOC_FLOW.replace("lut: 0.55", "lut: 0.5"))
    third = run_flow(flow, tmp_path / "runs", quiet=True)
    cached = {st["stage"]: st["cached"] for st in third.summary["stages"]}
    assert cached["train"] and cached["sensitivity"] and not cached["allocate"]


def test_synth_check_is_in_the_allocate_key_only_when_asked(tmp_path, linear_model):
    from codesign.flow.stages import allocate_config

    flow = load_flow(write_flow(tmp_path, ALLOC_FLOW))
    assert "synth_check" not in allocate_config(flow, None)  # old cache keys hold
    flow = load_flow(write_flow(tmp_path, ALLOC_FLOW.replace("reuse: [1]",
                                                             "reuse: [1]\n      synth_check: 2")))
    assert allocate_config(flow, None)["synth_check"] == 2


@pytest.mark.parametrize(("section", "line", "key", "message"), [
    ("allocate: {methods: [exact, greedy]}", 3, "allocate.methods", "ascend-descend"),
    ("allocate: {methods: [exact, exact]}", 3, "allocate.methods", "twice"),
    ("allocate: {methods: []}", 3, "allocate.methods", "at least one"),
    ("allocate: {method: exact}", 3, "allocate.method", "allowed keys"),
    ("allocate: {budget: {luts: 0.5}}", 3, "allocate.budget", "lut"),
    ("allocate: {budget: {lut: fast}}", 3, "allocate.budget", "not a number"),
    ("allocate: {budget: {lut: [1]}}", 3, "allocate.budget", "not a number"),
    ("allocate: {budget: {latency: 50%}}", 3, "allocate.budget", "cycles"),
    ("allocate: {budget: lut=0.5}", 3, "allocate.budget", "expected a mapping"),
    ("allocate: {points: -1}", 3, "allocate.points", "0 or more"),
    ("allocate: {axis: area}", 3, "allocate.axis", "lut"),
    ("allocate: {reuse: [0]}", 3, "allocate.reuse", "positive"),
    ("allocate: {bits: [0, 4]}", 3, "allocate.bits", "widths"),
    ("allocate: {frontier: 3}", 3, "allocate.frontier", "allowed keys"),
    ("allocate: {synth_check: -1}", 3, "allocate.synth_check", "0 or more"),
    ("allocate: {synth_check: yes}", 3, "allocate.synth_check", "expected int"),
    ("allocate: {synth_check: two}", 3, "allocate.synth_check", "expected int"),
    ("sensitivity: null\nallocate: {}", 4, "allocate", "sensitivity"),
])
def test_bad_allocate_keys_are_located(tmp_path, section, line, key, message):
    path = write_flow(tmp_path, "model: {zoo: digits_cnn}\nhls: null\n" + section + "\n")
    with pytest.raises(FlowError) as err:
        load_flow(path)
    text = str(err.value)
    assert text.startswith(f"{path}:{line}: {key}: "), text
    assert message in text, text


def test_an_allocate_section_loads(tmp_path):
    path = write_flow(tmp_path, """
        model: {zoo: digits_cnn}
        allocate:
          budget: {lut: 0.5, dsp: 0, latency: 2000}
          points: 4
    """)
    a = load_flow(path).allocate
    assert a is not None and a.methods == ["exact"] and a.points == 4
    assert a.budget_for("xc7a100t").limits == {"lut": 0.5 * 63400, "dsp": 0, "latency": 2000}


def test_a_budget_no_design_fits_is_a_clear_error(tmp_path, linear_model, capsys):
    from codesign.cli.main import main

    flow = write_flow(tmp_path, ALLOC_FLOW.replace("lut: 0.55", "lut: 10"))
    assert main(["run", str(flow), "--runs-dir", str(tmp_path / "runs"), "--json"]) == 1
    err = capsys.readouterr().err
    assert "no design fits the budget lut=10" in err and "Traceback" not in err
