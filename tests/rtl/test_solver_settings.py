"""The bounded adder-graph search (codesign.rtl.solver_settings): exact, bounded in time,
cached apart from the full search; and the re-ranged graphs the allocator's table reads.

The oracle is numpy's x @ K + b; node ranges are checked as in test_adder_graph."""

from __future__ import annotations

import time

import numpy as np
import pytest

from codesign.rtl import solver_settings
from codesign.rtl.adder_graph import reranged, solve_cmvm
from codesign.rtl.solve_cache import solve_key, solved_at
from codesign.rtl.solver_settings import SolverError, resolve_solver, solve_plan, use_solver
from tests.rtl.test_adder_graph import node_values, random_case, vectors


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path))
    return tmp_path / "adder-graphs"


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of at most 8 rows and 4 columns, so small kernels take several."""
    monkeypatch.setattr(solver_settings, "BLOCK_ENTRIES", 32)
    monkeypatch.setattr(solver_settings, "BLOCK_ROWS", 8)
    monkeypatch.setattr(solver_settings, "BLOCK_COLS", 4)


def trained_like(n_in: int, n_out: int, bits: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((n_in, n_out)) * (1 + 0.5 * np.abs(rng.standard_normal(n_out)))
    return np.round(w / np.abs(w).max() * ((1 << (bits - 1)) - 1)).astype(np.int64)


@pytest.mark.parametrize("seed", range(7))
def test_blocked_graph_computes_the_product_within_its_ranges(small_blocks, seed):
    """Every kind of matrix (zero rows, columns, all zero, one input) split in blocks:
    the partial sums add up to x @ K + b exactly, each node inside its range, the
    outputs' ranges exact."""
    case = random_case(seed)
    k, b = case["kernel"], case["bias"]
    g = solve_cmvm.__wrapped__(k, case["lo"], case["hi"], b, "fast")
    x = vectors(case, 200, seed)
    assert np.array_equal(g.evaluate(x), x @ k + b)
    vals = node_values(g, x)
    for i, ad in enumerate(g.adders):
        assert ad.lo <= vals[g.n_in + i].min() and vals[g.n_in + i].max() <= ad.hi
    y = x @ k + b
    for o, out in enumerate(g.outputs):
        assert y[:, o].min() == out.lo and y[:, o].max() == out.hi


def test_blocks_cover_the_kernel_within_the_bounds():
    for shape in [(9, 16), (288, 32), (576, 64), (1024, 10), (200, 130)]:
        plan = solve_plan(shape, "fast")
        rows = [r.stop - r.start for r in plan.row_blocks]
        cols = [c.stop - c.start for c in plan.col_blocks]
        assert sum(rows) == shape[0] and sum(cols) == shape[1]
        assert max(rows) <= solver_settings.BLOCK_ROWS
        assert max(rows) * max(cols) <= max(solver_settings.BLOCK_ENTRIES, 8 * max(cols))
        # as even as ceil sizes allow: no block a whole block smaller than the others
        assert max(rows) - min(rows) < len(rows) and max(cols) - min(cols) < len(cols)
    assert resolve_solver("auto", (72, 16)) == "full"  # digits_cnn's widest: as before
    assert resolve_solver("auto", (288, 32)) == "fast"


def test_a_288x32_8bit_kernel_solves_in_bounded_time():
    """The issue's kernel (over 6 minutes with the full search): seconds, and exact.
    The bound is generous (a loaded 2-core CI machine); it took 2-7 s here."""
    k = trained_like(288, 32)
    b = np.arange(32, dtype=np.int64)
    t = time.perf_counter()
    g = solve_cmvm.__wrapped__(k, -128, 127, b, "fast")
    assert time.perf_counter() - t < 30
    x = np.random.default_rng(1).integers(-128, 128, (64, 288))
    assert np.array_equal(g.evaluate(x), x @ k + b)


def test_the_cache_keeps_each_search_apart(cache):
    """A fast and a full graph of one kernel are two entries; auto is the full search's
    entry on a small kernel (the key entries had before the setting) and the fast one's
    on a big one; a setting in force applies to calls that name none."""
    k = trained_like(40, 8, bits=4)
    b = np.zeros(8, dtype=np.int64)
    assert solve_key(k, -8, 7, b, "fast") != solve_key(k, -8, 7, b, "full")
    with use_solver("fast"):
        solve_cmvm(k, -8, 7, b)
    assert {p.stem for p in cache.glob("*.json")} == {solve_key(k, -8, 7, b, "fast")}
    solve_cmvm(k, -8, 7, b)  # auto: 320 weights, the full search
    assert {p.stem for p in cache.glob("*.json")} == {solve_key(k, -8, 7, b, s)
                                                      for s in ("fast", "full")}


def test_an_unknown_setting_is_refused_by_name():
    with pytest.raises(SolverError, match="'quick'.*auto, fast, full"):
        with use_solver("quick"):
            pass


def test_reranged_graph_is_exact_and_close_to_its_own_solve():
    """The allocator's surrogate: a graph solved at 8-bit signed inputs, re-ranged to
    other input ranges (and a kernel shifted by 2**2 with another bias), computes the
    product exactly; its adder bits are within 5% of that range's own solve."""
    k = trained_like(36, 12, bits=6)
    b = np.arange(12, dtype=np.int64) * 3
    for lo, hi in [(-128, 127), (-2, 1), (0, 15), (0, 255)]:
        with solved_at(-128, 127):
            g = solve_cmvm(k << 2, lo, hi, b)
        x = np.random.default_rng(hi).integers(lo, hi + 1, (64, 36))
        assert np.array_equal(g.evaluate(x), x @ (k << 2) + b)
        own = solve_cmvm.__wrapped__(k << 2, lo, hi, b, "full")
        assert g.adder_bits() == pytest.approx(own.adder_bits(), rel=0.05)
    g = solve_cmvm.__wrapped__(k, -8, 7, b, "full")
    assert reranged(g, -8, 7) == g
