"""The run report: a self-contained HTML page and its markdown twin, built from a run's
summary (run.json)."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from codesign.outputs import output_dir, output_file
from codesign.report.build import sections
from codesign.report.render import to_html, to_markdown


def write_report(summary: dict[str, Any], run_dir: str | Path) -> tuple[Path, Path]:
    """Write run_dir/report.html and run_dir/report.md (images in run_dir/report_files)."""
    run_dir = Path(run_dir)
    secs = sections(summary, run_dir)
    title = f"codesign report: {summary['flow']}"
    html_path, md_path = run_dir / "report.html", run_dir / "report.md"
    html = to_html(title, secs)
    # a rebuild that fails half way leaves the earlier report, not half of a new one
    with ExitStack() as outputs:
        images = outputs.enter_context(output_dir(run_dir / "report_files", keep_old=False))
        outputs.enter_context(output_file(html_path)).write_text(html)
        outputs.enter_context(output_file(md_path)).write_text(
            to_markdown(title, secs, images, "report_files"))
    return html_path, md_path


def rebuild_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Rewrite a run's report from its run.json."""
    run_dir = Path(run_dir)
    return write_report(json.loads((run_dir / "run.json").read_text()), run_dir)


__all__ = ["rebuild_report", "write_report"]
