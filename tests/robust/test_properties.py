"""Property tests over the file formats and the command line (Hypothesis).

Random design YAMLs (types, widths, reuse, rounding and overflow modes), budget strings,
flow files, and damaged npz/pt/yaml files are fed to the CLI in this process. For every
one: either a named error (exit 1 or 2, a message rather than a traceback, and under
--json exactly one JSON object on stdout) or a result; where the command computes
integers, the bit-accurate model equals the fixed-point torch forward and the RTL plan
predicts the cycles `cost` reports. Never a traceback, never a partial output left behind.

Examples are bounded and derandomized (the same cases on every run: about 30 s on one
core), on a tiny network so one cost estimate takes milliseconds rather than seconds.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import (
    HealthCheck,
    currently_in_test_context,
    event,
    given,
    settings,
)
from hypothesis import strategies as st

from codesign.errors import CodesignError
from tests.robust.conftest import QUICKSTART_FLOW, Outcome, assert_named_error, cli

TINY = """
import torch
from torch import nn


def make():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(2 * 4 * 4, 4))
"""

ROUNDINGS = ["AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_INF", "AP_RND_MIN_INF",
             "AP_RND_CONV", "AP_ROUND", "TRN", ""]

OVERFLOWS = ["AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM", "AP_CLAMP", ""]


def _settings(n: int):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    """A 2-channel conv + dense net, its file model spec, and a 6-bit design of it."""
    from codesign.data import load_dataset
    from codesign.ir import Graph
    from codesign.models import load_model
    from codesign.qnet import QuantizedNet
    from codesign.quant.calibrate import Widths, calibrate_design

    root = tmp_path_factory.mktemp("tiny")
    (root / "tiny.py").write_text(TINY)
    spec = f"{root / 'tiny.py'}:make"
    model = load_model(spec, input_shape="1,8,8", progress=False)
    graph = Graph.from_torch(model.module, (1, 8, 8))
    x = load_dataset("digits").x_val[:48]
    design = calibrate_design(graph, x, Widths(6, 6), model=spec)
    yaml_path = QuantizedNet.from_float(graph, design).save(root / "design")
    torch.save(model.module.state_dict(), root / "tiny.pt")
    return {"root": root, "spec": spec, "design": yaml_path, "x": x,
            "doc": yaml.safe_load(yaml_path.read_text()), "graph": graph}


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh directory per example (pytest's tmp_path is one per test, not per example)."""
    path = Path(tempfile.mkdtemp(prefix="codesign-prop-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def check_contract(outcome: Outcome, json_mode: bool = True) -> dict | None:
    """A named error (None) or a result (its JSON object)."""
    if currently_in_test_context():  # the share of errors and results, for
        event(f"exit {outcome.code}")   # --hypothesis-show-statistics
    if outcome.code == 0:
        return outcome.json() if json_mode else None
    assert outcome.code in (1, 2), (outcome.code, outcome.err)
    assert_named_error(outcome, json_mode=json_mode, code=outcome.code)
    return None


# -- random design YAMLs -----------------------------------------------------------------
def fixed_types() -> st.SearchStrategy[str]:
    modes = st.tuples(st.sampled_from(ROUNDINGS), st.sampled_from(OVERFLOWS))
    typed = st.builds(
        lambda u, w, i, m: (f"ap_{'u' if u else ''}fixed<{w},{i}"
                            + "".join(f",{x}" for x in m if x) + ">"),
        st.booleans(), st.integers(-1, 70), st.integers(-12, 40), modes)
    ints = st.builds(lambda u, w: f"ap_{'u' if u else ''}int<{w}>", st.booleans(),
                     st.integers(0, 40))
    return st.one_of(typed, typed, ints, st.text(max_size=12))


FIELD_VALUES = {
    "result": fixed_types(), "accum": fixed_types(), "weight": fixed_types(),
    "bias": fixed_types(),
    "reuse": st.one_of(st.integers(-2, 300), st.sampled_from(["2", 2.5, None, True])),
    "multiplier": st.sampled_from(["auto", "lut", "dsp", "fpga", 3]),
    "strategy": st.sampled_from(["latency", "resource", "fast"]),
}
TOP_VALUES = {
    "clock_mhz": st.one_of(st.sampled_from([100, 250, 0, -5, "fast", 1e6, math.inf]),
                           st.floats(1, 800)),
    "device": st.sampled_from(["xc7a35t", "xc7a100t", "xcvu9p", "lfe5u-85f", "no-such-part"]),
    "input": fixed_types(),
}


@st.composite
def design_docs(draw, base: dict) -> dict:
    doc = copy.deepcopy(base)
    layers = list(doc["layers"])
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.integers(0, 4)) == 0:
            key = draw(st.sampled_from(sorted(TOP_VALUES)))
            doc[key] = draw(TOP_VALUES[key])
        else:
            layer = draw(st.sampled_from(layers))
            key = draw(st.sampled_from(sorted(FIELD_VALUES)))
            doc["layers"][layer][key] = draw(FIELD_VALUES[key])
    return doc


def _arithmetic_agrees(design: Path, x: np.ndarray) -> None:
    """The bit-accurate model and the fixed-point torch forward: the same integers in every
    layer (MismatchError names the first that differs)."""
    from codesign.qnet import QuantizedNet
    from codesign.quant.export import verify_export
    from codesign.quant.methods import qnet_forward

    qnet = QuantizedNet.load(design)
    try:
        forward = qnet_forward(qnet)
    except CodesignError:  # a type the float64 torch forward cannot hold exactly
        return
    assert verify_export(qnet, forward, x) == len(x)


@_settings(200)
@given(data=st.data())
def test_random_design_yaml(capsys, tiny, data) -> None:
    doc = data.draw(design_docs(tiny["doc"]))
    with scratch() as tmp:
        shutil.copytree(tiny["design"].parent, tmp / "d")
        design = tmp / "d" / "design.yaml"
        design.write_text(yaml.safe_dump(doc, sort_keys=False))
        cost = check_contract(cli(capsys, "cost", design, "--json"))
        rtl = check_contract(cli(capsys, "rtl", design, "--out", tmp / "rtl", "--json"))
        if rtl is None:
            assert not (tmp / "rtl").exists()  # nothing half-written
        if cost is None:
            return
        for key in ("lut", "ff", "dsp", "bram", "latency", "interval"):
            assert isinstance(cost[key], int | float) and cost[key] >= 0, (key, cost[key])
        _arithmetic_agrees(design, tiny["x"][:16])
        if rtl is not None:  # the RTL's plan predicts the cycles the cost model reports
            assert (rtl["predicted_latency"], rtl["predicted_interval"]) == \
                (cost["latency"], cost["interval"])


@_settings(100)
@given(data=st.data())
def test_random_design_to_quantize_and_eval(capsys, tiny, data) -> None:
    """The same designs given to `quantize --design` (recalibrating, or keeping the types
    as written) and to `eval`: what quantize writes loads, and its arithmetic agrees."""
    doc = data.draw(design_docs(tiny["doc"]))
    keep = data.draw(st.booleans())
    model = [tiny["spec"], "--input-shape", "1,8,8", "--weights", tiny["root"] / "tiny.pt",
             "--dataset", "digits"]
    with scratch() as tmp:
        shutil.copytree(tiny["design"].parent, tmp / "d")
        design = tmp / "d" / "design.yaml"
        design.write_text(yaml.safe_dump(doc, sort_keys=False))
        check_contract(cli(capsys, "eval", *model, "--design", design, "--json"))
        quantized = check_contract(cli(capsys, "quantize", *model, "--design", design,
                                       *(["--keep-types"] if keep else []),
                                       "--calib-samples", "64", "--out", tmp / "q", "--json"))
        if quantized is None:
            assert not (tmp / "q").exists()
            return
        assert check_contract(cli(capsys, "cost", tmp / "q" / "design.yaml", "--json"))
        _arithmetic_agrees(tmp / "q" / "design.yaml", tiny["x"][:16])


def test_quantize_writes_only_designs_cost_takes(capsys, tiny) -> None:
    """The case test_random_design_to_quantize_and_eval found: 26-bit weights, which
    `cost` cannot take, are refused by quantize rather than written."""
    doc = copy.deepcopy(tiny["doc"])
    for impl in doc["layers"].values():
        if "weight" in impl:
            impl["weight"] = "ap_fixed<26,1,AP_RND_CONV,AP_SAT>"
    with scratch() as tmp:
        shutil.copytree(tiny["design"].parent, tmp / "d")
        (tmp / "d" / "design.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        quantized = check_contract(cli(
            capsys, "quantize", tiny["spec"], "--input-shape", "1,8,8", "--weights",
            tiny["root"] / "tiny.pt", "--dataset", "digits", "--design",
            tmp / "d" / "design.yaml", "--out", tmp / "q", "--json"))
        if quantized is not None:  # else refused by name: fine
            assert check_contract(cli(capsys, "cost", tmp / "q" / "design.yaml", "--json"))


# -- device files ------------------------------------------------------------------------
COUNTS = st.sampled_from([1, 3, 100, 20800, 10**6] * 4
                         + [0, -1, 0.5, "many", None, True, 1e300])


@st.composite
def device_docs(draw) -> dict:
    families = ["xc7", "xcup", "ecp5"] * 4 + ["nope", 7]
    part = {"family": draw(st.sampled_from(families))}
    for key in ("lut", "ff", "dsp", "bram", "clock_mhz"):
        if draw(st.sampled_from([True] * 19 + [False])):  # a key missing now and then
            part[key] = draw(COUNTS)
    return {"parts": {"propfpga": part}}


@contextmanager
def device_table_restored() -> Iterator[None]:
    """--device-file adds parts for the whole process; give the table back afterwards."""
    from codesign import devices

    saved = dict(devices.DEVICES), dict(devices.FAMILIES)
    try:
        yield
    finally:
        for table, before in zip((devices.DEVICES, devices.FAMILIES), saved, strict=True):
            table.clear()
            table.update(before)


@_settings(60)
@given(doc=device_docs())
def test_random_device_file(capsys, tiny, doc: dict) -> None:
    with scratch() as tmp, device_table_restored():
        (tmp / "dev.yaml").write_text(yaml.safe_dump(doc))
        outcome = cli(capsys, "cost", tiny["design"], "--device-file",
                      tmp / "dev.yaml", "--device", "propfpga", "--json")
        cost = check_contract(outcome)
        if cost is not None:
            assert cost["device"] == "propfpga"


def test_zero_capacity_part_gives_json(capsys, tiny) -> None:
    """The case test_random_device_file found: a part with 0 LUTs printed Infinity."""
    doc = {"parts": {"propfpga": {"family": "xc7", "lut": 0, "ff": 100, "dsp": 1, "bram": 1}}}
    with scratch() as tmp, device_table_restored():
        (tmp / "dev.yaml").write_text(yaml.safe_dump(doc))
        check_contract(cli(capsys, "cost", tiny["design"], "--device-file", tmp / "dev.yaml",
                           "--device", "propfpga", "--json"))


# -- budget strings ----------------------------------------------------------------------
BUDGET_KEYS = ["lut", "ff", "dsp", "bram", "latency", "interval", "size", "LUT", "luts", ""]
BUDGET_VALUES = st.one_of(
    st.sampled_from(["0", "0.5", "1", "50%", "-1", "nan", "inf", "", "abc", "1e9", "0.0001",
                     "200%", "3000", "1/2"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-5, 10**6).map(str))
BUDGETS = st.one_of(
    st.lists(st.tuples(st.sampled_from(BUDGET_KEYS), BUDGET_VALUES), min_size=0, max_size=4)
    .map(lambda kv: ",".join(f"{k}={v}" for k, v in kv)),
    st.text(max_size=20))


@pytest.fixture(scope="module")
def tiny_table(tiny) -> Path:
    from tests.alloc.conftest import fake_table

    path = tiny["root"] / "table.yaml"
    fake_table(tiny["graph"], tiny["spec"]).save(path)
    return path


@_settings(60)
@given(budget=BUDGETS)
def test_random_budget(capsys, tiny, tiny_table, budget: str) -> None:
    with scratch() as tmp:
        outcome = cli(capsys, "allocate", tiny["spec"], "--input-shape", "1,8,8",
                      "--weights", tiny["root"] / "tiny.pt", "--dataset", "digits",
                      "--sensitivity", tiny_table, "--device", "xc7a35t",
                      f"--budget={budget}", "--method", "exact", "--frontier", "2",
                      "--out", tmp / "alloc", "--json")
        result = check_contract(outcome)
        if result is None:
            assert not (tmp / "alloc").exists()
        else:
            assert (tmp / "alloc" / "frontier.json").is_file()


# -- flow files --------------------------------------------------------------------------
FLOW_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 40), st.text(max_size=8),
                        st.lists(st.integers(-1, 40), max_size=3),
                        st.dictionaries(st.sampled_from(["zoo", "bits", "x", "epochs"]),
                                        st.integers(-1, 9), max_size=2))


@st.composite
def flow_docs(draw) -> dict:
    doc = yaml.safe_load(QUICKSTART_FLOW.read_text())
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from(sorted(doc) + ["bogus"]))
        if draw(st.booleans()) and isinstance(doc.get(section), dict) and doc[section]:
            key = draw(st.sampled_from(sorted(doc[section]) + ["bogus"]))
            doc[section][key] = draw(FLOW_VALUES)
        elif draw(st.integers(0, 3)) == 0:
            doc.pop(section, None)
        else:
            doc[section] = draw(FLOW_VALUES)
    return doc


@_settings(100)
@given(doc=flow_docs())
def test_random_flow_file(capsys, monkeypatch, doc: dict) -> None:
    """Only the flow file's checks run: a flow they accept stops before its first stage."""
    import codesign.flow.run as flow_run

    def accepted(*args, **kwargs):
        raise CodesignError("flow accepted (stages not run by this test)")

    monkeypatch.setattr(flow_run, "_run", accepted)
    with scratch() as tmp:
        (tmp / "flow.yaml").write_text(yaml.safe_dump(doc))
        outcome = cli(capsys, "run", tmp / "flow.yaml", "--runs-dir", tmp / "runs", "--json")
        assert check_contract(outcome) is None
        event("accepted" if "flow accepted" in outcome.err else "refused")
        assert not (tmp / "runs").exists()


# -- damaged files -----------------------------------------------------------------------
@st.composite
def damaged(draw, data: bytes) -> bytes:
    """Truncated, bytes flipped, bytes inserted, or replaced by junk."""
    how = draw(st.sampled_from(["truncate", "flip", "insert", "junk"]))
    if how == "truncate":
        return data[:draw(st.integers(0, len(data) - 1))]
    if how == "junk":
        return draw(st.binary(max_size=200))
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(out) - 1))
        if how == "flip":
            out[at] ^= 1 << draw(st.integers(0, 7))
        else:
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(out)


@_settings(80)
@given(data=st.data())
def test_damaged_weights_file(capsys, tiny, data) -> None:
    original = (tiny["design"].parent / "quantized.npz").read_bytes()
    with scratch() as tmp:
        shutil.copytree(tiny["design"].parent, tmp / "d")
        (tmp / "d" / "quantized.npz").write_bytes(data.draw(damaged(original)))
        result = check_contract(cli(capsys, "cost", tmp / "d" / "design.yaml", "--json"))
        if result is not None:  # the damage missed everything read (zip padding)
            _arithmetic_agrees(tmp / "d" / "design.yaml", tiny["x"][:8])


@_settings(50)
@given(data=st.data())
def test_damaged_state_dict(capsys, tiny, data) -> None:
    original = (tiny["root"] / "tiny.pt").read_bytes()
    with scratch() as tmp:
        (tmp / "w.pt").write_bytes(data.draw(damaged(original)))
        check_contract(cli(capsys, "graph", tiny["spec"], "--input-shape", "1,8,8",
                           "--weights", tmp / "w.pt", "--json"))


YAML_TEXT = st.one_of(
    st.text(max_size=120),
    st.lists(st.sampled_from(["layers:", "  conv2d_0:", "    result: ap_fixed<8,3>", "- 1",
                              "model: x", "weights: quantized.npz", ": :", "{", "[", "&a *a",
                              "!!python/object:os.system", "\t", "bits: [4, 8]",
                              "input_shape: [1, 8, 8]", "device: xc7a35t"]), max_size=8)
    .map("\n".join))


@_settings(80)
@given(text=YAML_TEXT, which=st.sampled_from(["design", "table", "flow"]))
def test_damaged_yaml(capsys, tiny, tiny_table, text: str, which: str) -> None:
    with scratch() as tmp:
        shutil.copytree(tiny["design"].parent, tmp / "d")
        bad = tmp / "d" / ("design.yaml" if which == "design" else f"{which}.yaml")
        bad.write_text(text)
        argv = {
            "design": ["cost", bad],
            "table": ["allocate", tiny["spec"], "--input-shape", "1,8,8", "--sensitivity", bad,
                      "--device", "xc7a35t", "--budget", "lut=0.5", "--out", tmp / "a"],
            "flow": ["run", bad, "--runs-dir", tmp / "runs"],
        }[which]
        for json_mode in (True, False):
            outcome = cli(capsys, *argv, *(["--json"] if json_mode else []))
            if which != "design":  # a table or flow made of junk is never accepted
                assert outcome.code != 0
            check_contract(outcome, json_mode)
        assert not (tmp / "a").exists() and not (tmp / "runs").exists()


def test_one_odd_design_in_three_views(capsys, tiny) -> None:
    """The one real (cached) Verilator build of this layer: a design of the kind the
    properties draw (wrapping and truncating results, odd widths, reuse 2) computes in RTL
    the integers of the bit-accurate model, in the cycles `cost` predicts."""
    doc = copy.deepcopy(tiny["doc"])
    doc["layers"]["conv2d_0"]["result"] = "ap_fixed<5,2,AP_TRN,AP_WRAP>"
    doc["layers"]["relu_1"]["result"] = "ap_ufixed<3,1,AP_RND_ZERO,AP_SAT>"
    doc["layers"]["dense_4"]["result"] = "ap_fixed<7,4,AP_RND_CONV,AP_WRAP>"
    doc["layers"]["dense_4"]["reuse"] = 2
    with scratch() as tmp:
        shutil.copytree(tiny["design"].parent, tmp / "d")
        design = tmp / "d" / "design.yaml"
        design.write_text(yaml.safe_dump(doc, sort_keys=False))
        cost = check_contract(cli(capsys, "cost", design, "--json"))
        rtl = check_contract(cli(capsys, "rtl", design, "--out", tmp / "rtl", "--sim",
                                 "--samples", "20", "--json"))
        assert cost is not None and rtl is not None and rtl["ok"], rtl
        (run,) = rtl["runs"]
        assert run["bit_exact"] == run["samples"] == 20 and run["cycles_equal"]
        assert (rtl["predicted_latency"], rtl["predicted_interval"]) == \
            (cost["latency"], cost["interval"])
        _arithmetic_agrees(design, tiny["x"])


def test_property_fixtures_are_sound(capsys, tiny) -> None:
    """The unchanged tiny design passes every check the properties make (so a property
    that only ever sees errors would be noticed)."""
    cost = check_contract(cli(capsys, "cost", tiny["design"], "--json"))
    assert cost is not None and cost["lut"] > 0
    _arithmetic_agrees(tiny["design"], tiny["x"])
    json.dumps(cost)
