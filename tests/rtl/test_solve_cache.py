"""Solved adder graphs come back from the disk cache, and a wrong entry is never built."""

from __future__ import annotations

import json

import numpy as np
import pytest

from codesign.rtl import adder_graph
from codesign.rtl.adder_graph import solve_cmvm
from codesign.rtl.solve_cache import solve_key


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path))
    return tmp_path / "adder-graphs"


def _problem():
    rng = np.random.default_rng(3)
    return rng.integers(-7, 8, (12, 5)), -8, 7, rng.integers(-20, 20, 5)


def _no_da4ml(monkeypatch):
    import da4ml.cmvm

    def refuse(*a, **k):
        raise AssertionError("da4ml was called for a cached problem")
    monkeypatch.setattr(da4ml.cmvm, "solve", refuse)


def test_second_solve_reads_the_cache(cache, monkeypatch):
    k, lo, hi, b = _problem()
    first = solve_cmvm(k, lo, hi, b)
    assert len(list(cache.glob("*.json"))) == 1
    _no_da4ml(monkeypatch)
    again = solve_cmvm(k, lo, hi, b)
    assert again == first
    x = np.random.default_rng(0).integers(lo, hi + 1, (50, 12))
    assert np.array_equal(again.evaluate(x), x @ k + b)


@pytest.mark.parametrize("damage", ["garbage", "other column", "other shape"])
def test_a_wrong_entry_is_solved_again(cache, damage):
    k, lo, hi, b = _problem()
    path = cache / f"{solve_key(np.asarray(k), lo, hi, np.asarray(b), 'full')}.json"
    solve_cmvm(k, lo, hi, b)
    if damage == "garbage":
        path.write_text("{not json")
    else:
        k2 = k.copy()
        k2[0, 0] += 1
        other = adder_graph.solve_cmvm.__wrapped__(k2 if damage == "other column"
                                                   else k[:, :4], lo, hi, b[: k2.shape[1]]
                                                   if damage == "other column" else b[:4])
        path.write_text(json.dumps(other.to_json()))
    g = solve_cmvm(k, lo, hi, b)
    x = np.random.default_rng(1).integers(lo, hi + 1, (50, 12))
    assert np.array_equal(g.evaluate(x), x @ k + b)
    rewritten = adder_graph.AdderGraph.from_json(json.loads(path.read_text()))
    assert rewritten == g  # the entry now holds the right answer
