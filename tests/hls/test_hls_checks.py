"""What emit_hls refuses, and the project directory rules (no C compile: fast)."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.design import DesignPoint, LayerImpl
from codesign.errors import CodesignError, UnsupportedLayerError
from codesign.fixed import FixedType, Overflow
from codesign.hls.project import emit_hls
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet

T8 = FixedType(8, 3)


def _net(layers: list[L.Layer], impls: dict[str, LayerImpl], x_t: FixedType = T8
         ) -> QuantizedNet:
    graph = Graph(tuple(layers))
    return QuantizedNet.from_float(graph, DesignPoint(input=x_t, layers=impls))


def _conv(name: str, src: str, c: int, cout: int, hw: int, k: int = 1) -> L.Conv2d:
    rng = np.random.default_rng(0)
    return L.Conv2d(name, (src,), (cout, hw - k + 1, hw - k + 1),
                    weight=rng.normal(0, 0.5, (cout, c, k, k)), bias=rng.normal(0, 0.1, cout))


def _wimpl(**kw) -> LayerImpl:
    base = dict(result=T8, weight=FixedType(6, 1), bias=FixedType(8, 1), accum=FixedType(24, 10))
    return LayerImpl(**(base | kw))


def test_add_from_multichannel_input_is_refused(tmp_path) -> None:
    qnet = _net([L.Input("input", (), (2, 4, 4)), _conv("conv", "input", 2, 2, 4),
                 L.Add("add", ("conv", "input"), (2, 4, 4))],
                {"conv": _wimpl(), "add": LayerImpl(result=T8)})
    with pytest.raises(UnsupportedLayerError, match="'add'.*2-channel model input"):
        emit_hls(qnet, tmp_path / "p")


def _pool_net(cls: type[L.Pool2d], accum: FixedType) -> QuantizedNet:
    return _net([L.Input("input", (), (2, 4, 4)),
                 cls("pool", ("input",), (2, 2, 2), kernel=(2, 2), stride=(2, 2))],
                {"pool": LayerImpl(result=T8, accum=accum)})


def test_stream_maxpool_with_wrapping_narrow_accum_is_refused(tmp_path) -> None:
    qnet = _pool_net(L.MaxPool2d, FixedType(6, 2))  # WRAP, narrower than the input
    with pytest.raises(UnsupportedLayerError, match="'pool'.*io_stream.*can overflow"):
        emit_hls(qnet, tmp_path / "p", io="stream")


def test_stream_avgpool_with_lossy_accum_is_refused(tmp_path) -> None:
    qnet = _pool_net(L.AvgPool2d, FixedType(8, 3))  # sum of 4 overflows
    with pytest.raises(UnsupportedLayerError, match="'pool'.*window sum must be exact"):
        emit_hls(qnet, tmp_path / "p", io="stream")


def test_resource_reuse_with_saturating_lossy_accum_is_refused(tmp_path) -> None:
    qnet = _net([L.Input("input", (), (2, 4, 4)), _conv("conv", "input", 2, 4, 4, k=3)],
                {"conv": _wimpl(accum=FixedType(10, 4, overflow=Overflow.SAT), reuse=2,
                                strategy="resource")})
    with pytest.raises(UnsupportedLayerError, match="'conv'.*Resource strategy at reuse 2"):
        emit_hls(qnet, tmp_path / "p")


def test_reuse_factor_hls4ml_would_change_is_refused(tmp_path) -> None:
    qnet = _net([L.Input("input", (), (2, 4, 4)), _conv("conv", "input", 2, 4, 4, k=3)],
                {"conv": _wimpl(reuse=7, strategy="resource")})
    with pytest.raises(UnsupportedLayerError, match=r"reuse 7 with strategy resource .*valid"):
        emit_hls(qnet, tmp_path / "p")


def test_every_layer_carries_the_design_types(tmp_path) -> None:
    """emit_hls reads the types back from hls4ml's graph; check one by hand too."""
    qnet = _net([L.Input("input", (), (1, 4, 4)), _conv("c1", "input", 1, 2, 4, k=3),
                 L.ReLU("r", ("c1",), (2, 2, 2)),
                 L.Flatten("f", ("r",), (8,)),
                 L.Dense("d", ("f",), (3,), weight=np.ones((3, 8)) / 4, bias=np.zeros(3))],
                {"c1": _wimpl(), "r": LayerImpl(result=FixedType(7, 2, False)),
                 "f": LayerImpl(result=FixedType(7, 2, False)), "d": _wimpl(reuse=2)})
    project = emit_hls(qnet, tmp_path / "p", io="stream")
    hm = project.hls_model
    assert project.names.to_hls["c1"] == "c1" and project.names.to_hls["input"] in hm.graph
    assert str(hm.graph["r"].get_output_variable().type.precision).startswith("ufixed<7,2")
    assert hm.graph["d"].get_attr("reuse_factor") == 2
    text = (tmp_path / "p" / "firmware" / "defines.h").read_text()
    assert "ap_ufixed<7,2" in text


def test_non_empty_foreign_directory_needs_force(tmp_path) -> None:
    qnet = _net([L.Input("input", (), (1, 4, 4)), _conv("c", "input", 1, 2, 4)],
                {"c": _wimpl()})
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("user file")
    with pytest.raises(CodesignError, match="not empty and was not written by codesign"):
        emit_hls(qnet, out)
    emit_hls(qnet, out, force=True)
    assert (out / "notes.txt").read_text() == "user file"  # --force writes over, keeps it
    assert (out / "firmware" / "myproject.cpp").is_file()
    emit_hls(qnet, out)  # now it is ours: rewriting needs no --force


def test_unknown_io_and_backend_are_refused(tmp_path) -> None:
    qnet = _net([L.Input("input", (), (1, 4, 4)), _conv("c", "input", 1, 2, 4)],
                {"c": _wimpl()})
    with pytest.raises(CodesignError, match="io must be one of"):
        emit_hls(qnet, tmp_path / "a", io="axi")
    with pytest.raises(CodesignError, match="backend must be one of"):
        emit_hls(qnet, tmp_path / "b", backend="Quartus")


def test_stream_pool_with_overlapping_windows_is_refused(tmp_path) -> None:
    qnet = _net([L.Input("input", (), (2, 5, 5)),
                 L.MaxPool2d("pool", ("input",), (2, 2, 2), kernel=(3, 3), stride=(2, 2))],
                {"pool": LayerImpl(result=T8, accum=T8)})
    with pytest.raises(UnsupportedLayerError, match="'pool'.*stride == kernel"):
        emit_hls(qnet, tmp_path / "p", io="stream")


def test_parallel_pointwise_resource_reuse_is_refused(tmp_path) -> None:
    qnet = _net([L.Input("input", (), (2, 4, 4)), _conv("conv", "input", 2, 3, 4, k=1)],
                {"conv": _wimpl(reuse=3, strategy="resource")})
    with pytest.raises(UnsupportedLayerError, match="'conv'.*PointwiseConv2D"):
        emit_hls(qnet, tmp_path / "p")
    emit_hls(qnet, tmp_path / "s", io="stream")  # io_stream builds it right


def test_cast_can_overflow() -> None:
    from codesign.hls.checks import cast_can_overflow

    assert not cast_can_overflow(FixedType(2, 4), FixedType(4, 5))  # wider both ways
    assert cast_can_overflow(FixedType(8, 3), FixedType(6, 2))
    assert not cast_can_overflow(FixedType(8, 3), FixedType(8, 3))
    assert cast_can_overflow(FixedType(8, 3), FixedType(8, 3, False))  # negatives


def test_vivado_backend_on_request(tmp_path) -> None:
    qnet = _net([L.Input("input", (), (1, 4, 4)), _conv("c", "input", 1, 2, 4)],
                {"c": _wimpl()})
    project = emit_hls(qnet, tmp_path / "p", backend="Vivado", part="xc7a100tcsg324-1")
    assert project.hls_model.config.get_config_value("Backend") == "Vivado"
    assert "xc7a100tcsg324-1" in (tmp_path / "p" / "project.tcl").read_text()


def test_conv1d_is_refused_by_name(tmp_path) -> None:
    rng = np.random.default_rng(0)
    qnet = _net([L.Input("input", (), (2, 6)),
                 L.Conv1d("c1d", ("input",), (3, 4), weight=rng.normal(0, 1, (3, 2, 3)),
                          bias=np.zeros(3))], {"c1d": _wimpl()})
    with pytest.raises(UnsupportedLayerError, match="'c1d'.*Conv1D"):
        emit_hls(qnet, tmp_path / "p")
