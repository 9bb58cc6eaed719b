"""Solved adder graphs kept on disk, keyed by what decides them.

da4ml's search grows faster than the matrix: one 8-bit digits_wide layer takes minutes.
`codesign rtl`, `cost`, `synth` and the allocator's cost table all plan the same layers
of the same design, so each solve is kept under cache_dir()/adder-graphs, keyed by the
integer kernel, the input range, the constants, da4ml's version and the search that
solved it (codesign.rtl.solver_settings: its options and blocks). A damaged or
foreign entry is solved again and rewritten, never trusted.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codesign.cachedir import cache_dir
from codesign.rtl.solver_settings import resolve_solver, solve_plan

if TYPE_CHECKING:
    from codesign.rtl.adder_graph import AdderGraph

FORMAT = 1  # bump when AdderGraph's JSON or the reading of da4ml's answer changes

Solver = Callable[[np.ndarray, int, int, np.ndarray, str], "AdderGraph"]

_SOLVED_AT: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "solved_at", default=None)


@contextlib.contextmanager
def solved_at(x_lo: int, x_hi: int) -> Iterator[None]:
    """Inside, x @ K + c is answered from the solve of x @ K' at inputs in [x_lo, x_hi]
    (K' is K without the power of two common to its weights, no constants), re-ranged,
    shifted and given c (adder_graph.reranged): the allocator's surrogate, one da4ml
    solve per weight width whatever the input width and the bias's grid. Never for a
    design that is built."""
    token = _SOLVED_AT.set((int(x_lo), int(x_hi)))
    try:
        yield
    finally:
        _SOLVED_AT.reset(token)


def solve_key(kernel: np.ndarray, x_lo: int, x_hi: int, consts: np.ndarray,
              solver: str) -> str:
    """The entry's name; solver is the resolved one ("full" or "fast"). A full search's
    name is the one entries had before the setting existed (they are full searches)."""
    import da4ml

    search = "" if solver == "full" else f" {solver} {solve_plan(kernel.shape, solver)!r}"
    h = hashlib.sha256(f"{FORMAT} {getattr(da4ml, '__version__', '?')} {x_lo} {x_hi} "
                       f"{kernel.shape}{search}".encode())
    h.update(np.ascontiguousarray(kernel, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(consts, dtype=np.int64).tobytes())
    return h.hexdigest()[:32]


def _read(path: Path) -> AdderGraph | None:
    from codesign.rtl.adder_graph import AdderGraph

    try:
        return AdderGraph.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, graph: AdderGraph) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(graph.to_json(), f)
        os.replace(tmp, path)  # readers see the whole entry or none
    except OSError:  # a read-only cache costs time, never a result
        pass


def _computes(graph: AdderGraph, kernel: np.ndarray, consts: np.ndarray) -> bool:
    """The entry computes x @ kernel + consts: read back on unit inputs (inside every
    input range the engines use), so a wrong entry is solved again, not built."""
    n_in, n_out = kernel.shape
    if (graph.n_in, len(graph.outputs)) != (n_in, n_out) or not graph.x_lo <= 0 < graph.x_hi:
        return False
    y = graph.evaluate(np.vstack([np.zeros((1, n_in), np.int64), np.eye(n_in, dtype=np.int64)]))
    return np.array_equal(y[0], consts) and np.array_equal(y[1:] - y[0], kernel)


def disk_cached(solve: Solver) -> Solver:
    """solve, answered from the cache when the same problem was solved before by the
    same search (solver None: the setting in force, resolved by the kernel's size)."""
    @functools.wraps(solve)
    def cached(kernel: np.ndarray, x_lo: int, x_hi: int, consts: np.ndarray,
               solver: str | None = None) -> AdderGraph:
        kernel = np.asarray(kernel, dtype=np.int64)
        consts = np.asarray(consts, dtype=np.int64)
        solver = resolve_solver(solver, kernel.shape)
        at = _SOLVED_AT.get()
        if at is not None and kernel.any():
            from codesign.rtl.adder_graph import reranged

            nz = np.bitwise_or.reduce(np.abs(kernel[kernel != 0]))
            tz = (int(nz) & -int(nz)).bit_length() - 1
            token = _SOLVED_AT.set(None)
            try:
                g = cached(kernel >> tz, *at, np.zeros_like(consts), solver)
            finally:
                _SOLVED_AT.reset(token)
            return reranged(g, x_lo, x_hi, tz, consts)
        if not kernel.any():  # nothing to search: no da4ml call to save
            return solve(kernel, x_lo, x_hi, consts, solver)
        key = solve_key(kernel, x_lo, x_hi, consts, solver)
        path = cache_dir() / "adder-graphs" / f"{key}.json"
        graph = _read(path) if path.is_file() else None
        if graph is None or not _computes(graph, kernel, consts):
            graph = solve(kernel, x_lo, x_hi, consts, solver)
            _write(path, graph)
        return graph
    return cached
