"""DesignPoint: YAML round trip and validation messages that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from codesign.design import DesignPoint, LayerImpl
from codesign.devices import DEVICES, get_device
from codesign.errors import DesignError
from codesign.fixed import FixedType
from codesign.ir import Graph
from codesign.quant.calibrate import Widths, calibrate_design
from codesign.zoo import build_model


@pytest.fixture(scope="module")
def graph() -> Graph:
    return Graph.from_torch(build_model("digits_cnn"), (1, 8, 8))


@pytest.fixture(scope="module")
def design(graph: Graph) -> DesignPoint:
    from codesign.data import load_dataset

    return calibrate_design(graph, load_dataset("digits").x_train[:64], Widths(6, 7),
                            model="digits_cnn")


def test_yaml_round_trip(design: DesignPoint, tmp_path: Path, graph: Graph) -> None:
    changed = design.with_layer(graph.weighted[0].name, reuse=4, multiplier="dsp",
                                strategy="resource")
    path = changed.save(tmp_path / "d.yaml")
    again = DesignPoint.load(path)
    assert again == changed
    again.validate(graph)
    text = path.read_text()
    assert "reuse: 4" in text and "ap_fixed<6," in text
    assert "strategy: latency" not in text  # defaults are not written


def _mutate(design: DesignPoint, tmp_path: Path, change) -> Path:
    data = design.to_dict()
    change(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(clock=100), r"unknown key\(s\) \['clock'\].*allowed keys"),
        (lambda d: d.pop("input"), "missing required key 'input'"),
        (lambda d: d.update(input="ap_fixd<8,2>"), "ap_fixd<8,2>"),
        (lambda d: d.update(device="xc9z999"), "unknown device 'xc9z999'; known devices: xc7a35t"),
        (lambda d: d.update(clock_mhz=-5), "clock_mhz must be a positive number, not -5"),
        (lambda d: next(iter(d["layers"].values())).update(reuse=0),
         "reuse must be a positive integer, not 0"),
        (lambda d: next(iter(d["layers"].values())).update(multiplier="dsps"),
         "multiplier must be one of"),
        (lambda d: next(iter(d["layers"].values())).update(weight_rom="block"),
         r"weight_rom must be one of \('auto', 'lut', 'bram'\), not 'block'"),
        (lambda d: next(iter(d["layers"].values())).update(weigth="ap_fixed<4,1>"),
         r"unknown key\(s\) \['weigth'\]"),
        (lambda d: next(iter(d["layers"].values())).pop("result"), "'result' type is required"),
        (lambda d: next(iter(d["layers"].values())).update(result="ap_fixed<0,0>"),
         "width 0"),
    ],
)
def test_bad_files_are_refused_with_the_reason(design, tmp_path, change, message) -> None:
    with pytest.raises(DesignError, match=message):
        DesignPoint.load(_mutate(design, tmp_path, change))


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(DesignError, match="does not exist"):
        DesignPoint.load(tmp_path / "none.yaml")
    (tmp_path / "x.yaml").write_text("layers: [unclosed")
    with pytest.raises(DesignError, match="not valid YAML"):
        DesignPoint.load(tmp_path / "x.yaml")


def test_validate_names_layers(design: DesignPoint, graph: Graph) -> None:
    first = graph.weighted[0].name
    renamed = {("conv_one" if k == first else k): v for k, v in design.layers.items()}
    with pytest.raises(DesignError, match=f"conv_one.*valid layer names: {first}"):
        DesignPoint(input=design.input, layers=renamed).validate(graph)
    fewer = {k: v for k, v in design.layers.items() if k != first}
    with pytest.raises(DesignError, match=f"lacks layers \\['{first}'\\]"):
        DesignPoint(input=design.input, layers=fewer).validate(graph)


def test_validate_types_per_kind(design: DesignPoint, graph: Graph) -> None:
    conv = graph.weighted[0].name
    with pytest.raises(DesignError, match="needs a .accum. type"):
        design.with_layer(conv, accum=None).validate(graph)
    relu = next(layer.name for layer in graph if layer.kind == "relu")
    with pytest.raises(DesignError, match=r"has no use for \['weight'\]"):
        design.with_layer(relu, weight=FixedType(4, 1)).validate(graph)
    flat = next(layer.name for layer in graph if layer.kind == "flatten")
    with pytest.raises(DesignError, match="must equal its input type"):
        design.with_layer(flat, result=FixedType(5, 2)).validate(graph)
    with pytest.raises(DesignError, match="reuse 100000 exceeds"):
        design.with_layer(conv, reuse=100000).validate(graph)


def test_weight_rom_is_checked_against_the_layer(design: DesignPoint, graph: Graph,
                                                 tmp_path: Path) -> None:
    """bram needs a ROM (reuse > 1) and a layer with weights; it round-trips in YAML."""
    conv = graph.weighted[0].name
    with pytest.raises(DesignError, match=f"{conv}.*weight_rom: bram needs reuse > 1"):
        design.with_layer(conv, weight_rom="bram").validate(graph)
    relu = next(layer.name for layer in graph if layer.kind == "relu")
    with pytest.raises(DesignError, match=f"{relu}.*has no weights, so no weight ROM"):
        design.with_layer(relu, weight_rom="lut").validate(graph)
    folded = design.with_layer(conv, reuse=4, weight_rom="bram")
    folded.validate(graph)
    again = DesignPoint.load(folded.save(tmp_path / "d.yaml"))
    assert again == folded and "weight_rom: bram" in (tmp_path / "d.yaml").read_text()
    assert "weight_rom" not in design.save(tmp_path / "e.yaml").read_text()


def test_recalibration_keeps_weight_rom(design: DesignPoint, graph: Graph) -> None:
    """`quantize --design` recalibrates types but keeps how each layer is built."""
    from codesign.data import load_dataset

    conv = graph.weighted[0].name
    mine = design.with_layer(conv, reuse=4, weight_rom="bram")
    again = calibrate_design(graph, load_dataset("digits").x_train[:64], Widths(4, 5),
                             base=mine)
    assert again[conv].weight_rom == "bram" and again[conv].reuse == 4


def test_devices_registry() -> None:
    assert get_device("XC7A35T") is DEVICES["xc7a35t"]
    assert get_device("lfe5u-25f").lut_inputs == 4
    with pytest.raises(DesignError, match="known devices"):
        get_device("nope")


def test_layerimpl_to_dict_skips_defaults() -> None:
    impl = LayerImpl(result=FixedType(8, 3))
    assert impl.to_dict() == {"result": "ap_fixed<8,3>"}


def test_an_unfolded_batchnorm_is_refused_by_name(design: DesignPoint) -> None:
    """A graph straight from the tracer, BatchNorm not yet folded: validation names the
    layer and why, instead of checking types it has no rule for."""
    from torch import nn

    from codesign.errors import UnsupportedLayerError
    from codesign.ir.trace import trace

    raw = trace(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()).eval(),
                (1, 5, 5))
    conv, bn, relu = (layer.name for layer in raw.layers[1:])
    t = FixedType(8, 4)
    layers = {conv: LayerImpl(result=t, weight=t, bias=t, accum=FixedType(24, 12)),
              bn: LayerImpl(result=t), relu: LayerImpl(result=t)}
    with pytest.raises(UnsupportedLayerError, match=rf"batchnorm layers \('{bn}'\): folded"):
        DesignPoint(input=design.input, layers=layers).validate(raw)
