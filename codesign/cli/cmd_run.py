"""`codesign run FLOW.yaml`: the whole co-design loop of a flow file, ending with the
path of its report.

Stages are cached by the content hash of their inputs under RUNS/.cache, so a rerun (or
a run killed and restarted) redoes only what changed or never finished; every run writes
a new directory under RUNS. Sweep points run on a local process pool, or on a Dask
cluster with --scheduler.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from codesign.cli.common import add_json_arg, report
from codesign.errors import CodesignError
from codesign.flow.stages import STAGES

NAME = "run"
HELP = "run a flow (flows/*.yaml): every stage, cached and resumable, ending in a report"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("flow", type=Path, metavar="FLOW.yaml", help="the flow file")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), metavar="DIR",
                   help="where run directories (and the stage cache, DIR/.cache) go "
                        "(default: ./runs)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local processes for the sweep (default: the flow's sweep.workers, "
                        "else min(points, CPUs))")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the sweep on a Dask distributed cluster, e.g. tcp://host:8786 "
                        "(workers must share the runs directory's filesystem)")
    p.add_argument("--from", dest="from_stage", metavar="STAGE",
                   help="recompute STAGE and every stage after it even when cached (earlier "
                        "stages still come from the cache); stages in order: "
                        + ", ".join(STAGES))
    add_json_arg(p)


def run(args: argparse.Namespace) -> int:
    from codesign.flow import run_flow

    if args.workers is not None and args.workers < 1:
        raise CodesignError(f"--workers must be positive, not {args.workers}")
    result = run_flow(args.flow, args.runs_dir, workers=args.workers,
                      scheduler=args.scheduler, quiet=args.json, from_stage=args.from_stage)
    s = result.summary
    out = {"ok": s["ok"], "run_dir": str(result.run_dir), "report": str(result.report_html),
           "report_md": str(result.report_md), "chosen": s.get("chosen"),
           "seconds": s["seconds"],
           **({"no_choice": s["no_choice"]} if "no_choice" in s else {}),
           "points": [{"label": r["label"], "error": r["error"],
                       **({k: r["eval"][k] for k in ("bit_accurate_val_accuracy",
                                                      "bit_accurate_test_accuracy",
                                                      "weight_bits")} if r.get("eval") else {}),
                       **({k: r["cost"][k] for k in ("lut", "ff", "dsp", "bram", "latency",
                                                     "interval", "fits")}
                          if r.get("cost") else {})}
                      for r in s["points"]],
           "stages": [{k: st[k] for k in ("stage", "point", "cached", "seconds", "wall")}
                      | ({"timed_out": True} if st.get("timed_out") else {})
                      for st in s["stages"]]}
    for name in ("hls", "rtl", "synth"):
        if name in s:
            out[name] = s[name]
    report(args, out, _text)
    return 0 if s["ok"] else 1


def _text(r: dict) -> str:
    lines = [f"  {line}" for line in stage_lines(r["stages"])]
    failed = [p for p in r["points"] if p["error"]]
    for p in failed:
        lines.append(f"  point {p['label']} FAILED: {p['error']}")
    syn = r.get("synth") or {}
    if syn.get("timed_out"):
        lines.append(f"  synthesis stopped at its limit (synth.timeout_s {syn['timeout_s']:g} s); "
                     f"it reached: {syn['reached']}")
    lines.append(f"chosen design: {r['chosen']}" if r["chosen"] is not None else
                 f"no design chosen: {r['no_choice']}")
    lines.append(("PASS" if r["ok"] else "FAIL") + f" in {r['seconds']:.1f} s")
    lines.append(f"report: {r['report']}")
    return "\n".join(lines)


def stage_lines(stages: list[dict]) -> list[str]:
    """One line per stage: a stage that ran for every sweep point is summed over them
    (how many points, how many came from the cache), the chosen design's stages name it."""
    groups: dict[str, list[dict]] = {}
    for st in stages:
        groups.setdefault(st["stage"], []).append(st)
    lines = []
    for name, runs in groups.items():
        if len(runs) == 1:
            st = runs[0]
            where = f" [{st['point']}]" if st["point"] else ""
            how = ("cached" if st["cached"] else
                   f"timed out after {st['seconds']:.1f} s" if st.get("timed_out") else
                   f"{st['seconds']:.1f} s")
            lines.append(f"{name}{where}: {how}")
            continue
        cached = sum(bool(st["cached"]) for st in runs)
        if cached == len(runs):
            lines.append(f"{name}: {len(runs)} points, cached")
            continue
        seconds = sum(st["seconds"] for st in runs if not st["cached"])
        lines.append(f"{name}: {len(runs)} points, {seconds:.1f} s"
                     + (f" ({cached} cached)" if cached else ""))
    return lines
