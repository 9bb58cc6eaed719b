"""Several runs on one frontier plot: two parts, two budgets, two quantizers...

`codesign report DIR...` writes a comparison page of run directories; a flow's
`report: {compare: [run dirs]}` adds the same section to its own report (this run first).
Each run is read from its run.json only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codesign.errors import CodesignError
from codesign.report import plots
from codesign.report.blocks import Image, Section, Table


def load_run(run_dir: str | Path, what: str = "run directory") -> dict[str, Any]:
    """A run's summary; a path that is not a finished run directory is refused by name."""
    path = Path(run_dir)
    summary = path / "run.json"
    if not path.is_dir():
        raise CodesignError(f"{what} {path} does not exist or is not a directory: give "
                            "folders that `codesign run` wrote (runs/FLOW-TIME)")
    if not summary.is_file():
        raise CodesignError(f"{what} {path} has no run.json, so it is not a run directory "
                            "(or its run was stopped before the end): give folders that "
                            "`codesign run` wrote (runs/FLOW-TIME)")
    try:
        data = json.loads(summary.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CodesignError(f"{summary} is not valid JSON ({exc}); rerun that flow") from None
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise CodesignError(f"{summary} is not a codesign run summary (no points list)")
    return data


def run_name(summary: dict[str, Any], run_dir: str | Path) -> str:
    """The legend entry of a run: its flow and its folder."""
    return f"{summary.get('flow', '?')} ({Path(run_dir).name})"


def _costed(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in summary["points"]
            if r.get("error") is None and r.get("eval") and r.get("cost")]


def compare_section(runs: list[tuple[str, dict[str, Any]]]) -> Section:
    """One frontier plot of every run's costed points, and a row per run's chosen design."""
    sec = Section("compare", f"Comparison of {len(runs)} runs")
    rows = []
    for name, s in runs:
        chosen = next((r for r in s["points"] if r["label"] == s.get("chosen")), None)
        e, c = (chosen or {}).get("eval") or {}, (chosen or {}).get("cost") or {}
        syn = s.get("synth") if isinstance(s.get("synth"), dict) else {}
        rows.append([name, ", ".join(sorted({r["point"]["device"] for r in s["points"]})),
                     str(len(s["points"])), str(s.get("chosen") or "none"),
                     _pct(e.get("bit_accurate_val_accuracy")),
                     _pct(e.get("bit_accurate_test_accuracy")),
                     str(c.get("lut", "")), str(syn.get("lut", "")),
                     "PASS" if s.get("ok") else "FAIL"])
    sec.blocks.append(Table(["run", "devices", "points", "chosen", "val", "test",
                             "LUT (est.)", "LUT (Yosys)", "verdict"], rows))
    series = [(name, _costed(s), s.get("chosen")) for name, s in runs]
    if any(points for _, points, _ in series):
        sec.blocks.append(Image("compare", plots.compare(series),
                                "Every run's points: bit-accurate validation accuracy "
                                "against estimated LUTs, one colour per run"))
    return sec


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.2f}%"


def compare_runs(run_dirs: list[str | Path], what: str = "run directory"
                 ) -> list[tuple[str, dict[str, Any]]]:
    """(legend name, summary) of every run directory, all checked before any is drawn."""
    return [(run_name(s, d), s) for d, s in ((d, load_run(d, what)) for d in run_dirs)]


def write_compare(run_dirs: list[str | Path], out: str | Path) -> Path:
    """The comparison page (self-contained HTML) of several run directories."""
    from codesign.outputs import output_file
    from codesign.report.render import to_html

    runs = compare_runs(run_dirs)
    html = to_html(f"codesign comparison of {len(runs)} runs", [compare_section(runs)])
    with output_file(out) as tmp:
        tmp.write_text(html)
    return Path(out)
