"""Running one stage through the cache, and one sweep point through its stages.

Both are plain top-level functions of picklable arguments, so a process pool or a Dask
worker runs exactly what the main process runs.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codesign.errors import CodesignError
from codesign.flow.cache import Entry, StageCache
from codesign.flow.schema import Flow
from codesign.flow.stages import STAGES, Point, StageContext
from codesign.version import __version__


@dataclass(frozen=True)
class StageRun:
    """What one stage did in this run."""

    stage: str
    point: str | None
    key: str
    cached: bool
    seconds: float  # compute time of the result (when it was made)
    wall: float  # time spent in this run (about 0 when cached)
    entry: Entry

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "point": self.point, "key": self.key,
                "cached": self.cached, "seconds": self.seconds, "wall": round(self.wall, 3),
                "folder": str(self.entry.folder), "outputs": self.entry.outputs}


def log_event(log: Path | None, **event: Any) -> None:
    """Append one JSON line to the run's log (stage starts and ends)."""
    if log is None:
        return
    with log.open("a") as f:
        f.write(json.dumps({"time": round(time.time(), 3), "pid": os.getpid(), **event})
                + "\n")


def run_stage(flow: Flow, name: str, point: Point | None, upstream: dict[str, Entry],
              cache_root: Path, *, progress: bool = False, log: Path | None = None,
              force: bool = False) -> StageRun:
    """The stage's cached entry, or compute it (into a private folder sealed at the end).
    force: compute it even when cached, and let the result replace the cached entry
    (`codesign run --from STAGE`)."""
    stage = STAGES[name]
    cache = StageCache(cache_root)
    deps = stage.upstream(upstream)
    inputs = {"codesign": __version__, "config": stage.config(flow, point),
              "upstream": {d: upstream[d].digest for d in deps}}
    key = cache.key(name, inputs)
    label = point.label if point else None
    start = time.perf_counter()
    found = None if force else cache.lookup(name, key)
    if found is not None:
        log_event(log, stage=name, point=label, event="cached", key=key)
        return StageRun(name, label, key, True, found.result["seconds"],
                        time.perf_counter() - start, found)
    log_event(log, stage=name, point=label, event="start", key=key,
              **({"forced": True} if force else {}))
    tmp = cache.begin(name, key)
    try:
        # a stage's own bars on a terminal; off it the flow's line per stage says it all
        bars = progress and sys.stderr.isatty()
        ctx = StageContext(flow, point, {d: upstream[d] for d in deps}, tmp, bars)
        outputs = stage.fn(ctx)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.perf_counter() - start
    entry = cache.commit(name, key, tmp, outputs, seconds, replace=force)
    log_event(log, stage=name, point=label, event="done", key=key, seconds=round(seconds, 3))
    return StageRun(name, label, key, False, round(seconds, 3), seconds, entry)


def describe_error(exc: BaseException) -> dict[str, str]:
    """A failed point's record: the user-facing message, and the traceback for bugs."""
    out = {"error": f"{type(exc).__name__}: {exc}"}
    if not isinstance(exc, CodesignError):
        out["traceback"] = "".join(traceback.format_exception(exc))[-4000:]
    return out


def run_point(flow: Flow, point: Point, stages: list[str], upstream: dict[str, Entry],
              cache_root: Path, progress: bool = False, log: Path | None = None,
              force: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every per-point stage of one sweep point (those in `force` recomputed even when
    cached). Never raises: a failure is recorded with its error, so the sweep goes on."""
    runs: list[StageRun] = []
    entries = dict(upstream)
    name = None
    try:
        for name in stages:
            run = run_stage(flow, name, point, entries, cache_root, progress=progress, log=log,
                            force=name in force)
            runs.append(run)
            entries[name] = run.entry
    except Exception as exc:
        error = describe_error(exc)
        log_event(log, stage=name, point=point.label, event="failed", error=error["error"])
        return {"point": point.to_dict(), "label": point.label,
                "stages": [r.to_dict() for r in runs], **error}
    return {"point": point.to_dict(), "label": point.label,
            "stages": [r.to_dict() for r in runs], "error": None}
