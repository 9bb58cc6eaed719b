"""The README's Python API example runs as written, and the public names exist."""

from __future__ import annotations

import os
import re
from pathlib import Path

import codesign

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_api_example_runs(tmp_path: Path, digits_cnn_trained) -> None:
    block = re.search(r"## Python API\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert block, "README lost its Python API example"
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the example writes out/digits8
    try:
        namespace: dict = {}
        exec(compile(block.group(1), "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert (tmp_path / "out" / "digits8" / "design.yaml").is_file()
    assert namespace["t"].to_int([0.1, 5.0]).tolist() == [3, 127]
    assert list(namespace["t"].quantize([0.1, 5.0])) == [0.09375, 3.96875]


def test_public_names() -> None:
    for name in codesign.__all__:
        assert hasattr(codesign, name), name
