"""The allocator trades block RAM against LUTs (issue 21 item 2): at reuse > 1 a layer's
weight ROM is a choice (weight_rom lut | bram) costed by the rule the RTL uses, so under
a LUT budget that only ROMs in block RAM meet it returns such a design, with the BRAM
`codesign cost` counts; with no block RAM to spend it never picks one."""

from __future__ import annotations

import json
import re

import pytest

from codesign.cli.main import main
from codesign.cost.estimate import estimate_structural
from codesign.design import DesignPoint
from codesign.devices import get_device
from codesign.qnet import QuantizedNet

ARGS = ("--device", "xc7z020", "--reuse", "8,16", "--multipliers", "lut", "--method", "exact",
        "--confidence", "0")


@pytest.fixture(scope="module")
def cnn_table(tmp_path_factory, cnn_graph, make_table):
    path = tmp_path_factory.mktemp("tables") / "cnn.yaml"
    make_table(cnn_graph, "digits_cnn").save(path)
    return path


def _allocate(capsys, table, out, *args):
    code = main(["allocate", "digits_cnn", "--sensitivity", str(table), *ARGS,
                 "--out", str(out), "--json", *map(str, args)])
    got = capsys.readouterr()
    return code, got.out, got.err


def _least_lut(capsys, table, out, roms: str) -> int:
    """The smallest LUT any design reaches with these ROM styles (the refusal says it)."""
    code, _, err = _allocate(capsys, table, out, "--budget", "lut=10", "--weight-roms", roms)
    assert code == 1
    return int(re.search(r"lut >= (\d+)", err).group(1))


def test_a_lut_budget_only_block_ram_meets(tmp_path, capsys, cnn_table, cnn_graph):
    lut_only = _least_lut(capsys, cnn_table, tmp_path / "a", "lut")
    both = _least_lut(capsys, cnn_table, tmp_path / "b", "lut,bram")
    assert both < lut_only  # block RAM frees LUTs
    code, stdout, err = _allocate(capsys, cnn_table, tmp_path / "c", "--budget",
                                  f"lut={lut_only - 1}")
    assert code == 0, err
    (point,) = json.loads(stdout)["points"]
    design = DesignPoint.load(point["design"])
    in_bram = [n for n, impl in design.layers.items() if impl.weight_rom == "bram"]
    assert in_bram and all(design[n].reuse > 1 for n in in_bram)
    est = estimate_structural(QuantizedNet.from_float(cnn_graph, design),
                              get_device("xc7z020"))
    assert point["lut"] <= lut_only - 1
    assert est["bram"] == point["bram"] > 0
    assert est["lut"] == pytest.approx(point["lut"], rel=0.05)
    # no block RAM to spend: the same budget is refused, a looser one never uses BRAM
    code, _, err = _allocate(capsys, cnn_table, tmp_path / "d", "--budget",
                             f"lut={lut_only - 1},bram=0")
    assert code == 1 and "no design fits" in err
    code, stdout, err = _allocate(capsys, cnn_table, tmp_path / "e", "--budget",
                                  f"lut={lut_only + 2000},bram=0", "--frontier", "3")
    assert code == 0, err
    for point in json.loads(stdout)["points"]:
        design = DesignPoint.load(point["design"])
        assert point["bram"] == 0
        assert all(impl.weight_rom != "bram" for impl in design.layers.values())


def test_bad_weight_roms_are_refused(tmp_path, capsys, cnn_table):
    code, _, err = _allocate(capsys, cnn_table, tmp_path / "x", "--weight-roms", "block")
    assert code == 1 and "weight ROM styles must be among ('lut', 'bram')" in err
