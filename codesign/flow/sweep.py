"""Spreading sweep points over workers: in this process, a local process pool, or a Dask
distributed cluster (`scheduler="tcp://host:8786"`).

Workers must see the same files as this process (the cache folder and the flow's model
and data): on several machines, put the runs directory on a shared filesystem.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codesign.flow.cache import Entry
from codesign.flow.execute import describe_error, run_point
from codesign.flow.schema import Flow
from codesign.flow.stages import Point
from codesign.workers import spread

Done = Callable[[dict[str, Any]], None]


def _failed(point: Point, exc: BaseException) -> dict[str, Any]:
    return {"point": point.to_dict(), "label": point.label, "stages": [],
            **describe_error(exc)}


def run_sweep(flow: Flow, points: list[Point], stages: list[str], upstream: dict[str, Entry],
              cache_root: Path, *, workers: int | None = None, client: Any = None,
              progress: bool = False, log: Path | None = None,
              on_done: Done | None = None,
              force: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """One record per point, in the order of `points`; failed points carry their error.
    With a Dask `client` (see connect) the points run on its cluster. Stages named in
    `force` are recomputed even when cached."""
    on_done = on_done or (lambda record: None)
    if client is not None:
        return _dask(flow, points, stages, upstream, cache_root, client, log, on_done, force)
    workers = workers or min(len(points), os.cpu_count() or 1)
    if workers <= 1 or len(points) == 1:
        records = []
        for p in points:
            records.append(run_point(flow, p, stages, upstream, cache_root, progress, log,
                                     force))
            on_done(records[-1])
        return records
    return _pool(flow, points, stages, upstream, cache_root, workers, log, on_done, force)


def _pool(flow, points, stages, upstream, cache_root, workers, log, on_done, force):
    return spread(run_point, [(flow, p, stages, upstream, cache_root, False, log, force)
                              for p in points], workers=workers,
                  failed=lambda i, exc: _failed(points[i], exc), on_done=on_done)


def _dask(flow, points, stages, upstream, cache_root, client, log, on_done, force):
    return spread(run_point, [(flow, p, stages, upstream, cache_root, False, log, force)
                              for p in points], client=client,
                  keys=[f"codesign-{p.label}-{os.getpid()}" for p in points],
                  failed=lambda i, exc: _failed(points[i], exc), on_done=on_done)
