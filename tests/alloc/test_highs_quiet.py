"""`codesign allocate` prints no HiGHS banner (issue 23, item 10). HiGHS writes it once per
process, at its first construction, so only a fresh process shows it."""

from __future__ import annotations

import json
import subprocess
import sys


def test_allocate_prints_no_highs_banner(tmp_path, cnn_graph, make_table):
    table = tmp_path / "cnn.yaml"
    make_table(cnn_graph, "digits_cnn").save(table)
    out = tmp_path / "alloc"
    run = subprocess.run([sys.executable, "-m", "codesign", "allocate", "digits_cnn",
                          "--sensitivity", str(table), "--device", "xc7a35t", "--budget",
                          "lut=0.4,dsp=0", "--method", "exact", "--frontier", "2",
                          "--out", str(out), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["points"]  # HiGHS did solve, in this process
    for stream in (run.stdout, run.stderr):
        assert "HiGHS" not in stream and "Copyright" not in stream, stream
