"""The stage cache: keys follow inputs, entries appear whole or not at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from codesign.flow.cache import StageCache
from codesign.flow.run import select
from codesign.flow.schema import load_flow
from codesign.report.plots import pareto

ROOT = Path(__file__).resolve().parents[2]


def test_key_follows_every_input(tmp_path):
    cache = StageCache(tmp_path)
    a = cache.key("quantize", {"config": {"bits": 8}, "upstream": {"train": "x"}})
    assert a == cache.key("quantize", {"upstream": {"train": "x"}, "config": {"bits": 8}})
    assert a != cache.key("quantize", {"config": {"bits": 6}, "upstream": {"train": "x"}})
    assert a != cache.key("quantize", {"config": {"bits": 8}, "upstream": {"train": "y"}})
    assert a != cache.key("eval", {"config": {"bits": 8}, "upstream": {"train": "x"}})


def test_commit_then_lookup(tmp_path):
    cache = StageCache(tmp_path)
    assert cache.lookup("s", "k") is None
    tmp = cache.begin("s", "k")
    (tmp / "a.txt").write_text("hello")
    entry = cache.commit("s", "k", tmp, {"file": "a.txt", "n": 3}, 1.5)
    found = cache.lookup("s", "k")
    assert found is not None and found.folder == entry.folder
    assert found.outputs == {"file": "a.txt", "n": 3}
    assert found.path("file").read_text() == "hello"
    assert found.digest == entry.digest and len(found.digest) == 64
    assert not tmp.exists()


def test_digest_follows_content(tmp_path):
    cache = StageCache(tmp_path)
    digests = []
    for key, text in (("k1", "a"), ("k2", "b"), ("k3", "a")):
        tmp = cache.begin("s", key)
        (tmp / "f").write_text(text)
        digests.append(cache.commit("s", key, tmp, {}, 0).digest)
    assert digests[0] == digests[2] != digests[1]


def test_a_second_commit_of_the_same_key_keeps_the_first(tmp_path):
    cache = StageCache(tmp_path)
    first = cache.begin("s", "k")
    second = cache.begin("s", "k")
    (first / "f").write_text("1")
    (second / "f").write_text("2")
    cache.commit("s", "k", first, {"who": 1}, 0)
    entry = cache.commit("s", "k", second, {"who": 2}, 0)
    assert entry.outputs == {"who": 1} and not second.exists()


def test_unfinished_entries_of_dead_processes_are_swept(tmp_path):
    cache = StageCache(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", "from codesign.flow.cache import StageCache; import sys;"
         f"print(StageCache({str(tmp_path)!r}).begin('s', 'k'))"],
        capture_output=True, text=True, check=True)
    dead = Path(proc.stdout.strip())
    mine = cache.begin("s", "k")
    assert dead.is_dir() and cache.lookup("s", "k") is None
    assert cache.sweep_stale() == 1
    assert not dead.exists() and mine.is_dir()  # this process is alive: its folder stays


def _rec(label, acc, bits, error=None):
    return {"label": label, "error": error,
            "eval": {"bit_accurate_val_accuracy": acc, "weight_bits": bits}}


def test_select_takes_the_smallest_within_the_drop():
    records = [_rec("a", 0.95, 800), _rec("b", 0.945, 600), _rec("c", 0.90, 400),
               _rec("d", None, 100, error="boom")]
    assert select(records, 0.01)["label"] == "b"
    assert select(records, 0.0)["label"] == "a"
    assert select(records, 0.10)["label"] == "c"
    assert select([records[3]], 0.01) is None


def test_select_by_estimated_luts_among_points_that_fit():
    records = [_rec("a", 0.95, 800), _rec("b", 0.95, 600), _rec("c", 0.96, 900)]
    records[0]["cost"] = {"lut": 100, "fits": True}
    records[1]["cost"] = {"lut": 300, "fits": True}
    records[2]["cost"] = {"lut": 50, "fits": False}
    assert select(records, 0.01)["label"] == "c"  # fewest LUTs
    assert select(records, 0.01, fit_only=True)["label"] == "a"  # c does not fit
    for r in records:
        r["cost"]["fits"] = False
    assert select(records, 0.01, fit_only=True) is None


def test_pareto_front():
    pts = [(4, 90.0), (6, 95.0), (8, 94.0), (3, 80.0), (6, 93.0)]
    assert pareto(pts) == [3, 0, 1]


def test_shipped_flows_load():
    for path in sorted((ROOT / "flows").glob("*.yaml")):
        flow = load_flow(path)
        assert flow.title == path.stem


def test_every_schema_key_is_documented():
    import dataclasses

    from codesign.flow import schema

    docs = (ROOT / "docs" / "flows.md").read_text()
    for f in schema.allowed_keys(schema.Flow):
        assert f"| `{f}` |" in docs, f
    for section in ("model", "target", "sensitivity", "quantize", "allocate", "select", "cost",
                    "hls", "rtl", "synth", "sweep"):
        cls = {fl.name: fl for fl in dataclasses.fields(schema.Flow)}[section].type
        cls = getattr(schema, cls.split(" ")[0])
        for key in schema.allowed_keys(cls):
            assert f"| `{section}.{key}` |" in docs, f"{section}.{key}"
