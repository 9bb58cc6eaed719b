"""Fixtures for the quantization-method tests: the trained digits CNN, its graph, data."""

from __future__ import annotations

import pytest
import torch

from codesign.data import load_dataset
from codesign.quant.calibrate import Widths
from codesign.quant.methods import MethodSettings, QuantJob
from codesign.quant.qat import TrainSettings
from codesign.train import get_trained
from codesign.zoo import get_entry


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """These nets are tiny: one thread is faster than two competing on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def quant_module() -> torch.nn.Module:
    return get_trained("digits_cnn", progress=False)


@pytest.fixture(scope="session")
def quant_digits():
    return load_dataset("digits")


@pytest.fixture(scope="session")
def quant_graph(quant_module):
    from codesign.ir.graph import Graph

    return Graph.from_torch(quant_module, get_entry("digits_cnn").input_shape)


@pytest.fixture(scope="session")
def job3(quant_graph, quant_digits, quant_module) -> QuantJob:
    return QuantJob(quant_graph, quant_digits, Widths(3, 3), module=quant_module,
                    model="digits_cnn")


@pytest.fixture(scope="session")
def quick() -> MethodSettings:
    """Small settings: a couple of epochs on a training subset (the bench runs the full)."""
    return MethodSettings(calib_samples=256, synth_samples=64, synth_steps=30,
                          adaround_iters=60, finetune_epochs=1,
                          train=TrainSettings(epochs=2, snap_epochs=1, max_train=384))
