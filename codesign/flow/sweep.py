"""Spreading sweep points over workers: in this process, a local process pool, or a Dask
distributed cluster (`scheduler="tcp://host:8786"`).

Workers must see the same files as this process (the cache folder and the flow's model
and data): on several machines, put the runs directory on a shared filesystem.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from codesign.errors import CodesignError
from codesign.flow.cache import Entry
from codesign.flow.execute import describe_error, run_point
from codesign.flow.schema import Flow
from codesign.flow.stages import Point

Done = Callable[[dict[str, Any]], None]


def _failed(point: Point, exc: BaseException) -> dict[str, Any]:
    return {"point": point.to_dict(), "label": point.label, "stages": [],
            **describe_error(exc)}


CONNECT_TIMEOUT = "20s"


def connect(scheduler: str) -> Any:
    """A Dask client of the scheduler at `scheduler`; a clear error when there is none."""
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - a dependency of the package
        raise CodesignError("Dask distributed is not installed: pip install "
                            "'dask[distributed]'") from None
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CodesignError(f"cannot reach the Dask scheduler at {scheduler}: {exc}; start "
                            "one with `dask scheduler` and workers with `dask worker "
                            "ADDRESS`") from None


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


PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_S = 1.0
"""How often a pool worker checks that the run that started it is alive (where the
kernel cannot be asked to kill it along with its parent)."""


def _die_with_parent(parent: int) -> None:
    """Pool initializer: end this worker when the run that started it dies. A SIGKILLed
    `codesign run` cannot shut its pool down; its workers would finish the sweep, then
    wait forever for work. On Linux the kernel sends SIGKILL (PR_SET_PDEATHSIG); a daemon
    thread polling the parent pid covers other systems and a parent already gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watchdog alone
            pass
    if os.getppid() != parent:  # died before the request above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="codesign-parent-watch", daemon=True).start()


def spread(fn: Callable[..., Any], calls: list[tuple], *, workers: int = 1, client: Any = None,
           keys: list[str] | None = None, failed: Callable[[int, BaseException], Any],
           on_done: Callable[[Any], None] | None = None) -> list[Any]:
    """fn(*call) for every call, in a local process pool of `workers` or on a Dask
    `client`, results in the order of `calls`; a call whose worker dies gives
    failed(index, error). What sweeps and `allocate --synth-check` run in parallel."""
    on_done = on_done or (lambda result: None)
    results: dict[int, Any] = {}
    if client is not None:
        from distributed import as_completed as dask_completed

        futures = [client.submit(fn, *call, key=key, pure=False)
                   for call, key in zip(calls, keys or [None] * len(calls), strict=True)]
        index = {f.key: i for i, f in enumerate(futures)}
        done = ((index[f.key], f) for f in dask_completed(futures))
        _collect(done, results, failed, on_done)
    else:
        # spawn: a forked child of a process that has run torch's OpenMP pool can hang
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                 initializer=_die_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(fn, *call): i for i, call in enumerate(calls)}
            _collect(((futures[f], f) for f in as_completed(futures)), results, failed,
                     on_done)
    return [results[i] for i in range(len(calls))]


def _collect(done, results: dict[int, Any], failed, on_done) -> None:
    for i, fut in done:
        try:
            results[i] = fut.result()
        except Exception as exc:  # the worker died or lost the task
            results[i] = failed(i, exc)
        on_done(results[i])


def _pool(flow, points, stages, upstream, cache_root, workers, log, on_done, force):
    return spread(run_point, [(flow, p, stages, upstream, cache_root, False, log, force)
                              for p in points], workers=workers,
                  failed=lambda i, exc: _failed(points[i], exc), on_done=on_done)


def _dask(flow, points, stages, upstream, cache_root, client, log, on_done, force):
    return spread(run_point, [(flow, p, stages, upstream, cache_root, False, log, force)
                              for p in points], client=client,
                  keys=[f"codesign-{p.label}-{os.getpid()}" for p in points],
                  failed=lambda i, exc: _failed(points[i], exc), on_done=on_done)
