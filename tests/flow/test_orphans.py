"""A SIGKILLed `codesign run` leaves no sweep worker behind (issue 23, item 4): the pool's
workers used to finish the sweep, then wait for work forever."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.flow.conftest import linear_flow, write_flow

SLOW_SWEEP = linear_flow("orphans", """
sensitivity: null
quantize: {methods: [lsq], bits: [4, 5, 6, 7], epochs: 200}
cost: null
hls: null
rtl: null
""")


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads process groups from /proc")
def test_sigkill_of_a_run_takes_its_pool_workers_with_it(tmp_path, linear_model):
    flow = write_flow(tmp_path, SLOW_SWEEP)
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "codesign", "run", str(flow), "--runs-dir",
                             str(runs), "--workers", "2", "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # its own process group: pgid == pid
    try:
        deadline, workers = time.time() + 180, set()
        while time.time() < deadline and proc.poll() is None and not workers:
            for log in runs.glob("orphans-*/log.jsonl"):
                events = [json.loads(line) for line in log.read_text().splitlines()]
                workers = {e["pid"] for e in events
                           if e["stage"] == "quantize" and e["pid"] != proc.pid}
            time.sleep(0.1)
        assert workers, "the sweep never started on the pool"
        os.kill(proc.pid, signal.SIGKILL)  # mid-sweep: 200 LSQ epochs per point
        proc.wait()
        deadline = time.time() + 5
        while group_members(proc.pid) and time.time() < deadline:
            time.sleep(0.1)
        assert group_members(proc.pid) == []
    finally:
        if group_members(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
