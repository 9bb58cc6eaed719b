"""Shared RTL fixtures: quantized designs, generated RTL and Verilator builds.

Builds are cached by content hash in the codesign cache (codesign.verify.rtlsim), and every
build here is session-scoped, so each network is verilated once and reused for many
samples and both simulation modes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.data import load_dataset
from codesign.qnet import QuantizedNet
from codesign.rtl.network import generate_rtl


@pytest.fixture(scope="session")
def digits_data():
    return load_dataset("digits")


@pytest.fixture(scope="session")
def digits_qnet(digits_qnet8) -> QuantizedNet:
    """digits_cnn at 8 bits everywhere (calibrated like `codesign quantize --uniform 8`)."""
    return digits_qnet8


@pytest.fixture(scope="session")
def digits_qnet_rf(digits_qnet) -> QuantizedNet:
    """The same design with multipliers shared (RF 3/8/5), DSP products in the first conv
    and a narrow saturating, rounding accumulator in the dense layer (lossy, order-exact)."""
    from codesign.fixed import FixedType

    d = digits_qnet.design
    names = [layer.name for layer in digits_qnet.graph.weighted]
    d = d.with_layer(names[0], reuse=3, multiplier="dsp")
    d = d.with_layer(names[1], reuse=8)
    d = d.with_layer(names[2], reuse=5, accum=FixedType.parse("ap_fixed<14,8,AP_RND,AP_SAT>"))
    return QuantizedNet(digits_qnet.graph, d, digits_qnet.weights, digits_qnet.biases)


def _built(qnet: QuantizedNet, tmp: Path):
    from codesign.verify.rtlsim import build

    rtl = tmp / "rtl"
    generate_rtl(qnet, rtl)
    build_dir, _ = build(rtl)
    return rtl, build_dir


@pytest.fixture(scope="session")
def digits_build(digits_qnet, tmp_path_factory):
    return _built(digits_qnet, tmp_path_factory.mktemp("digits"))


@pytest.fixture(scope="session")
def digits_rf_build(digits_qnet_rf, tmp_path_factory):
    return _built(digits_qnet_rf, tmp_path_factory.mktemp("digits_rf"))


@pytest.fixture(scope="session")
def built():
    """Generate and build any QuantizedNet (for the random networks)."""
    return _built
