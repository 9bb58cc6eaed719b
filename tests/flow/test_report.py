"""The report of a full flow (hls4ml C simulation and RTL simulation included): its
structure, and that every embedded image decodes."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import pytest
from PIL import Image as PILImage

from codesign.flow import run_flow
from codesign.report.blocks import Para, Section, Table
from codesign.report.render import to_html
from tests.flow.conftest import tiny_flow, write_flow


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.h2: list[str] = []
        self.images: list[str] = []
        self.tags: set[str] = set()
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(a["id"])
        if tag == "img":
            self.images.append(a["src"])
        self._in_h2 = tag == "h2"

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data)
            self._in_h2 = False


def decodes(png: bytes) -> tuple[int, int]:
    img = PILImage.open(io.BytesIO(png))
    img.verify()
    return PILImage.open(io.BytesIO(png)).size


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("full")
    flow = write_flow(folder, """
        name: full
        model: {zoo: digits_cnn}
        sensitivity: {bits: [4, 8], activations: false, min_iters: 2, max_iters: 2}
        quantize: {methods: [calibrate], bits: [6, 8]}
        select: {max_accuracy_drop: 0.0}
        hls: {csim_samples: 20}
        cost: {fit_only: false}  # unrolled at RF 1, these do not fit the default part
        rtl: {sim_samples: 4}
    """)
    return run_flow(flow, folder / "runs", quiet=True, workers=1)


@pytest.mark.slow
def test_full_flow_verifies_the_chosen_design(full_run):
    s = full_run.summary
    assert full_run.ok
    best = max(s["points"], key=lambda r: r["eval"]["bit_accurate_val_accuracy"])
    assert s["chosen"] == best["label"]  # max_accuracy_drop 0: the most accurate point
    csim = s["hls"]["csim"]
    assert csim["samples"] == 20 and csim["identical_samples"] == 20
    assert csim["identical_outputs"] == csim["outputs"] == 200
    (run,) = s["rtl"]["runs"]
    assert run["samples"] == run["bit_exact"] == 4 and run["cycles_equal"] is True
    assert run["predicted_cycles"] == run["measured_cycles"]
    for stage in ("train", "sensitivity", "hls", "rtl"):
        assert (full_run.run_dir / "stages" / stage / "result.json").is_file()
    assert (full_run.run_dir / "stages" / "rtl" / "rtl" / "manifest.json").is_file()
    chosen = next(r for r in s["points"] if r["label"] == s["chosen"])
    est = chosen["cost"]
    assert est["lut"] > 0 and est["dsp"] == 0 and est["device"] == "xc7a35t"
    # the structural estimate reads the RTL plan: its cycles are the RTL stage's prediction
    assert est["model"] == "structural"
    assert (est["latency"], est["interval"]) == (s["rtl"]["predicted_latency"],
                                                 s["rtl"]["predicted_interval"])


@pytest.mark.slow
def test_report_structure_and_images(full_run):
    text = full_run.report_html.read_text()
    page = Page()
    page.feed(text)
    assert page.sections == ["answer", "figures", "overview", "accuracy", "chosen",
                             "resources", "verification", "sensitivity", "times"]
    assert not page.tags & {"script", "link", "iframe"}  # self-contained
    assert not re.search(r'src="(?!data:)', text)
    assert len(page.images) == 4  # frontier, layer bits, sensitivity, stage times
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        w, h = decodes(base64.b64decode(src.split(",", 1)[1], validate=True))
        assert w > 100 and h > 100
    s = full_run.summary
    chosen = next(r for r in s["points"] if r["label"] == s["chosen"])
    assert f"Chosen design: {s['chosen']}" in page.h2
    for layer in next(r for r in s["points"] if r["label"] == s["chosen"])["eval"]["layers"]:
        assert f"<td>{layer['name']}</td>" in text
    assert "20/20 samples and 200/200 outputs bit-identical" in text
    assert "4/4 samples bit-exact; every transfer edge as predicted" in text
    assert f"<td>LUT</td><td>{chosen['cost']['lut']}</td>" in text
    assert "Estimated by the structural cost model" in text
    assert "<th>engine module</th>" in text and "<td>cs_graph_engine</td>" in text

    md = full_run.report_md.read_text()
    assert [line[3:] for line in md.splitlines() if line.startswith("## ")] == page.h2
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == 4
    for link in links:
        decodes((full_run.run_dir / link).read_bytes())


def test_report_text_is_escaped():
    html = to_html("t<", [Section("a", "A&B", [Para("<script>x</script>", False),
                                                 Table(["<b>"], [["1 < 2"]])])])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<td>1 &lt; 2</td>" in html and "A&amp;B" in html





@pytest.mark.slow
def test_synth_stage_and_resources_section(tmp_path):
    """The chosen design synthesized with Yosys; the report sets it beside the estimate."""
    flow = tiny_flow(tmp_path, """
        quantize: {methods: [calibrate], bits: [3]}
        hls: null
        rtl: null
        synth: {}
    """)
    result = run_flow(flow, tmp_path / "runs", quiet=True)
    s = result.summary
    assert result.ok
    syn, est = s["synth"], s["points"][0]["cost"]
    assert syn["target"] == "xc7a35t" and syn["lut"] > 0 and syn["dsp"] == est["dsp"] == 0
    assert (result.run_dir / "stages" / "synth" / "synth" / "synth.json").is_file()
    # had place and route been cut short after Yosys, the run would still hold its figures
    from codesign.flow.limit import partial_synthesis

    partial = partial_synthesis(result.run_dir / "stages" / "synth" / "synth", "xc7a35t")
    assert partial["reached"].startswith("Yosys synthesis finished")
    assert {k: partial[k] for k in ("lut", "ff", "dsp", "bram")} == \
        {k: syn[k] for k in ("lut", "ff", "dsp", "bram")}
    page = Page()
    text = result.report_html.read_text()
    page.feed(text)
    assert "resources" in page.sections and "verification" not in page.sections
    err = f"{100 * (est['lut'] - syn['lut']) / syn['lut']:+.1f}%"
    assert f"<td>LUT</td><td>{est['lut']}</td>" in text
    assert f"<td>{syn['lut']}</td><td>{err}</td>" in text
    # the structural estimate's carry cells stand beside Yosys's count
    assert est["model"] == "structural" and est["carry"] is not None
    assert f"<td>CARRY</td><td>{est['carry']}</td><td></td><td>{syn['carry']}</td>" in text
