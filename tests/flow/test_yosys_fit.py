"""A flow that synthesizes chooses a design that fits by Yosys: the selection rule's
candidates are synthesized in order until one is within the budget and the part."""

from __future__ import annotations

import pytest

from codesign.flow.run import _fit_by_yosys, run_flow
from codesign.flow.yosysfit import limits_for, yosys_misses
from tests.flow.conftest import tiny_flow


def _record(label: str) -> dict:
    return {"label": label, "point": {"device": "xc7a35t"}}


def _summary(lut: float) -> dict:
    return {"allocate": {"devices": {"xc7a35t": {"limits": {"lut": lut, "ff": 41600,
                                                            "dsp": 0, "bram": 50}}}}}


def test_the_first_candidate_within_the_budget_by_yosys_is_chosen():
    yosys = {"a": {"lut": 1004, "ff": 10, "dsp": 0, "bram": 0},   # 4 over, like the Quickstart
             "b": {"lut": 990, "ff": 10, "dsp": 0, "bram": 0},
             "c": {"lut": 900, "ff": 10, "dsp": 0, "bram": 0}}
    synthesized = []

    def synth(record):
        synthesized.append(record["label"])
        return dict(yosys[record["label"]])

    chosen, out, rec = _fit_by_yosys([_record(x) for x in "abc"], _summary(1000), synth)
    assert chosen["label"] == "b" and out["lut"] == 990
    assert synthesized == ["a", "b"]  # stops at the first that fits
    assert rec["fits"] and [t["over"] for t in rec["tries"]] == [{"lut": 4.0}, {}]
    assert rec["claim"] == "b fits by Yosys (try 2)"


def test_when_none_fits_the_rule_s_choice_stays_and_the_claim_says_by_how_much():
    def synth(record):
        return {"lut": 2000, "ff": 10, "dsp": 1, "bram": 0}

    records = [_record(x) for x in "abcd"]
    chosen, _, rec = _fit_by_yosys(records, _summary(1000), synth)
    assert chosen["label"] == "a" and not rec["fits"]
    assert len(rec["tries"]) == 3  # at most MAX_TRIES syntheses
    assert rec["claim"].startswith("no candidate fits by Yosys (a: lut +1000, dsp +1;")


def test_no_figures_no_judgement():
    """A synthesis that timed out or failed cannot say the design misses: the rule's
    choice stays, and nothing more is synthesized."""
    calls = []

    def synth(record):
        calls.append(record["label"])
        return {"timed_out": True, "seconds": 1.0}

    chosen, _, rec = _fit_by_yosys([_record("a"), _record("b")], _summary(10), synth)
    assert chosen["label"] == "a" and calls == ["a"] and not rec["fits"]
    assert yosys_misses({"error": "x"}, {"lut": 1}) is None


def test_limits_are_the_allocation_s_else_the_part_s():
    assert limits_for(_summary(1000), "xc7a35t")["lut"] == 1000
    assert limits_for({}, "xc7a35t") == {"lut": 20800, "ff": 41600, "dsp": 90, "bram": 50}


@pytest.mark.slow
def test_a_flow_records_the_yosys_tries_and_verifies_only_the_chosen(tmp_path, monkeypatch):
    """Limits below both candidates' Yosys LUTs: both are synthesized, the rule's choice
    stays, the run says it does not fit by Yosys; rtl runs once, for the chosen design."""
    import codesign.flow.run as run_mod

    monkeypatch.setattr(run_mod, "limits_for",
                        lambda summary, device: {"lut": 1.0, "ff": 1e9, "dsp": 1e9, "bram": 1e9})
    flow = tiny_flow(tmp_path, """
        quantize: {methods: [calibrate], bits: [2, 3]}
        select: {max_accuracy_drop: 1.0}
        hls: null
        rtl: {sim: false}
        synth: {}
    """)
    s = run_flow(flow, tmp_path / "runs", quiet=True).summary
    tries = s["select"]["yosys"]["tries"]
    assert [t["label"] for t in tries] == ["xc7a35t-calibrate-2b", "xc7a35t-calibrate-3b"]
    assert all(t["over"]["lut"] == t["lut"] - 1.0 for t in tries)
    assert s["chosen"] == "xc7a35t-calibrate-2b" and not s["select"]["yosys"]["fits"]
    assert s["synth"]["lut"] == tries[0]["lut"]
    assert [r["point"] for r in s["stages"] if r["stage"] == "rtl"] == [s["chosen"]]
    assert "by Yosys" in s["select"]["rule"]


def test_the_answer_names_the_candidates_that_missed_by_yosys():
    from codesign.report.answer import _fits_text

    f = {"label": "b", "method": "exact", "quantizer": "lsq", "device": "xc7a100t",
         "fits_estimate": True, "fits_yosys": True, "yosys_lut": 15800, "device_lut": 63400,
         "within_budget_yosys": True, "budget_lut": 15850,
         "yosys_tries": [{"label": "a", "over": {"lut": 4.0}}, {"label": "b", "over": {}}]}
    text = _fits_text(f)
    assert "within the LUT budget of 15,850 by Yosys" in text
    assert text.endswith("synthesized before it and over their limits by Yosys: a (lut +4)")


def test_the_answer_flags_a_design_that_lost_its_accuracy():
    """A run whose quantized designs all fell to chance still chooses one (the smallest
    within the drop of the best); the answer must say it no longer classifies."""
    from codesign.report.answer import accuracy_text

    ok = accuracy_text({"val": 0.972, "test": 0.9805, "float_val": 0.979})
    assert ok == "validation 97.20%, test 98.05% (float model: 97.90% validation)"
    lost = accuracy_text({"val": 0.10, "test": 0.10, "float_val": 0.919})
    assert "WARNING: 81.9 points below the float model" in lost
    assert accuracy_text({"val": 0.5, "test": 0.5}) == "validation 50.00%, test 50.00%"


def test_the_answer_says_when_the_chosen_design_itself_misses_by_yosys():
    """When no candidate fits by Yosys the rule's choice stays: the answer names what it
    misses (here the DSP budget, which the LUT sentence alone would not show)."""
    from codesign.report.answer import _fits_text

    f = {"label": "a", "method": "exact", "quantizer": "lsq", "device": "xc7z020",
         "fits_estimate": True, "fits_yosys": True, "yosys_lut": 23219, "device_lut": 53200,
         "within_budget_yosys": True, "budget_lut": 42560,
         "yosys_tries": [{"label": "a", "over": {"dsp": 60.0}}]}
    text = _fits_text(f)
    assert text.endswith("OVER its allocation limits by Yosys: dsp +60")
    assert "synthesized before it" not in text
