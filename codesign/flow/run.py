"""`run_flow`: every stage of a flow, cached, in a new run directory, ending in a report.

Run directory (never reused): `<runs>/<flow>-<UTC time>[-N]/` with the flow file as run,
`log.jsonl` (stage starts and ends), `run.json` (every figure), `stages/<stage>/` (the
shared and chosen-design stages' files), `points/<point>/<stage>/` and the report
(`report.html`, `report.md`). The cache lives in `<runs>/.cache/` and is shared by runs.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from codesign.errors import CodesignError
from codesign.flow.cache import Entry, StageCache
from codesign.flow.execute import describe_error, log_event, run_stage
from codesign.flow.limit import StageTimeout
from codesign.flow.nofit import why_none
from codesign.flow.schema import Flow, load_flow
from codesign.flow.stages import STAGES, Point, enabled
from codesign.flow.sweep import run_sweep
from codesign.flow.yosysfit import MAX_TRIES, RESOURCES, limits_for, yosys_misses
from codesign.outputs import check_dir_target
from codesign.workers import connect


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    report_html: Path
    report_md: Path
    summary: dict[str, Any]

    @property
    def ok(self) -> bool:
        return bool(self.summary["ok"])


def new_run_dir(runs_dir: Path, title: str) -> Path:
    """A folder that did not exist before (mkdir is the arbiter between parallel runs)."""
    check_dir_target(runs_dir, "--runs-dir")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CodesignError(f"cannot create --runs-dir {runs_dir}: {exc.strerror}") from None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    for n in range(1, 10_000):
        path = runs_dir / (f"{title}-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise CodesignError(f"no free run directory name under {runs_dir}")


def sweep_points(flow: Flow, allocated: dict[str, Any] | None = None) -> list[Point]:
    """Devices x methods x uniform widths; with `allocate:`, devices x methods x the
    frontier points of every allocator method (`allocated`: the allocate stage's outputs)."""
    if flow.allocate is None:
        return [Point(d.lower(), m, b) for d in flow.target.devices
                for m in flow.quantize.methods for b in flow.quantize.bits]
    assert allocated is not None
    return [Point(d.lower(), m, None, row["point"], row["method"])
            for d in flow.target.devices for m in flow.quantize.methods
            for row in allocated["devices"][d.lower()]["points"]]


def size_of(record: dict[str, Any]) -> float:
    """What 'smaller' means: estimated LUTs when the cost stage ran, else weight bits."""
    if record.get("cost"):
        return float(record["cost"]["lut"])
    return float(record["eval"]["weight_bits"])


def ranked(records: list[dict[str, Any]], max_drop: float,
           fit_only: bool = False) -> list[dict[str, Any]]:
    """The candidates within max_drop of the best validation accuracy (with fit_only, among
    the points that fit their device), smallest first (size_of); ties go to the more
    accurate, then to the earlier point."""
    ok = [r for r in records if r["error"] is None]
    if fit_only:
        ok = [r for r in ok if r.get("cost", {}).get("fits", True)]
    if not ok:
        return []
    best = max(r["eval"]["bit_accurate_val_accuracy"] for r in ok)
    near = [r for r in ok if r["eval"]["bit_accurate_val_accuracy"] >= best - max_drop - 1e-12]
    return sorted(near, key=lambda r: (size_of(r), -r["eval"]["bit_accurate_val_accuracy"]))


def select(records: list[dict[str, Any]], max_drop: float,
           fit_only: bool = False) -> dict[str, Any] | None:
    """The first of `ranked`: the smallest design within max_drop of the best."""
    return next(iter(ranked(records, max_drop, fit_only)), None)


def _entry(stage_run: dict[str, Any]) -> Entry:
    folder = Path(stage_run["folder"])
    return Entry(stage_run["stage"], stage_run["key"], folder,
                 json.loads((folder / "result.json").read_text()))


def _copy(entry_folder: Path, dest: Path) -> None:
    shutil.copytree(entry_folder, dest, symlinks=True)


def rerun_from(flow: Flow, stage: str | None) -> frozenset[str]:
    """The stages `--from STAGE` recomputes: that stage and every later one of this flow
    (earlier ones still come from the cache)."""
    if stage is None:
        return frozenset()
    names = [s.name for s in enabled(flow)]
    if stage not in names:
        why = (f"the flow {flow.title} does not run it" if stage in STAGES
               else "no stage has that name")
        raise CodesignError(f"--from {stage}: {why}; this flow's stages are, in order: "
                            f"{', '.join(names)}")
    return frozenset(names[names.index(stage):])


def compare_dirs(flow: Flow) -> list[str]:
    """The run directories of `report.compare`, resolved and checked (CodesignError)."""
    from codesign.report.compare import compare_runs

    dirs = [str(flow.resolve(d)) for d in flow.report.compare]
    compare_runs(dirs, what="report.compare:")
    return dirs


def run_flow(flow_path: str | Path, runs_dir: str | Path = "runs", *, workers: int | None = None,
             scheduler: str | None = None, quiet: bool = False,
             from_stage: str | None = None) -> RunResult:
    """Run a flow into a new run directory under runs_dir. from_stage: recompute that stage
    and the ones after it even when cached (their new results replace the cached ones)."""
    flow = load_flow(flow_path)
    force = rerun_from(flow, from_stage)
    compare_dirs(flow)  # refused by name before any work
    client = connect(scheduler) if scheduler is not None else None
    try:
        return _run(flow, Path(flow_path), Path(runs_dir), workers, client, quiet, force)
    finally:
        if client is not None:
            client.close()


def _run(flow: Flow, flow_path: Path, runs_dir: Path, workers: int | None, client: Any,
         quiet: bool, force: frozenset[str] = frozenset()) -> RunResult:
    cache_root = (runs_dir / ".cache").resolve()
    StageCache(cache_root).sweep_stale()
    run_dir = new_run_dir(runs_dir, flow.title)
    shutil.copyfile(flow_path, run_dir / "flow.yaml")
    log = run_dir / "log.jsonl"
    started = time.time()
    stages = enabled(flow)
    # with allocate, the number of points is known after the shared stages
    points = sweep_points(flow) if flow.allocate is None else []
    per_point = [s.name for s in stages if s.scope == "point"]
    n_steps = (sum(s.scope != "point" for s in stages) + len(points))
    bar = tqdm(total=n_steps, desc=flow.title, unit="step", disable=True if quiet else None)
    runs: list[dict[str, Any]] = []
    entries: dict[str, Entry] = {}
    summary: dict[str, Any] = {"flow": flow.title, "flow_file": str(Path(flow_path)),
                               "run_dir": str(run_dir), "started": _iso(started),
                               "points": [], "stages": runs,
                               "rerun": sorted(force, key=list(STAGES).index),
                               **({"compare": compare_dirs(flow)} if flow.report.compare
                                  else {})}
    current = "sweep"  # what a failure escaping the body below is a failure of
    try:
        for s in stages:
            if s.scope != "shared":
                continue
            bar.set_postfix_str(s.label)
            current = s.name
            run = run_stage(flow, s.name, None, entries, cache_root, progress=not quiet,
                            log=log, force=s.name in force)
            entries[s.name] = run.entry
            runs.append(run.to_dict())
            _copy(run.entry.folder, run_dir / "stages" / s.name)
            bar.update()
        summary["model"] = entries["train"].outputs
        if "sensitivity" in entries:
            summary["sensitivity"] = {**entries["sensitivity"].outputs,
                                      "folder": "stages/sensitivity"}
        if "allocate" in entries:
            summary["allocate"] = {**entries["allocate"].outputs, "folder": "stages/allocate"}
            points = sweep_points(flow, entries["allocate"].outputs)
            bar.total = n_steps + len(points)
            bar.refresh()

        current = "sweep"
        bar.set_postfix_str(f"sweep of {len(points)} point(s)")

        def point_done(record: dict[str, Any]) -> None:
            bar.update()
            bar.set_postfix_str(f"{record['label']} {'failed' if record['error'] else 'done'}")

        records = run_sweep(flow, points, per_point, entries, cache_root,
                            workers=workers or flow.sweep.workers, client=client,
                            progress=not quiet, log=log, on_done=point_done, force=force)
        for record in records:
            for st in record["stages"]:
                record[st["stage"]] = st["outputs"]
                runs.append(st)
                _copy(Path(st["folder"]), run_dir / "points" / record["label"] / st["stage"])
        summary["points"] = records
        fit_only = flow.cost is not None and flow.cost.fit_only
        chosen = select(records, flow.select.max_accuracy_drop, fit_only)
        size = "estimated LUTs" if flow.cost is not None else "total weight bits"
        summary["select"] = {"rule": f"fewest {size} within max_accuracy_drop of the best "
                                     "validation accuracy" + (" among the points that fit "
                                                              "their device" if fit_only else ""),
                             "max_accuracy_drop": flow.select.max_accuracy_drop}
        if flow.synth is not None:
            summary["select"]["rule"] += (
                f"; then, synthesized in that order (at most {MAX_TRIES}), the first within "
                "the budget and the part by Yosys")
        summary["chosen"] = chosen["label"] if chosen else None
        if chosen is None:
            summary["no_choice"] = why_none(records, fit_only)
        else:
            def run_chosen(name: str, record: dict[str, Any]) -> dict[str, Any]:
                """One chosen-scope stage of a point: its outputs (a timeout or a failure
                recorded as such, not a failure of the flow)."""
                point = Point(**record["point"])
                upstream = {**entries, **{st["stage"]: _entry(st) for st in record["stages"]}}
                try:
                    run = run_stage(flow, name, point, upstream, cache_root,
                                    progress=not quiet, log=log, force=name in force)
                except StageTimeout as exc:
                    runs.append({"stage": name, "point": point.label, "key": None,
                                 "cached": False, "timed_out": True,
                                 "seconds": exc.record["seconds"],
                                 "wall": exc.record["seconds"], "folder": None,
                                 "outputs": exc.record})
                    log_event(log, stage=name, point=point.label, event="timed_out",
                              seconds=exc.record["seconds"], reached=exc.record["reached"])
                    return exc.record
                except Exception as exc:
                    error = describe_error(exc)
                    log_event(log, stage=name, point=point.label, event="failed",
                              error=error["error"])
                    return error
                runs.append(run.to_dict())
                return {**run.entry.outputs, "_folder": str(run.entry.folder)}

            done: dict[str, dict[str, Any]] = {}
            if flow.synth is not None:  # the first candidate that fits by Yosys
                bar.set_postfix_str(STAGES["synth"].label)
                chosen, done["synth"], summary["select"]["yosys"] = _fit_by_yosys(
                    ranked(records, flow.select.max_accuracy_drop, fit_only), summary,
                    lambda record: run_chosen("synth", record))
                summary["chosen"] = chosen["label"]
            for s in stages:
                if s.scope != "chosen":
                    continue
                bar.set_postfix_str(s.label)
                out = done.get(s.name) or run_chosen(s.name, chosen)
                folder = out.pop("_folder", None)
                if folder is not None:
                    _copy(Path(folder), run_dir / "stages" / s.name)
                summary[s.name] = out
                bar.update()
    except Exception as exc:
        _record_stop(summary, run_dir, log, current, exc, started)
        if isinstance(exc, CodesignError):  # the user's to fix: say where the record is
            raise CodesignError(f"the {current} stage failed: {exc} (recorded in "
                                f"{run_dir / 'run.json'} and log.jsonl)") from exc
        raise  # a bug keeps its traceback
    finally:
        bar.close()
    summary["seconds"] = round(time.time() - started, 2)
    summary["ok"] = _ok(summary, stages)
    (run_dir / "run.json").write_text(json.dumps(summary, indent=1, default=str))
    from codesign.report import write_report

    html, md = write_report(summary, run_dir)
    return RunResult(run_dir, html, md, summary)


def _fit_by_yosys(candidates: list[dict[str, Any]], summary: dict[str, Any],
                  synthesize: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Synthesize the candidates in order (at most MAX_TRIES) until one is within its
    limits by Yosys: (the chosen record, its synth outputs, the record of the tries). When
    none fits, or synthesis gives no figures, the first candidate stays chosen and the
    record says so."""
    tries: list[dict[str, Any]] = []
    first = None
    for record in candidates[:MAX_TRIES]:
        out = synthesize(record)
        first = first or (record, out)
        limits = limits_for(summary, record["point"]["device"])
        over = yosys_misses(out, limits)
        tries.append({"label": record["label"], "over": over,
                      **{k: out.get(k) for k in RESOURCES}})
        if over is None:  # no figures to judge by: keep the selection rule's choice
            break
        if not over:
            return record, out, {"tries": tries, "fits": True,
                                 "claim": f"{record['label']} fits by Yosys (try {len(tries)})"}
    assert first is not None
    missed = "; ".join(f"{t['label']}: " + ", ".join(f"{k} +{v:g}" for k, v in t["over"].items())
                       for t in tries if t["over"])
    claim = ("Yosys gave no figures: the fit is the estimate's" if tries[-1]["over"] is None
             else f"no candidate fits by Yosys ({missed})")
    return first[0], first[1], {"tries": tries, "fits": False, "claim": claim}


def _record_stop(summary: dict[str, Any], run_dir: Path, log: Path, stage: str,
                 exc: Exception, started: float) -> None:
    """A failure that stops the run (a shared stage: train, sensitivity, allocate), as a
    `failed` event in log.jsonl and in run.json (`failed`: the stage and its error)."""
    error = describe_error(exc)
    log_event(log, stage=stage, point=None, event="failed", error=error["error"])
    summary.update(failed={"stage": stage, **error}, ok=False,
                   seconds=round(time.time() - started, 2))
    (run_dir / "run.json").write_text(json.dumps(summary, indent=1, default=str))


def _ok(summary: dict[str, Any], stages: list) -> bool:
    if summary.get("chosen") is None:
        return False
    names = {s.name for s in stages}
    hls, rtl = summary.get("hls"), summary.get("rtl")
    if "hls" in names and (hls is None or "error" in hls
                           or ("csim" in hls and not hls["csim"]["ok"])):
        return False
    if "rtl" in names and (rtl is None or "error" in rtl or rtl.get("ok") is False):
        return False
    if "synth" in names and (summary.get("synth") is None or "error" in summary["synth"]):
        return False
    return True


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
