"""One small design (a conv with a line buffer, a fused ReLU, a dense head whose shared
multipliers go to DSPs), synthesized once per session for each target: Yosys is slow
here, so every synthesis test reads these."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.design import DesignPoint, LayerImpl, lossless_accum
from codesign.devices import get_device
from codesign.fixed import FixedType
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet

TINY_LIB = """library (tiny) {
  cell (BUFX1) { area : 2.0; pin (A) { direction : input; }
    pin (Y) { direction : output; function : "A"; } }
  cell (INVX1) { area : 1.5; pin (A) { direction : input; }
    pin (Y) { direction : output; function : "(!A)"; } }
  cell (NAND2X1) { area : 2.0; pin (A) { direction : input; } pin (B) { direction : input; }
    pin (Y) { direction : output; function : "(!(A B))"; } }
  cell (NOR2X1) { area : 2.5; pin (A) { direction : input; } pin (B) { direction : input; }
    pin (Y) { direction : output; function : "(!(A+B))"; } }
  cell (DFFX1) { area : 10.0; ff (IQ, IQN) { clocked_on : "CLK"; next_state : "D"; }
    pin (CLK) { direction : input; clock : true; } pin (D) { direction : input; }
    pin (Q) { direction : output; function : "IQ"; } }
}
"""


def tiny_qnet() -> QuantizedNet:
    rng = np.random.default_rng(0)
    conv_w = rng.normal(0, 0.5, (2, 1, 3, 3))
    dense_w = rng.normal(0, 0.3, (3, 18))
    graph = Graph((
        L.Input("input", (), (1, 5, 5)),
        L.Conv2d("conv", ("input",), (2, 3, 3), weight=conv_w, bias=rng.normal(0, .2, 2)),
        L.ReLU("relu", ("conv",), (2, 3, 3)),
        L.Flatten("flat", ("relu",), (18,)),
        L.Dense("fc", ("flat",), (3,), weight=dense_w, bias=rng.normal(0, .2, 3)),
    ))
    x = FixedType.parse("ap_ufixed<5,1>")
    w4 = FixedType.parse("ap_fixed<4,1,AP_RND_CONV,AP_SAT>")
    b = FixedType.parse("ap_fixed<10,2>")
    r = FixedType.parse("ap_fixed<8,3,AP_RND,AP_SAT>")
    u = FixedType.parse("ap_ufixed<6,2,AP_RND,AP_SAT>")
    layers = {
        "conv": LayerImpl(result=r, weight=w4, bias=b, accum=lossless_accum(w4, x, b, 9)),
        "relu": LayerImpl(result=u),
        "flat": LayerImpl(result=u),
        "fc": LayerImpl(result=r, weight=w4, bias=b, accum=lossless_accum(w4, u, b, 18),
                        reuse=2, multiplier="dsp"),
    }
    design = DesignPoint(input=x, layers=layers, device="xc7a35t")
    return QuantizedNet.from_float(graph, design)


@pytest.fixture(scope="session")
def tiny_design(tmp_path_factory):
    """The tiny design saved as a design.yaml (what the CLI takes)."""
    out = tmp_path_factory.mktemp("tiny")
    return tiny_qnet().save(out / "design")


@pytest.fixture(scope="session")
def synth_xc7(tmp_path_factory):
    from codesign.synth import synthesize

    out = tmp_path_factory.mktemp("synth_xc7")
    return out, synthesize(tiny_qnet(), out, get_device("xc7a35t"), use_cache=False)


@pytest.fixture(scope="session")
def synth_ecp5(tmp_path_factory):
    from codesign.synth import synthesize

    out = tmp_path_factory.mktemp("synth_ecp5")
    return out, synthesize(tiny_qnet(), out, get_device("lfe5u-25f"), use_cache=False)
