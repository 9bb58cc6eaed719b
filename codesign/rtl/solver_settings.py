"""Which da4ml search solves an RF 1 kernel, so that its time is bounded by its size.

da4ml's whole search (`search_all_decompose_dc`, its default) grows faster than the
matrix: a 288x32 8-bit kernel takes minutes. Its cheaper search (one decomposition
delay constraint instead of all) on blocks of at most BLOCK_ENTRIES weights grows
linearly: a block's time is bounded, and a kernel is a number of blocks. Row blocks
(a slice of the inputs, all outputs) keep the sharing between outputs, the search's
main saving; their partial sums cost one adder per output per extra block. The
figures behind the numbers are bench/solve_speed.py's.

- "full": da4ml's whole search on the whole matrix (the smallest graph it finds);
- "fast": the cheaper search on blocks;
- "auto" (the default): full up to FULL_ENTRIES weights (under a few seconds), else fast.

The setting is part of the disk cache's key (codesign.rtl.solve_cache): `codesign rtl`,
`cost` and `synth` with the same setting build and cost the same graph.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from codesign.errors import CodesignError

SOLVERS = ("auto", "fast", "full")
FULL_ENTRIES = 1152  # weights up to which auto runs the full search (72x16: ~2 s)
BLOCK_ENTRIES = 4608  # weights per block of the fast search (144x32: ~2-4 s)
BLOCK_COLS = 64  # outputs per block; rows fill the block up to BLOCK_ENTRIES
BLOCK_ROWS = 144  # inputs per block at most (a tall block is slow: 576x8 took 5 s)

_SETTING: contextvars.ContextVar[str] = contextvars.ContextVar("solver", default="auto")


class SolverError(CodesignError):
    """An unknown solver setting."""


def check_solver(name: str) -> str:
    if name not in SOLVERS:
        raise SolverError(f"unknown adder-graph solver {name!r}: choose one of "
                          f"{', '.join(SOLVERS)}")
    return name


@contextlib.contextmanager
def use_solver(name: str) -> Iterator[None]:
    """Solve with this setting inside the block (a command's --solver)."""
    token = _SETTING.set(check_solver(name))
    try:
        yield
    finally:
        _SETTING.reset(token)


def current_solver() -> str:
    return _SETTING.get()


def resolve_solver(name: str | None, shape: tuple[int, ...]) -> str:
    """"full" or "fast" for a kernel of this shape (None: the setting in force)."""
    name = check_solver(name or current_solver())
    if name == "auto":
        return "full" if shape[0] * shape[1] <= FULL_ENTRIES else "fast"
    return name


@dataclass(frozen=True)
class SolvePlan:
    """da4ml's options and the (rows, columns) blocks it solves independently."""

    options: dict[str, Any] = field(default_factory=dict)
    row_blocks: tuple[slice, ...] = ()
    col_blocks: tuple[slice, ...] = ()


def solve_plan(shape: tuple[int, ...], solver: str) -> SolvePlan:
    n_in, n_out = shape
    if solver == "full":
        return SolvePlan({}, (slice(0, n_in),), (slice(0, n_out),))
    cols = _even(n_out, BLOCK_COLS)
    rows = _even(n_in, min(BLOCK_ROWS, max(8, BLOCK_ENTRIES // cols)))
    return SolvePlan({"search_all_decompose_dc": False},
                     tuple(slice(r, min(r + rows, n_in)) for r in range(0, n_in, rows)),
                     tuple(slice(c, min(c + cols, n_out)) for c in range(0, n_out, cols)))


def _even(n: int, most: int) -> int:
    """The size of the fewest blocks of at most `most` covering n, as equal as can be."""
    count = max(1, -(-n // most))
    return max(1, -(-n // count))
