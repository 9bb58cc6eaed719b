"""Shared fixtures: the trained digits CNN that many test files use."""

from __future__ import annotations

import pytest
from torch import nn


@pytest.fixture(scope="session")
def digits_cnn_trained() -> nn.Module:
    """The zoo's digits_cnn, trained once and cached in the real cache directory
    (CODESIGN_CACHE or ~/.cache/codesign), so repeated local runs skip training.
    Treat it as read-only: it is shared by the whole session."""
    from codesign.train import get_trained

    return get_trained("digits_cnn", progress=False)
