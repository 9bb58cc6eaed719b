"""Yosys synthesis under a time limit, for the flow's synth stage (`synth.timeout_s`).

Synthesis runs in a child process in its own session, so at the limit the whole process
group (the Python child and the Yosys / nextpnr processes it started) is killed and the
flow goes on: the stage is recorded as timed out, with how far the tools got (the last
Yosys pass in its log, or the Yosys figures when only place and route was cut short).

`python -m codesign.flow.limit DESIGN.yaml OUT PART PNR` is the child's entry point.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from codesign.errors import CodesignError


class StageTimeout(Exception):
    """A stage ran past its time limit; `record` says what it reached (plain data)."""

    def __init__(self, stage: str, record: dict[str, Any]) -> None:
        super().__init__(f"{stage} timed out after {record['timeout_s']:g} s")
        self.stage = stage
        self.record = record


_PASS = re.compile(r"^(\d+(?:\.\d+)*)\. Executing (\S+) pass")


def yosys_reached(log: Path) -> str | None:
    """The command Yosys was in and its last step, from its log: 'SYNTH_XILINX, step 18.42
    (OPT)'."""
    if not log.is_file():
        return None
    top = step = None
    with log.open(errors="replace") as f:
        for line in f:
            found = _PASS.match(line)
            if not found:
                continue
            number, name = found.groups()
            depth = number.count(".")
            if depth == 0:
                top, step = name, None
            elif depth == 1:
                step = f"step {number} ({name})"
    if top is None:
        return None
    return top + (f", {step}" if step else "")


def partial_synthesis(out: Path, part: str) -> dict[str, Any]:
    """How far synthesis got in out/ when it was killed."""
    from codesign.devices import get_device
    from codesign.synth.cells import fpga_fields, read_stat

    rtl = out / "rtl"
    stat = rtl / "stat.json"
    if stat.is_file():  # Yosys finished: only place and route was cut short
        device = get_device(part)
        cells = read_stat(stat)
        return {"reached": "Yosys synthesis finished; nextpnr place and route cut short",
                "target": device.part, "family": device.family, "cells_by_type": cells,
                **fpga_fields(cells, device.family)}
    reached = yosys_reached(rtl / "yosys.log")
    return {"reached": f"Yosys: {reached}" if reached else "RTL generation / Yosys start"}


class Overrun(Exception):
    """A command ran past its limit and was killed with its process group."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"killed after {seconds:.1f} s")
        self.seconds = seconds


def run_limited(cmd: list[str], timeout_s: float | None) -> tuple[int, str]:
    """Run cmd in a new session; (exit status, stderr). Past timeout_s (None: no limit)
    the whole process group is killed (its children too) and Overrun is raised."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise Overrun(time.perf_counter() - start) from None
    except BaseException:
        _kill_group(proc)
        raise
    return proc.returncode, err


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def synthesize_limited(design: Path, out: Path, part: str, *, place_and_route: bool,
                       timeout_s: float | None) -> dict[str, Any]:
    """codesign.synth.run.synthesize of the design in a child process; StageTimeout when
    it runs past timeout_s (None: no limit)."""
    cmd = [sys.executable, "-m", "codesign.flow.limit", str(design), str(out), part,
           "1" if place_and_route else "0"]
    try:
        code, err = run_limited(cmd, timeout_s)
    except Overrun as over:
        assert timeout_s is not None
        raise StageTimeout("synth", {"timed_out": True, "timeout_s": timeout_s,
                                     "seconds": round(over.seconds, 1),
                                     **partial_synthesis(out, part)}) from None
    if code != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        raise CodesignError("\n".join(lines[-15:]) or f"synthesis exited with {code}")
    return json.loads((out / "synth.json").read_text())


def main(argv: list[str]) -> int:
    from codesign.devices import get_device
    from codesign.qnet import QuantizedNet
    from codesign.synth.run import synthesize

    design, out, part, pnr = argv
    try:
        synthesize(QuantizedNet.load(Path(design)), Path(out), get_device(part),
                   place_and_route=pnr == "1")
    except CodesignError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
