"""Pipelining adder graphs to the design's clock (codesign.rtl.pipeline).

The stage assignment is checked against the delay bound by an independent walk of every
same-stage path; a low clock leaves the RTL as it was (no registers, no PIPE); a random
residual network at 450 MHz, whose graphs get several register stages, is bit-exact and
cycle-exact under Verilator, and bit-exact under random input gaps and backpressure.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pytest

from codesign.qnet import QuantizedNet
from codesign.rtl.adder_graph import AdderGraph, solve_cmvm
from codesign.rtl.adder_sv import render_graph_module
from codesign.rtl.network import generate_rtl, plan_network
from codesign.rtl.pipeline import DelayModel, assign_stages, delay_model
from codesign.verify.rtlsim import verify_rtl

from .randnet import random_qnet
from .test_adder_graph import random_case


def _with_clock(qnet: QuantizedNet, clock_mhz: float) -> QuantizedNet:
    return QuantizedNet(qnet.graph, replace(qnet.design, clock_mhz=clock_mhz), qnet.weights,
                        qnet.biases)


def _longest(g: AdderGraph, st: tuple[int, ...], last: int, m: DelayModel) -> float:
    """Longest register-to-register path, walked from each node back through operands
    of its own stage: reg + levels * level + ripple of the path's last adder; outputs add
    a bias level, the cast's two levels and its ripple in the last stage."""
    n = g.n_in

    @cache
    def levels(node: int) -> int:  # adders on the longest same-stage chain ending here
        if node < n:
            return 0
        ad = g.adders[node - n]
        return 1 + max((levels(x) for x in (ad.a, ad.b) if st[x] == st[node]), default=0)

    worst = max((m.reg_ns + levels(n + i) * m.level_ns + m.carry_ns * ad.width
                 for i, ad in enumerate(g.adders)), default=m.reg_ns)  # no path: a register
    for out in g.outputs:
        if out.node < 0:
            continue
        lv = levels(out.node) if st[out.node] == last else 0
        lv += 2 + (1 if out.const else 0)
        worst = max(worst, m.reg_ns + lv * m.level_ns + m.carry_ns * g.out_width)
    return worst


@pytest.mark.parametrize("seed", range(12))
def test_stages_meet_the_delay_bound(seed):
    case = random_case(seed)
    g = solve_cmvm(case["kernel"], case["lo"], case["hi"], case["bias"])
    model = delay_model(["ecp5", "xc7", "xcup", "someone's"][seed % 4])
    prev = 0
    for clock in (10, 100, 200, 300, 450, 600):
        st = assign_stages(g, model, clock)
        period = 1000.0 / clock
        for i, ad in enumerate(g.adders):  # operands never come from a later stage
            assert st.node_stage[ad.a] <= st.node_stage[g.n_in + i] >= st.node_stage[ad.b]
        assert max(st.node_stage, default=0) <= st.stages
        longest = _longest(g, st.node_stage, st.stages, model)
        assert abs(longest - st.worst_ns) < 1e-6
        # one adder (or the output cast) alone in a stage is the least a stage can hold
        floor = model.reg_ns + 3 * model.level_ns + model.carry_ns * max(
            [g.out_width] + [a.width for a in g.adders])
        if floor <= period:
            assert st.meets and longest <= period + 1e-9, (clock, longest, period)
        assert st.stages >= prev  # a faster clock never needs fewer stages
        prev = st.stages
    assert assign_stages(g, model, 1).stages == 0


def test_unknown_family_uses_the_default_delays():
    assert delay_model("someone's").family == "default"
    assert delay_model("ecp5").carry_ns > 0


def test_low_clock_leaves_the_rtl_unchanged(tmp_path):
    qnet, _ = random_qnet(21, True, True)
    slow = _with_clock(qnet, 10)
    plan = plan_network(slow)
    generate_rtl(slow, tmp_path)
    graphs = [e for e in plan.engines if e.graph is not None]
    assert graphs
    for e in graphs:
        assert e.timing.get("PIPE", 0) == 0 and "PIPE" not in e.params
        text = (tmp_path / f"{e.graph_module}.sv").read_text()
        assert text == render_graph_module(e.graph_module, e.graph, e.params["XW"],
                                           e.graph.x_lo < 0, e.params["YW"],
                                           f"Layer {'+'.join(e.layers)}.")
        assert "always_ff" not in text and "clk" not in text
    assert ".PIPE(" not in (tmp_path / "cs_top.sv").read_text()


def test_high_clock_pipelines_network(built, tmp_path):
    qnet, x = random_qnet(21, True, True)
    fast = _with_clock(qnet, 450)
    plan = plan_network(fast)
    stages = {e.name: e.timing.get("PIPE", 0) for e in plan.engines if e.graph is not None}
    assert max(stages.values()) >= 3, stages
    rtl, build_dir = built(fast, tmp_path)
    text = "".join(p.read_text() for p in rtl.glob("cs_mvm*.sv"))
    assert "always_ff" in text
    r = verify_rtl(fast, rtl, build_dir, x[:60], mode="timing", work_dir=tmp_path / "t")
    assert r.equal == 60 and r.mismatch is None, r.to_dict()
    assert r.cycles_equal, (r.predicted, r.measured)
    from codesign.rtl.latency import simulate

    slow_latency = simulate(plan_network(_with_clock(qnet, 10)), 2).summary()["latency"]
    assert r.predicted["latency"] > slow_latency  # the stages are counted
    r = verify_rtl(fast, rtl, build_dir, x[:30], mode="stress", seed=5,
                   work_dir=tmp_path / "s")
    assert r.equal == 30 and r.mismatch is None, r.to_dict()


def test_closed_forms_count_the_stages():
    """Alone, each pipelined engine follows its closed form: outputs PIPE edges later,
    the same interval (the handshake model, which Verilator confirms above)."""
    from codesign.rtl.engines import isolated_window_cycles
    from codesign.rtl.latency import simulate
    from codesign.rtl.network import Plan

    qnet, _ = random_qnet(22, False, True)
    fast = plan_network(_with_clock(qnet, 450))
    slow = plan_network(_with_clock(qnet, 10))
    seen = 0
    for e, e0 in zip(fast.engines, slow.engines, strict=True):
        if e.kind != "window":
            continue
        s_in, s_out = fast.streams[e.inputs[0]], fast.streams[e.output]
        t = simulate(Plan([s_in, s_out], [e], s_in.id, s_out.id), 3)
        form = isolated_window_cycles(e.timing)
        assert t.in_edges[0] == form["first_input"]
        assert t.out_edges[s_out.beats - 1] == form["last_output"]
        assert t.intervals()[-1] == form["interval"] == e.cycles_per_image()
        pipe = e.timing.get("PIPE", 0)
        assert form["last_output"] == isolated_window_cycles(e0.timing)["last_output"] + pipe
        seen += pipe > 0
    assert seen >= 2


def test_cli_rtl_reports_the_stages(tmp_path, capsys):
    """`codesign rtl --json` and manifest.json give each engine's stages: as many as the
    generated module has register banks (en[0..P-1])."""
    import json
    import re

    from codesign.cli.main import main

    qnet, _ = random_qnet(22, False, True)
    design = _with_clock(qnet, 450).save(tmp_path / "d")
    assert main(["rtl", str(design), "--out", str(tmp_path / "rtl"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["clock_mhz"] == 450
    manifest = json.loads((tmp_path / "rtl" / "manifest.json").read_text())
    piped = 0
    for row, e in zip(out["engines"], manifest["engines"], strict=True):
        assert row["engine"] == e["name"]
        if not e.get("graph_module"):
            assert row["pipeline_stages"] == 0
            continue
        text = (tmp_path / "rtl" / f"{e['graph_module']}.sv").read_text()
        banks = {int(k) for k in re.findall(r"if \(en\[(\d+)\]\)", text)}
        assert banks == set(range(row["pipeline_stages"]))
        assert e["stages"]["stages"] == e["timing"].get("PIPE", 0) == row["pipeline_stages"]
        piped += row["pipeline_stages"] > 0
    assert piped >= 2
