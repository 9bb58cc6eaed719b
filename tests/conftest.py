"""Shared fixtures: the trained digits CNN that many test files use."""

from __future__ import annotations

import pytest
import torch
from torch import nn


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
