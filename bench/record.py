"""A bench's recorded output: bench/results/<name>.json, the one place the figures quoted in
README.md and docs/ come from (tests/test_doc_figures.py checks each quoted number
against it). Every record says when it was taken, with which arguments and which Yosys."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def record(path: str | Path, args: dict, **payload) -> Path:
    """Write `payload` under the date, the bench's arguments and the Yosys version."""
    from codesign.synth.tools import yosys_version

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = {"date": datetime.date.today().isoformat(), "yosys": yosys_version(),
            "args": {k: _relative(v) for k, v in args.items() if k != "save"}}
    path.write_text(json.dumps({**head, **payload}, indent=1, default=str) + "\n")
    return path


def _relative(value: object) -> object:
    """A path inside the repository as the repository sees it (the record is committed)."""
    if isinstance(value, (str, Path)) and Path(value).is_absolute():
        root = RESULTS.parent.parent
        if Path(value).is_relative_to(root):
            return str(Path(value).relative_to(root))
    return value
