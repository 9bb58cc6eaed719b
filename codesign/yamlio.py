"""Reading the YAML files users hand us (designs, sensitivity tables), with messages
that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codesign.errors import CodesignError


def read_yaml(path: str | Path, what: str, error: type[CodesignError] = CodesignError) -> Any:
    """The parsed contents of `path`; a missing file or bad YAML raises `error`."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} {path} does not exist")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise error(f"{path} is not valid YAML: {exc}") from None
