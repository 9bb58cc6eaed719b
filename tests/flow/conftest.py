"""Small flows for the flow tests: a linear bring-your-own model trains in a second."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

LINEAR_NET = """
from torch import nn


def make():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
"""


def write_flow(folder: Path, text: str, name: str = "flow.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


TINY_NET = """
from torch import nn


def make():
    return nn.Sequential(nn.MaxPool2d(4), nn.Flatten(), nn.Linear(4, 10))
"""
TINY_HEAD = """
name: syn
model: {file: tiny.py:make, input_shape: [1, 8, 8], train: {epochs: 1}}
dataset: digits
sensitivity: null
"""


def tiny_flow(folder: Path, sections: str) -> Path:
    """A flow of a one-layer model file (seconds to train and synthesize) on the digits
    data without sensitivity; `sections` are the rest of the flow file."""
    (folder / "tiny.py").write_text(TINY_NET)
    return write_flow(folder, TINY_HEAD + textwrap.dedent(sections).lstrip())


@pytest.fixture
def linear_model(tmp_path: Path) -> Path:
    """A model file whose only layer feeds no ReLU (so the hwgq method refuses it)."""
    path = tmp_path / "linear.py"
    path.write_text(LINEAR_NET)
    return path


def linear_flow(name: str, body: str, *, dataset: str = "digits",
                device: str = "xc7a100t") -> str:
    """A flow of the model file linear.py:make (trained one epoch here) with the sections
    after `target` given by `body`, for write_flow."""
    head = f"""
        name: {name}
        model:
          file: linear.py:make
          input_shape: [1, 8, 8]
          train: {{epochs: 1}}
        dataset: {dataset}
        target: {{devices: [{device}]}}
    """
    return textwrap.dedent(head).lstrip() + textwrap.dedent(body).lstrip()
