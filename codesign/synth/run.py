"""Ground truth: synthesize the generated RTL of a design with Yosys and read back the
same fields the cost model estimates.

FPGA: the family's Yosys command (synth_xilinx for 7-series/UltraScale+, synth_ecp5 for
ECP5); for ECP5, nextpnr-ecp5 places and routes out of context and reports Fmax. Xilinx
parts have no open place-and-route, so their figures are post-synthesis, and their timing
figure is the logic depth: the cells on the longest combinational path of the mapped
netlist (Yosys `ltp`, flip-flops, SRLs and RAMs ending paths; a LUT and a CARRY4/CARRY8
count one each).
ASIC: generic `synth` + `abc` gives cells and `stat -tech cmos` transistors; with a
liberty file, cells of that library and their area in um^2.

Results are cached by content hash (RTL sources, script, tool version) in the codesign
cache, so re-running a synthesis costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

from codesign.devices import Device
from codesign.errors import CodesignError
from codesign.qnet import QuantizedNet, retarget
from codesign.rtl.network import HW_INCLUDES, TOP, generate_rtl
from codesign.synth.cells import fpga_fields, read_stat
from codesign.synth.script import synth_commands
from codesign.synth.tools import run_nextpnr_ecp5, run_yosys, yosys_version

RESULT = "synth.json"
LTP = "ltp.txt"
# every cell but the sequential ones (they end combinational paths), as a Yosys selection
XILINX_PATH_ENDS = "t:FD* t:SRL* %u t:RAM* %u %n"


def synth_cache_dir() -> Path:
    from codesign.cachedir import cache_dir

    return cache_dir() / "synth"


def _script(files: list[str], device: Device | None, asic: bool, liberty: str | None) -> str:
    read = f"read_verilog -sv {' '.join(files)}; hierarchy -check -top {TOP}; "
    if asic:
        if liberty is None:
            return (read + f"synth -flatten -top {TOP}; abc -g cmos2; opt_clean; "
                    "tee -q -o stat.json stat -json -tech cmos")
        return (read + f"synth -flatten -top {TOP}; dfflibmap -liberty {liberty}; "
                f"abc -liberty {liberty}; opt_clean; "
                f"tee -q -o stat.json stat -json -liberty {liberty}")
    assert device is not None
    netlist = " -json netlist.json" if device.nextpnr else ""
    depth = f"; tee -q -o {LTP} ltp -noff {XILINX_PATH_ENDS}" if device.vendor == "xilinx" else ""
    return (read + synth_commands(device.synth_command, TOP) + netlist
            + "; tee -q -o stat.json stat -json" + depth)


def _key(rtl: Path, files: list[str], script: str, extra: str) -> str:
    h = hashlib.sha256()
    for part in (script, extra, yosys_version()):
        h.update(part.encode())
    for name in sorted(files):
        h.update(name.encode())
        h.update((rtl / name).read_bytes())
    return h.hexdigest()[:24]


def synthesize(qnet: QuantizedNet, out_dir: str | Path, device: Device | None = None, *,
               asic: bool = False, liberty: str | Path | None = None,
               clock_mhz: float | None = None, use_cache: bool = True,
               place_and_route: bool = True, cache_only: bool = False) -> dict[str, Any]:
    """Generate qnet's RTL under out_dir/rtl, pipelined to the device's family and
    clock_mhz (default: the design's clock), and synthesize it; returns the figures
    (also written to out_dir/synth.json). cache_only: never run the tools (a miss is an
    error), for reports over what was already synthesized."""
    if not asic and device is None:
        raise CodesignError("synthesis needs a device (or asic=True)")
    if liberty is not None and not asic:
        raise CodesignError("a liberty file maps to standard cells: use it with --asic")
    if liberty is not None and not Path(liberty).is_file():  # before anything is written
        raise CodesignError(f"liberty file {liberty} does not exist; give the path of a "
                            "standard-cell library (.lib) to --liberty")
    out_dir = Path(out_dir)
    rtl = out_dir / "rtl"
    qnet = retarget(qnet, None if asic else device, clock_mhz)
    generate_rtl(qnet, rtl)
    files = (rtl / "files.f").read_text().split()
    lib_name = None
    if liberty is not None:
        liberty = Path(liberty)
        lib_name = "cells.lib"
        shutil.copy(liberty, rtl / lib_name)  # Yosys sees only files below its directory
    script = _script(files, device, asic, lib_name)
    clock = qnet.design.clock_mhz
    pnr = (device.nextpnr_args if device is not None and device.nextpnr and not asic
           and place_and_route else "")
    # the clock only steers place and route
    extra = (f"{pnr}|{float(clock) if pnr and clock else ''}|"
             + ((rtl / lib_name).read_text() if lib_name else ""))
    key = _key(rtl, files + list(HW_INCLUDES), script, extra)  # what Yosys reads
    cached = synth_cache_dir() / f"{key}.json"
    if use_cache and cached.is_file():
        result = json.loads(cached.read_text())
        result["cached"] = True
    elif cache_only:
        raise CodesignError(f"no cached synthesis of {out_dir} (key {key})")
    else:
        result = _run(rtl, script, device, asic, lib_name, clock, bool(pnr))
        result["cached"] = False
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps({k: v for k, v in result.items() if k != "cached"}))
    (out_dir / RESULT).write_text(json.dumps(result, indent=1))
    return result


def _logic_depth(ltp_log: str) -> int:
    """Cells on the longest path, from `ltp`'s `Longest topological path in M (length=N)`."""
    found = re.findall(r"Longest topological path in \S+ \(length=(\d+)\)", ltp_log)
    if not found:
        raise CodesignError(f"Yosys ltp reported no longest path: {ltp_log[-500:]}")
    return max(int(n) for n in found)


def _run(rtl: Path, script: str, device: Device | None, asic: bool, liberty: str | None,
         clock: float | None, pnr: bool) -> dict[str, Any]:
    try:
        run_yosys(script, rtl)
    except CodesignError as exc:
        if liberty is not None and "ABC output file" in str(exc):
            raise CodesignError(f"{exc}\nABC could not map to the liberty file: it needs at "
                                "least a buffer, an inverter and a flip-flop cell with "
                                "functions") from None
        raise
    cells = read_stat(rtl / "stat.json")
    result: dict[str, Any] = {"yosys": yosys_version(), "cells_by_type": cells}
    if asic:
        stat = json.loads((rtl / "stat.json").read_text())["design"]
        result["target"] = "asic"
        result["cells"] = int(sum(cells.values()))
        if liberty is None:
            # "7382+": a lower bound when some cells have no transistor count
            count = str(stat["estimated_num_transistors"])
            result["transistors"] = int(re.sub(r"\D", "", count))
            result["transistors_lower_bound"] = count.endswith("+")
        else:
            if "area" not in stat:
                raise CodesignError("Yosys reported no area: does the liberty file give "
                                    "every cell an area?")
            result["area_um2"] = float(stat["area"])
        return result
    assert device is not None
    result.update(target=device.part, family=device.family, **fpga_fields(cells, device.family))
    if (rtl / LTP).is_file():
        result["logic_depth"] = _logic_depth((rtl / LTP).read_text())
    if pnr:
        run_nextpnr_ecp5([*device.nextpnr_args.split(), "--json", "netlist.json",
                          "--freq", str(clock), "--out-of-context", "--timing-allow-fail",
                          "--report", "pnr.json"],
                         rtl)
        fmax = json.loads((rtl / "pnr.json").read_text()).get("fmax", {})
        result["fmax_mhz"] = round(min(v["achieved"] for v in fmax.values()), 2) if fmax else None
        result["clock_mhz"] = clock
        result["meets_clock"] = None if not fmax else result["fmax_mhz"] >= clock
    return result
