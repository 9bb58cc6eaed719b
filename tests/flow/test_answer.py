"""The Quickstart loop at reduced settings (a linear model, allocator + uniform baseline,
hls4ml C simulation, RTL under Verilator): the report's top section holds run.json's facts,
`codesign report` compares runs and refuses what is not a run, and the console shows one
line per stage and the verdict, without third-party banners or warnings."""

from __future__ import annotations

import contextlib
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from codesign.cli.main import main
from codesign.devices import get_device
from codesign.flow.schema import load_flow
from codesign.flow.stages import enabled
from tests.flow.conftest import LINEAR_NET, linear_flow, write_flow

# one worker runs the module, so its loop runs once (about 60 s of CPU)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("answer_loop")]

LOOP = """
    sensitivity:
      method: hessian
      bits: [2, 3, 4, 8]
      activations: false
      min_iters: 2
      max_iters: 2
      tol: 1.0
      batches: 1
      batch_size: 32
    allocate:
      methods: [exact, uniform]
      budget: {lut: 0.55, dsp: 0}
      points: 2
      reuse: [1]
    quantize: {methods: [lsq], epochs: 1}
    hls: {csim_samples: 5}
    rtl: {sim_samples: 2}
"""


class AnswerTable(HTMLParser):
    """The rows of the `answer` section's table: question -> answer text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}
        self._in, self._cells, self._cell = False, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self._in = dict(attrs).get("id") == "answer"
        elif self._in and tag == "td":
            self._cell = ""

    def handle_endtag(self, tag):
        if self._in and tag == "td":
            self._cells.append(self._cell)
            self._cell = None
        elif self._in and tag == "tr" and len(self._cells) == 2:
            self.rows[self._cells[0]] = self._cells[1]
            self._cells = []
        elif tag == "section":
            self._in = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


@pytest.fixture(scope="module")
def loop_run(tmp_path_factory):
    """The loop run through the CLI, as a user runs it: (run dir, stdout, stderr)."""
    folder = tmp_path_factory.mktemp("loop")
    (folder / "linear.py").write_text(LINEAR_NET)
    flow = write_flow(folder, linear_flow("loop", LOOP))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", str(flow), "--runs-dir", str(folder / "runs")])
    run_dir = Path(re.search(r"report: (.*)report\.html", out.getvalue()).group(1))
    return code, run_dir, out.getvalue(), err.getvalue(), flow


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def test_top_section_states_run_json_facts(loop_run):
    code, run_dir, *_ = loop_run
    assert code == 0
    s = json.loads((run_dir / "run.json").read_text())
    page = AnswerTable()
    page.feed((run_dir / "report.html").read_text())
    rows = page.rows
    assert list(rows) == ["what fits", "accuracy (bit-accurate)", "cost",
                          "against uniform precision", "clock", "to go further"]
    chosen = next(r for r in s["points"] if r["label"] == s["chosen"])
    e, c = chosen["eval"], chosen["cost"]
    assert rows["what fits"].startswith(f"{s['chosen']} (")
    assert ("fits the part by the estimate" if c["fits"] else "does NOT fit") in rows["what fits"]
    fv = s["model"]["float_val_accuracy"]
    assert rows["accuracy (bit-accurate)"].startswith(
        f"validation {_pct(e['bit_accurate_val_accuracy'])}, "
        f"test {_pct(e['bit_accurate_test_accuracy'])} (float model: {_pct(fv)} validation)")
    lost = 100 * (fv - e["bit_accurate_val_accuracy"])
    assert ("WARNING" in rows["accuracy (bit-accurate)"]) == (lost > 5)
    band = c["band"]["lut"]
    assert rows["cost"].startswith(f"{c['lut']:,} LUTs estimated (Yosys lands in "
                                   f"{band['low']:,}..{band['high']:,} at 95% confidence)")
    assert "not synthesized" in rows["cost"]  # this flow has no synth section
    # uniform precision at equal or fewer estimated LUTs, same device and quantizer
    uniform = [r for r in s["points"] if r["point"]["alloc_method"] == "uniform"]
    assert uniform  # the baseline ran on the same budget
    text = rows["against uniform precision"]
    if chosen["point"]["alloc_method"] == "uniform":
        assert "IS uniform precision" in text
    else:
        small = [r for r in uniform if r["cost"]["lut"] <= c["lut"]]
        if not small:
            assert text.startswith("no uniform design is as small")
        else:
            best = max(small, key=lambda r: (r["eval"]["bit_accurate_val_accuracy"],
                                             -r["cost"]["lut"]))
            delta = 100 * (e["bit_accurate_val_accuracy"]
                           - best["eval"]["bit_accurate_val_accuracy"])
            assert f"{delta:+.2f} points validation" in text and best["label"] in text
    clock = get_device("xc7a100t").default_clock_mhz
    assert rows["clock"].startswith(f"not measured: the RTL is pipelined for {clock:g} MHz")
    # what next: the binding limit of the chosen design's frontier row, and the cheapest
    # more accurate point
    row = next(r for r in s["allocate"]["devices"]["xc7a100t"]["points"]
               if r["method"] == chosen["point"]["alloc_method"]
               and r["point"] == chosen["point"]["alloc"])
    further = rows["to go further"]
    assert f"binding limit: {row['binding']}" in further
    better = [r for r in s["points"] if r["cost"]["lut"] > c["lut"]
              and r["eval"]["bit_accurate_val_accuracy"] > e["bit_accurate_val_accuracy"]]
    if better:
        nxt = min(better, key=lambda r: (r["cost"]["lut"],
                                         -r["eval"]["bit_accurate_val_accuracy"]))
        assert f"next frontier point: {nxt['label']}, " in further
    else:
        assert "no more accurate point in the run" in further


def test_console_is_one_line_per_stage_and_the_verdict(loop_run):
    code, run_dir, out, err, flow = loop_run
    assert err == ""  # no progress bar off a terminal, no banners, no warnings
    lines = out.splitlines()
    stages = [s.name for s in enabled(load_flow(flow))]
    assert [line.split(":")[0].split(" [")[0].strip() for line in lines[:len(stages)]] \
        == stages
    assert lines[len(stages)].startswith("chosen design: ")
    assert lines[len(stages) + 1].startswith("PASS in ")
    assert lines[len(stages) + 2] == f"report: {run_dir / 'report.html'}"
    assert len(lines) == len(stages) + 3


def test_report_command_compares_runs_and_refuses_non_runs(loop_run, tmp_path, capsys):
    _, run_dir, *_ = loop_run
    out = tmp_path / "cmp.html"
    assert main(["report", str(run_dir), str(run_dir), "--out", str(out), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["compare"] == str(out) and len(got["runs"]) == 2
    html = out.read_text()
    assert '<section id="compare">' in html and html.count("data:image/png;base64,") == 1
    # an existing page is not replaced without --force
    assert main(["report", str(run_dir), str(run_dir), "--out", str(out)]) == 1
    assert "--force" in capsys.readouterr().err
    # not a run directory: refused by name, nothing written
    bad = tmp_path / "not_a_run"
    bad.mkdir()
    other = tmp_path / "other.html"
    assert main(["report", str(run_dir), str(bad), "--out", str(other)]) == 1
    err = capsys.readouterr().err
    assert f"run directory {bad} has no run.json" in err and "Traceback" not in err
    assert not other.exists()
    assert main(["report", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err
    (bad / "run.json").write_text('{"flow": "x"}')
    assert main(["report", str(bad)]) == 1
    assert "is not a codesign run summary" in capsys.readouterr().err
    (bad / "run.json").write_text("{not json")
    assert main(["report", str(bad)]) == 1
    assert "is not valid JSON" in capsys.readouterr().err
    # one run: its report rebuilt in place
    assert main(["report", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == f"report: {run_dir / 'report.html'}"


def test_flow_report_compare_draws_earlier_runs_and_refuses_bad_dirs(loop_run, tmp_path):
    from codesign.errors import CodesignError
    from codesign.flow import run_flow

    _, run_dir, *_ = loop_run
    (tmp_path / "linear.py").write_text(LINEAR_NET)
    body = LOOP.replace("hls: {csim_samples: 5}", "hls: null").replace(
        "rtl: {sim_samples: 2}", "rtl: null")
    flow = write_flow(tmp_path, linear_flow("again", body)
                      + f"report: {{compare: [{run_dir}]}}\n")
    result = run_flow(flow, tmp_path / "runs", quiet=True)
    assert result.summary["compare"] == [str(run_dir)]
    assert '<section id="compare">' in result.report_html.read_text()
    bad = write_flow(tmp_path, linear_flow("bad", body) + "report: {compare: [nowhere]}\n",
                     name="bad.yaml")
    with pytest.raises(CodesignError, match=r"report.compare: .*nowhere does not exist"):
        run_flow(bad, tmp_path / "runs2", quiet=True)
    assert not (tmp_path / "runs2").exists()  # refused before any work
