"""generate_rtl's module prefix: what lets several accelerators share one design."""

from __future__ import annotations

import json
import re

import pytest

from codesign.errors import CodesignError
from codesign.rtl.network import HW_FILES, generate_rtl

from .randmix import mixed_net


def _modules(folder, names):
    return {m for n in names for m in re.findall(r"^\s*module\s+(\w+)", (folder / n).read_text(),
                                                 flags=re.M)}


def test_prefix_reaches_every_generated_module(tmp_path):
    q = mixed_net(1013, 1).qnet  # conv2d + two dense, two of them adder graphs
    generate_rtl(q, tmp_path / "plain")
    generate_rtl(q, tmp_path / "p", prefix="acc1_")
    plain = json.loads((tmp_path / "plain" / "manifest.json").read_text())
    pref = json.loads((tmp_path / "p" / "manifest.json").read_text())
    own = [n for n in pref["files"] if n not in HW_FILES]
    assert pref["top"] == "acc1_cs_top" and plain["top"] == "cs_top"
    assert len(own) == len([n for n in plain["files"] if n not in HW_FILES]) >= 3
    modules = _modules(tmp_path / "p", own)
    assert modules and all(m.startswith("acc1_") for m in modules), modules
    assert not modules & _modules(tmp_path / "plain", plain["files"])
    top = (tmp_path / "p" / "acc1_cs_top.sv").read_text()
    assert '$value$plusargs("acc1_cs_trace=%s"' in top
    assert (tmp_path / "p" / "files.f").read_text().splitlines()[-1] == "acc1_cs_top.sv"


def test_prefix_must_be_an_identifier(tmp_path):
    q = mixed_net(1013, 1).qnet
    with pytest.raises(CodesignError, match="not a SystemVerilog identifier"):
        generate_rtl(q, tmp_path, prefix="2nd-")
    assert not (tmp_path / "files.f").exists()
