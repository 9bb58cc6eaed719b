"""The device library: the shipped table, unknown parts, user device files."""

from __future__ import annotations

import json

import pytest

from codesign import devices
from codesign.cli.main import main
from codesign.devices import get_device, register_device_file
from codesign.errors import DesignError

USER_FILE = """
families:
  gw1n:
    lut_inputs: 4
    dsp: {cell: MULT18X18, a_bits: 18, b_bits: 18}
    bram: {cell: BSRAM, kbits: 18, widths: [1, 2, 4, 9, 18, 36]}
    yosys: synth_gowin
parts:
  MyPart-1: {family: xc7, lut: 1000, ff: 2000, dsp: 4, bram: 2, clock_mhz: 150}
  gw1n-9: {family: gw1n, lut: 8640, ff: 6480, dsp: 20, bram: 26}
"""


@pytest.fixture
def restore_table():
    """register_device_file changes the process-wide table: put it back afterwards."""
    devs, fams = dict(devices.DEVICES), dict(devices.FAMILIES)
    yield
    devices.DEVICES.clear()
    devices.DEVICES.update(devs)
    devices.FAMILIES.clear()
    devices.FAMILIES.update(fams)


@pytest.mark.parametrize("part,lut,dsp,lut_inputs,dsp_a", [
    ("xc7z020", 53200, 220, 6, 25), ("xc7a35t", 20800, 90, 6, 25),
    ("xc7a100t", 63400, 240, 6, 25), ("xczu9eg", 274080, 2520, 6, 27),
    ("xcvu9p", 1182240, 6840, 6, 27), ("LFE5U-25F", 24288, 28, 4, 18),
    ("LFE5U-85F", 83640, 156, 4, 18)])
def test_shipped_parts(part, lut, dsp, lut_inputs, dsp_a):
    d = get_device(part)
    assert (d.lut, d.dsp, d.lut_inputs, d.dsp_a_bits) == (lut, dsp, lut_inputs, dsp_a)
    assert d.bram > 0 and d.ff >= d.lut and d.default_clock_mhz > 0
    assert d.synth_command.startswith("synth_ecp5" if d.family == "ecp5" else "synth_xilinx")
    assert (d.nextpnr is not None) == (d.family == "ecp5")


def test_unknown_part_lists_the_known_ones():
    with pytest.raises(DesignError, match=r"unknown device 'xc9z999'; known devices: xc7a35t, "
                                          r".*lfe5u-85f.*device file shaped like"):
        get_device("xc9z999")


def test_user_device_file_adds_parts(tmp_path, restore_table, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text(USER_FILE)
    assert main(["zoo", "--json", "--device-file", str(path)]) == 0
    rows = {r["part"]: r for r in json.loads(capsys.readouterr().out)["devices"]}
    assert rows["mypart-1"]["lut"] == 1000 and rows["mypart-1"]["clock_mhz"] == 150
    assert rows["gw1n-9"]["lut_inputs"] == 4 and "xc7z020" in rows
    assert get_device("MYPART-1").synth_command == get_device("xc7a35t").synth_command


@pytest.mark.parametrize("text,message", [
    ("parts: {a: [1, 2", "is not valid YAML"),
    ("- 1\n- 2\n", "expected a mapping, got list"),
    ("parts: {}", "needs a 'parts' mapping"),
    ("parts: {p: {family: xc7, lut: 1, ff: 1, dsp: 1}}", r"part 'p' lacks \['bram'\]"),
    ("parts: {p: {family: xc8, lut: 1, ff: 1, dsp: 1, bram: 1}}",
     "unknown family 'xc8'; known families: xc7, xcup, ecp5"),
    ("parts: {p: {family: xc7, lut: 1, ff: 1, dsp: 1, bram: 1, luts: 3}}",
     r"unknown key\(s\) \['luts'\]"),
    ("parts: {p: {family: xc7, lut: -5, ff: 1, dsp: 1, bram: 1}}",
     "lut must be a non-negative integer, not -5"),
    ("families: {f: {lut_inputs: 4}}\nparts: {p: {family: f, lut: 1, ff: 1, dsp: 1, bram: 1}}",
     r"family 'f' lacks \['dsp', 'bram', 'yosys'\]"),
])
def test_bad_device_file_is_refused_clearly(tmp_path, restore_table, capsys, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(DesignError, match=message):
        register_device_file(path)
    assert main(["zoo", "--device-file", str(path)]) == 1
    err = capsys.readouterr().err
    assert "codesign zoo: error:" in err and "Traceback" not in err


def test_missing_device_file(tmp_path, capsys):
    assert main(["zoo", "--device-file", str(tmp_path / "none.yaml")]) == 1
    assert "does not exist" in capsys.readouterr().err
