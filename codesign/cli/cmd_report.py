"""`codesign report DIR...`: a run's report rebuilt from its run.json, or several runs
drawn on one frontier plot (a comparison page)."""

from __future__ import annotations

import argparse
from pathlib import Path

from codesign.cli.common import add_json_arg, report
from codesign.errors import CodesignError

NAME = "report"
HELP = ("rebuild a run's report from its run.json, or compare several runs on one "
        "frontier plot")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="DIR",
                   help="run directories written by `codesign run` (runs/FLOW-TIME)")
    p.add_argument("--out", type=Path, metavar="FILE.html",
                   help="the comparison page of several runs (default: compare.html here; "
                        "an existing file needs --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    add_json_arg(p)


def run(args: argparse.Namespace) -> int:
    from codesign.report import rebuild_report
    from codesign.report.compare import compare_runs, write_compare

    compare_runs(args.run_dirs)  # every directory checked before anything is written
    if len(args.run_dirs) == 1:
        if args.out is not None:
            raise CodesignError("--out is for a comparison of several runs; one run's "
                                "report is rebuilt in its own directory")
        html, md = rebuild_report(args.run_dirs[0])
        report(args, {"report": str(html), "report_md": str(md)},
               lambda r: f"report: {r['report']}")
        return 0
    out = args.out or Path("compare.html")
    if out.exists() and not args.force:
        raise CodesignError(f"--out {out} exists; pass --force to replace it, or choose "
                            "another file")
    write_compare(args.run_dirs, out)
    report(args, {"compare": str(out), "runs": [str(d) for d in args.run_dirs]},
           lambda r: f"comparison of {len(r['runs'])} runs: {r['compare']}")
    return 0
