"""The report's comparison with uniform precision, on hand-made summaries: only uniform
points at equal or fewer estimated LUTs count, a loss is said as plainly as a win."""

from __future__ import annotations

from codesign.report.answer import next_point, uniform_comparison, uniform_text


def _rec(method: str, i: int, val: float, lut: int, test: float | None = None) -> dict:
    point = {"device": "xc7a100t", "method": "lsq", "bits": None, "alloc": i,
             "alloc_method": method}
    return {"label": f"{method}-{i}", "point": point, "error": None,
            "eval": {"bit_accurate_val_accuracy": val,
                     "bit_accurate_test_accuracy": val if test is None else test},
            "cost": {"lut": lut}}


def test_only_uniform_points_as_small_count_and_the_difference_is_in_points():
    chosen = _rec("exact", 0, 0.95, 1000, test=0.94)
    s = {"points": [chosen, _rec("uniform", 0, 0.90, 900, test=0.91),
                    _rec("uniform", 1, 0.93, 1000), _rec("uniform", 2, 0.99, 1001)]}
    u = uniform_comparison(s, chosen)
    assert u["uniform"]["label"] == "uniform-1"  # 0.99 costs one LUT more: not compared
    assert u["delta_val"] == 2.0
    text = uniform_text(u, {"lut": 1000})
    assert text.startswith("better than uniform: +2.00 points validation")


def test_a_loss_and_a_missing_baseline_are_said_plainly():
    chosen = _rec("exact", 0, 0.90, 1000)
    s = {"points": [chosen, _rec("uniform", 0, 0.92, 800)]}
    assert uniform_text(uniform_comparison(s, chosen), {"lut": 1000}).startswith(
        "WORSE than uniform: -2.00 points validation")
    s = {"points": [chosen, _rec("uniform", 0, 0.80, 1200)]}
    assert uniform_text(uniform_comparison(s, chosen), {"lut": 1000}).startswith(
        "no uniform design is as small: the smallest, uniform-0, needs 1,200 LUTs")
    s = {"points": [chosen]}
    assert "not measured" in uniform_text(uniform_comparison(s, chosen), {"lut": 1000})
    uni = _rec("uniform", 3, 0.9, 900)
    assert "IS uniform precision" in uniform_text(
        uniform_comparison({"points": [uni]}, uni), {"lut": 900})


def test_next_point_is_the_cheapest_more_accurate_one():
    chosen = _rec("exact", 0, 0.95, 1000)
    s = {"points": [chosen, _rec("exact", 1, 0.97, 1500), _rec("uniform", 0, 0.96, 1200),
                    _rec("uniform", 1, 0.99, 900)]}  # cheaper: not a step further
    assert next_point(s, chosen)["label"] == "uniform-0"
    assert next_point({"points": [chosen]}, chosen) is None


def test_the_fit_line_says_the_budget_miss_by_yosys_and_by_how_much():
    from codesign.report.answer import _fits_text

    f = {"label": "p", "method": "exact", "quantizer": "lsq", "device": "xc7a100t",
         "fits_estimate": True, "fits_yosys": True, "yosys_lut": 15862, "device_lut": 63400,
         "within_budget_yosys": False, "budget_lut": 15850.0}
    assert _fits_text(f).endswith("fits the part by Yosys (15,862 of 63,400 LUTs); but OVER "
                                  "the LUT budget of 15,850 by Yosys, by 12 LUTs")
    f.update(within_budget_yosys=True, yosys_lut=15000)
    assert _fits_text(f).endswith("; within the LUT budget of 15,850 by Yosys")


def test_next_point_fits_its_device():
    """A more accurate point that no longer fits the part (a fine-tuned design whose
    DSPs grew past it) is no step further to suggest."""
    chosen = _rec("exact", 0, 0.85, 1000)
    over = _rec("exact", 2, 0.90, 1200)
    over["cost"]["fits"] = False
    fitting = _rec("uniform", 0, 0.86, 1500)
    fitting["cost"]["fits"] = True
    assert next_point({"points": [chosen, over, fitting]}, chosen)["label"] == "uniform-0"


def test_the_frontier_plot_crosses_out_designs_that_do_not_fit(monkeypatch):
    """A fine-tuned design that no longer fits its part is drawn crossed out and left off
    the Pareto front, so the chosen design does not look dominated by it."""
    from codesign.report import plots

    figs = []
    monkeypatch.setattr(plots, "_png", lambda fig: figs.append(fig) or b"")
    chosen = _rec("exact", 0, 0.85, 1000)
    over = _rec("exact", 1, 0.89, 900)  # smaller and better, but over the part
    over["cost"]["fits"] = False
    bigger = _rec("exact", 2, 0.90, 1200)
    records = [chosen, over, bigger]
    for r in records:
        r["eval"]["lut"] = r["cost"]["lut"]
    plots.frontier(records, "exact-0", 0.91, x_key="lut", x_label="estimated LUTs")
    ax = figs[0].axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert "does not fit its device" in labels
    (step,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("Pareto front")]
    assert list(step.get_xdata()) == [1000, 1200]  # the front of the designs that fit
