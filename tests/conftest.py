"""Shared fixtures (the trained digits CNN that many test files use) and the --extended
option: the larger random-network sets (tests/hls, tests/rtl) that CI runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--extended", action="store_true",
                     help="also run the larger random-network sets (hls4ml and RTL); CI "
                          "passes it (CODESIGN_EXTENDED=1 does the same)")


# Folders whose tests share expensive session builds (hls4ml compiles in a process pool,
# Verilator builds): under pytest-xdist with --dist loadgroup each runs in one worker,
# so no build is made twice; the other tests spread over the remaining workers.
SHARED_BUILD_DIRS = ("hls", "rtl", "regress")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): run in one pytest-xdist worker")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        try:
            parts = Path(item.path).relative_to(root).parts
        except ValueError:
            continue
        if len(parts) > 1 and parts[0] in SHARED_BUILD_DIRS:
            item.add_marker(pytest.mark.xdist_group(parts[0]))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tests run many tiny torch ops while compilers run beside them; a second OpenMP
    thread spinning on a busy 2-core machine made them up to 20x slower. Restored after
    each test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def digits_cnn_trained() -> nn.Module:
    """The zoo's digits_cnn, trained once and cached in the real cache directory
    (CODESIGN_CACHE or ~/.cache/codesign), so repeated local runs skip training.
    Treat it as read-only: it is shared by the whole session."""
    from codesign.train import get_trained

    return get_trained("digits_cnn", progress=False)


@pytest.fixture(scope="session")
def digits_qnet8(digits_cnn_trained):
    """digits_cnn at 8 bits everywhere, as `codesign quantize digits_cnn --uniform 8` makes
    it. Shared read-only by the model, CLI and RTL tests."""
    from codesign.data import load_dataset
    from codesign.ir import Graph
    from codesign.qnet import QuantizedNet
    from codesign.quant.calibrate import Widths, calibrate_design

    graph = Graph.from_torch(digits_cnn_trained, (1, 8, 8))
    design = calibrate_design(graph, load_dataset("digits").x_train[:512], Widths(8, 8),
                              model="digits_cnn")
    return QuantizedNet.from_float(graph, design)
