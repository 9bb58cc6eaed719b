"""EngineSpecs against what they describe: the hw/ SystemVerilog (parameters, ports, compile
order), the cycle kinds, the structural cost rules and the planner's engines."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from codesign.cost.structural import RULES
from codesign.errors import CodesignError
from codesign.rtl.engine_kinds import KINDS
from codesign.rtl.network import hw_dir, plan_network, render_top
from codesign.rtl.specs import HW_FILES, HW_INCLUDES, SPECS, EngineSpec
from tests.rtl.randmix import mixed_net
from tests.synth.conftest import tiny_qnet


def _header(module: str) -> tuple[list[str], list[str]]:
    """(parameters, ports) the module declares in hw/, its `include files read in place,
    comments dropped."""
    text = (hw_dir() / f"{module}.sv").read_text()
    text = re.sub(r'`include\s+"([^"]+)"', lambda m: (hw_dir() / m[1]).read_text(), text)
    text = re.sub(r"//[^\n]*", "", text)
    head = re.search(rf"\bmodule\s+{module}\s*#\((.*?)\)\s*\((.*?)\);", text, re.S)
    assert head, module
    params = re.findall(r"(?<!local)\bparameter\s+(?:\w+\s+)?(\w+)\s*=", head[1])
    ports = re.findall(r"(\w+)\s*(?:,|$)", head[2].strip())
    return params, ports


@pytest.mark.parametrize("spec", SPECS.values(), ids=lambda s: s.module)
def test_a_spec_says_what_its_sv_module_declares(spec: EngineSpec):
    params, ports = _header(spec.module)
    assert sorted(spec.params) == sorted(params)
    streams = [f"{p}_{s}" for p in (*spec.inputs, spec.output) for s in ("valid", "ready", "data")]
    want = ["clk", "rst", *streams, *(port for port, _ in spec.generated)]
    assert sorted(ports) == sorted(want)


def test_every_spec_has_a_cycle_kind_and_a_structural_rule():
    assert {s.module: s.kind in KINDS for s in SPECS.values()} == dict.fromkeys(SPECS, True)
    assert sorted(RULES) == sorted(s.structure for s in SPECS.values())


def test_hw_files_compile_after_what_they_instantiate():
    for i, name in enumerate(HW_FILES):
        text = re.sub(r"//[^\n]*", "", (hw_dir() / name).read_text())
        used = {f"{m}.sv" for m in re.findall(r"\b(cs_\w+)\s*#\s*\(", text)} - {name}
        assert used <= set(HW_FILES[:i]), (name, used - set(HW_FILES[:i]))
    assert all((hw_dir() / n).is_file() for n in HW_INCLUDES)


def test_planned_engines_are_their_specs():
    """Every module a plan uses has a spec of the engine's kind that takes its parameters
    (random mixed networks until every spec was used: the first global pool is seed 63)."""
    seen: set[str] = set()
    for seed in range(80):
        for e in plan_network(mixed_net(seed, samples=1).qnet).engines:
            spec = SPECS[e.module]
            assert e.kind == spec.kind and set(e.params) <= set(spec.params), e.name
            seen.add(e.module)
        if seen == set(SPECS):
            break
    assert seen == set(SPECS)


def test_render_top_wires_ports_from_the_spec_and_refuses_what_it_lacks(monkeypatch):
    plan = plan_network(tiny_qnet())
    dense = plan.engines[-1]
    assert dense.module == "cs_mac_engine"
    monkeypatch.setitem(SPECS, "cs_mac_engine", replace(
        SPECS["cs_mac_engine"], generated=(("win", "window"),)))
    top = render_top(plan)
    assert f".win({dense.name}_window)" in top and f".acc_q({dense.name}_acc_q)" not in top
    dense.params["BOGUS"] = 1
    with pytest.raises(CodesignError, match=r"u_fc: cs_mac_engine takes no parameter.*BOGUS"):
        render_top(plan)
    del dense.params["BOGUS"]
    dense.module = "cs_conv_engine"
    with pytest.raises(CodesignError, match="'cs_conv_engine' has no EngineSpec"):
        render_top(plan)
