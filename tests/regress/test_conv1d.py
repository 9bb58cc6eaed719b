"""Conv1d end to end: the bit-accurate model against an independent reference, the RTL
(the generator's conv engine with H = 1) bit- and cycle-exact under Verilator, and
hls4ml refused by name (codesign has not verified hls4ml's Conv1D)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from codesign.cli.main import main
from codesign.fixed import FixedType
from codesign.ir import Graph
from codesign.ir import layers as L
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, calibrate_design

SHAPE = (2, 12)


@pytest.fixture(scope="module")
def conv1d_qnet() -> tuple[QuantizedNet, np.ndarray]:
    """Two Conv1d layers (stride 2 and padding; the second with a narrow rounding,
    saturating accumulator) and a dense head, at 8 bits."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv1d(2, 4, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Conv1d(4, 3, 3, padding=1), nn.Flatten(),
                          nn.Linear(18, 5)).eval()
    x = np.random.default_rng(1).uniform(-1, 1, (200, *SHAPE))
    graph = Graph.from_torch(model, SHAPE)
    design = calibrate_design(graph, x[:100], Widths(8, 8), model="conv1d")
    second = [layer.name for layer in graph.weighted][1]
    design = design.with_layer(second, accum=FixedType.parse("ap_fixed<12,4,AP_RND,AP_SAT>"))
    return QuantizedNet.from_float(graph, design), x[100:]


def conv1d_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int,
                     acc: FixedType, res: FixedType) -> np.ndarray:
    """Real values, one output at a time: bias cast to the accumulator, then each product
    cast and added in (k, c) order, the sum cast after each add, then the result cast."""
    n, c, length = x.shape
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    out_len = (length + 2 * pad - k) // stride + 1
    out = np.zeros((n, w.shape[0], out_len))
    for o in range(w.shape[0]):
        for p in range(out_len):
            total = acc.quantize(np.full(n, b[o]))
            for kk in range(k):
                for ci in range(c):
                    product = acc.quantize(w[o, ci, kk] * xp[:, ci, p * stride + kk])
                    total = acc.quantize(total + product)
            out[:, o, p] = res.quantize(total)
    return out


def test_conv1d_bit_accurate_against_reference(conv1d_qnet) -> None:
    qnet, x = conv1d_qnet
    values = qnet.forward(x, return_all=True)
    assert isinstance(values, dict)
    floats = qnet.float_weights()
    convs = [layer for layer in qnet.graph.layers if isinstance(layer, L.Conv1d)]
    assert len(convs) == 2
    for layer in convs:
        impl = qnet.design[layer.name]
        w, b = floats[layer.name]
        want = conv1d_reference(values[layer.inputs[0]], w, b, layer.stride, layer.padding,
                                impl.accum, impl.result)
        bad = np.argwhere(values[layer.name] != want)
        assert not len(bad), f"{layer.name}: first difference at {tuple(bad[0])}"


def test_conv1d_rtl_bit_and_cycle_exact(conv1d_qnet, tmp_path) -> None:
    from codesign.rtl.network import generate_rtl
    from codesign.verify.rtlsim import build, verify_rtl

    qnet, x = conv1d_qnet
    generate_rtl(qnet, tmp_path / "rtl")
    build_dir, _ = build(tmp_path / "rtl")
    r = verify_rtl(qnet, tmp_path / "rtl", build_dir, x[:60], mode="timing",
                   work_dir=tmp_path / "t")
    assert r.equal == 60 and r.mismatch is None, r.to_dict()
    assert r.cycles_equal, (r.predicted, r.measured)
    r = verify_rtl(qnet, tmp_path / "rtl", build_dir, x[:30], mode="stress", seed=2,
                   work_dir=tmp_path / "s")
    assert r.equal == 30, r.to_dict()


def test_conv1d_hls_is_refused_by_name(conv1d_qnet, tmp_path, capsys) -> None:
    qnet, _ = conv1d_qnet
    design = qnet.save(tmp_path / "d")
    assert main(["emit", str(design), "--out", str(tmp_path / "hls")]) == 1
    err = capsys.readouterr().err
    assert "Conv1D" in err and "conv1d_0" in err
