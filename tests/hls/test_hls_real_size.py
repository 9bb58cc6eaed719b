"""hls4ml at real size (issue 21): the 3.1M-MAC cifar_like folded to a 20,000-cycle
interval (the reuse factors `--fps 5000` gives each layer), emitted with io_stream and
those reuse factors; its C simulation computes the bit-accurate model's integers on every
output of 100 shapes32 test images."""

from __future__ import annotations

from dataclasses import replace

import pytest

from codesign.alloc.folding import interval_for_fps, slowest_fitting_rf
from codesign.data import load_dataset
from codesign.hls.project import emit_hls
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, calibrate_design
from codesign.zoo import build_model, get_entry


@pytest.mark.slow
def test_cifar_like_folded_io_stream_csim_bit_exact(tmp_path):
    entry = get_entry("cifar_like")
    graph = Graph.from_torch(build_model("cifar_like").eval(), entry.input_shape)
    data = load_dataset(entry.dataset)
    design = calibrate_design(graph, data.x_train[:128], Widths(6, 8), device="xc7z020")
    interval = interval_for_fps(5000, 100.0)
    layers = dict(design.layers)
    for layer in graph:
        if isinstance(layer, L.WeightedLayer):
            rf = slowest_fitting_rf(graph, layer, interval)
            assert rf is not None and rf > 1, layer.name  # too big to unroll
            layers[layer.name] = replace(layers[layer.name], reuse=rf)
    qnet = QuantizedNet.from_float(graph, replace(design, layers=layers))
    project = emit_hls(qnet, tmp_path / "hls", io="stream")
    text = (tmp_path / "hls" / "firmware" / "parameters.h").read_text()
    for layer in graph:  # the design's reuse factors, not hls4ml's defaults
        if isinstance(layer, L.WeightedLayer):
            assert f"reuse_factor = {layers[layer.name].reuse};" in text, layer.name
    project.compile()
    report = project.verify(data.x_test[:100])
    assert report.ok and report.mismatch is None, report.to_dict()
    assert report.identical_samples == report.samples == 100, report.to_dict()
