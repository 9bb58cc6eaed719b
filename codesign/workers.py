"""Running calls in parallel: a local process pool whose workers die with their parent,
or a Dask distributed cluster (`connect("tcp://host:8786")`). What flow sweeps and
`allocate --synth-check` spread their work with."""

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
from typing import Any

from codesign.errors import CodesignError

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
