"""A weights-only sensitivity table allocates weights only, and the answer says so: the
activations it holds at one width are named, not left for the user to discover."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from codesign.alloc.candidates import COST_KEYS, build_candidates
from codesign.alloc.pipeline import held_note, run_allocate


def _weights_only(table):
    return replace(table, layers={n: replace(s, act=None) for n, s in table.layers.items()})


def _no_cost(name, w, x, o, r, d, **extra):
    return {k: np.zeros(np.shape(w)) for k in COST_KEYS}


def test_held_activations_are_named(cnn_graph, make_table):
    full = make_table(cnn_graph, "digits_cnn")
    assert held_note(build_candidates(cnn_graph, full, _no_cost)) == []
    cands = build_candidates(cnn_graph, _weights_only(full), _no_cost)
    held = cands.notes["held_activations"]
    assert held["bits"] == 8 and held["tensors"] == [t.name for t in cands.tensors]
    (note,) = held_note(cands)
    assert f"{len(cands.tensors)} activation tensor(s) held at 8 bits" in note
    assert "--no-activations" in note


def test_allocate_reports_held_activations(cnn_job, tmp_path: Path):
    job = replace(cnn_job, tables=[_weights_only(t) for t in cnn_job.tables],
                  methods=("exact",), points=2)
    result = run_allocate(job, tmp_path)
    assert any("held at 8 bits" in n for n in result["budget_notes"])
