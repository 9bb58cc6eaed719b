"""Every measured figure README.md and docs/ quote comes from a bench's recorded output.

A quoted figure carries a marker right after it naming where it was recorded:

    1,556<!-- fig rtl_area.json:rows[row=issue 16x8].ours.LUT --> LUT
    19.2%<!-- fig fit.json:summary.cost_vs_yosys.lut.mape x100 --> MAPE

`rtl_area.json` is bench/results/rtl_area.json; the path walks its keys, list indices and
`[key=value]` (the one list element whose `key` is `value`; `&` joins several); `x100`
scales a fraction to the percent the page shows. The quoted number must be the recorded
value rounded to the digits the page shows; a recorded string (an error message) must
contain it. Rerun the bench with its `--save`/`--out` and the pages that disagree fail
here, naming the page, the line, the figure and the record."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

MARKER = re.compile(r"<!-- fig (?P<file>[\w.-]+\.json):(?P<path>.+?)(?: x(?P<scale>\d+))? -->")
NUMBER_BEFORE = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?%?$")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
# a hardware count in prose (three digits or more before LUT/FF/CARRY4/SRL), which must
# carry a marker: device capacities live in tables and budgets as `lut=...`
COUNT = re.compile(r"(?<![\w.=/-])(\d{1,3}(?:,\d{3})+|\d{3,})(?P<marker><!--[^>]*-->)?"
                   r"(?: (?:LUTs?|FFs?|CARRY4|SRLs?)\b)")


class FigureError(ValueError):
    """A marker that does not resolve, or a figure that differs from its record."""


@cache
def load_record(name: str, results: Path = RESULTS) -> object:
    path = results / name
    if not path.is_file():
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        raise FigureError(f"no recorded output {shown}")
    return json.loads(path.read_text())


def _steps(path: str) -> list[str]:
    return re.findall(r"\[[^\]]*\]|[^.\[\]]+", path)


def resolve(data: object, path: str) -> object:
    """The value at `path` (keys, indices, `[key=value&...]` filters) in `data`."""
    at = data
    for step in _steps(path):
        if step.startswith("["):
            conds = dict(c.split("=", 1) for c in step[1:-1].split("&"))
            hits = [x for x in at if isinstance(x, dict)
                    and all(str(x.get(k)) == v for k, v in conds.items())]
            if len(hits) != 1:
                raise FigureError(f"{step} selects {len(hits)} elements of {path!r}, not one")
            at = hits[0]
        elif isinstance(at, list) and step.isdigit() and int(step) < len(at):
            at = at[int(step)]
        elif isinstance(at, dict) and step in at:
            at = at[step]
        else:
            raise FigureError(f"{path!r}: no {step!r} in the record")
    return at


def agrees(quoted: str, value: object, scale: int = 1) -> bool:
    """`quoted` (as the page shows it: `1,556`, `+44.1%`) is `value` x scale rounded to
    the page's digits; a recorded string must contain the number."""
    number = quoted.rstrip("%").replace(",", "")
    if isinstance(value, str):
        return number.lstrip("+") in re.findall(r"\d+(?:\.\d+)?", value.replace(",", ""))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    digits = len(number.split(".")[1]) if "." in number else 0
    return abs(value * scale - float(number)) <= 0.5 * 10.0**-digits + 1e-9


def _outside_code(text: str) -> str:
    """The page with code blocks and code spans blanked (a marker shown as an example is
    not a figure); line numbers kept."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return re.sub(r"`[^`\n]*`", lambda m: " " * len(m.group(0)), text)


def figures(text: str) -> list[tuple[int, str, str, str, int]]:
    """(line, quoted number, record file, path, scale) of every marker in a page."""
    text = _outside_code(text)
    out = []
    for m in MARKER.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = NUMBER_BEFORE.search(text[max(0, m.start() - 40):m.start()])
        if not before:
            raise FigureError(f"line {line}: the marker {m.group(0)} follows no number")
        out.append((line, before.group(0), m["file"], m["path"], int(m["scale"] or 1)))
    return out


def disagreements(page: Path, results: Path = RESULTS) -> list[str]:
    where = page.relative_to(ROOT) if page.is_relative_to(ROOT) else page.name
    out = []
    for line, quoted, name, path, scale in figures(page.read_text()):
        try:
            value = resolve(load_record(name, results), path)
        except FigureError as exc:
            out.append(f"{where}:{line}: {quoted}: {exc}")
            continue
        if not agrees(quoted, value, scale):
            shown = f"{value} x{scale}" if scale != 1 else repr(value)
            out.append(f"{where}:{line}: quotes {quoted}, {name}:{path} recorded {shown}")
    return out


def unmarked_counts(text: str) -> list[str]:
    prose = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)  # spans keep markers
    return [f"line {prose.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
            for m in COUNT.finditer(prose) if not m["marker"]]


# -- the pages ------------------------------------------------------------------------------
def test_every_quoted_figure_is_its_recorded_value():
    bad = [d for page in PAGES for d in disagreements(page)]
    assert not bad, "figures that differ from their bench record:\n" + "\n".join(bad)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hardware_counts_in_prose_name_their_record(page):
    bad = unmarked_counts(page.read_text())
    assert not bad, (f"{page.name}: LUT/FF/CARRY4/SRL counts without a "
                     "<!-- fig FILE.json:PATH --> marker:\n" + "\n".join(bad))


def test_flow_files_quote_no_lut_figures():
    """A flow's comments point at the docs for figures: a number there goes stale unseen."""
    quoted = re.compile(r"\d[\d,.]*k?(?:\s*-\s*\d[\d,.]*k?)?\s+LUTs?\b")
    bad = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
           for p in sorted((ROOT / "flows").rglob("*.yaml"))
           for n, line in enumerate(p.read_text().splitlines(), 1)
           if "#" in line and quoted.search(line.split("#", 1)[1])]
    assert not bad, "\n".join(bad)


def test_the_recorded_bands_are_the_ones_codesign_plans_with():
    """docs/cost.md quotes the bench's bands; `codesign cost` and the allocator read the
    residuals stored in hw/devices/structural_fit.yaml: a bench rerun without
    --write-bands would make the page describe bands nothing uses."""
    from codesign.cost.bands import band

    summary = load_record("cost_model.json")["summary"]
    for model, families in summary["bands"].items():
        for family, per_res in families.items():
            for res, rec in per_res.items():
                shipped = band(model, family, res, summary["confidence"])
                assert shipped is not None and shipped["n"] == rec["n"] \
                    and abs(shipped["upper"] - rec["high"]) < 1e-3 \
                    and abs(shipped["lower"] - rec["low"]) < 1e-3, (model, family, res)


def test_every_record_says_when_and_how_it_was_taken():
    for path in sorted(RESULTS.glob("*.json")):
        data = load_record(path.name)
        assert isinstance(data, dict) and re.fullmatch(r"\d{4}-\d\d-\d\d", data.get("date", "")) \
            and isinstance(data.get("args"), dict), f"{path.name}: no date or args"


# -- the checker itself: it fails on a stale figure and on a marker that lands nowhere ---
@pytest.fixture
def record(tmp_path):
    (tmp_path / "b.json").write_text(json.dumps({
        "rows": [{"row": "issue 16x8", "ours": {"LUT": 1556}},
                 {"row": "digits8 conv2d_0", "ours": {"LUT": 1132}}],
        "summary": {"mape": 0.19185, "share": 1.0, "band": -0.249},
        "error": "no design fits: lut >= 45507 (asked 36926.5)"}))
    load_record.cache_clear()
    yield tmp_path
    load_record.cache_clear()


@pytest.mark.parametrize("text", [
    "takes 1,556<!-- fig b.json:rows[row=issue 16x8].ours.LUT --> LUT",
    "MAPE 19.2%<!-- fig b.json:summary.mape x100 -->, 19%<!-- fig b.json:summary.mape x100 -->",
    "all 100%<!-- fig b.json:summary.share x100 -->, -24.9%<!-- fig b.json:summary.band x100 -->",
    "smallest is 45,507<!-- fig b.json:error --> LUT",
    "1,132<!-- fig b.json:rows.1.ours.LUT -->",
])
def test_a_figure_equal_to_its_record_passes(record, tmp_path, text):
    page = tmp_path / "page.md"
    page.write_text(text + "\n")
    assert disagreements(page, record) == []


@pytest.mark.parametrize("text, why", [
    ("takes 1,443<!-- fig b.json:rows[row=issue 16x8].ours.LUT --> LUT", "recorded 1556"),
    ("MAPE 19.3%<!-- fig b.json:summary.mape x100 -->", "recorded 0.19185 x100"),
    ("MAPE 19.2%<!-- fig b.json:summary.mape -->", "recorded 0.19185"),
    ("is 45,506<!-- fig b.json:error --> LUT", "recorded 'no design fits"),
    ("1,556<!-- fig b.json:rows[row=issue 9].ours.LUT -->", "selects 0 elements"),
    ("1,556<!-- fig b.json:rows.0.ours.FF -->", "no 'FF'"),
    ("1,556<!-- fig other.json:rows.0.ours.LUT -->", "no recorded output"),
])
def test_a_stale_figure_or_a_marker_that_lands_nowhere_fails(record, tmp_path, text, why):
    page = tmp_path / "page.md"
    page.write_text("intro\n" + text + "\n")
    bad = disagreements(page, record)
    assert len(bad) == 1 and bad[0].startswith("page.md:2: ") and why in bad[0], bad


def test_a_marker_shown_as_code_is_no_figure(record, tmp_path):
    page = tmp_path / "page.md"
    page.write_text("write `<!-- fig FILE.json:PATH -->` after the number\n"
                    "```\n1<!-- fig b.json:nowhere -->\n```\n")
    assert disagreements(page, record) == []


def test_a_marker_after_words_is_refused(record, tmp_path):
    page = tmp_path / "page.md"
    page.write_text("the layer<!-- fig b.json:rows.0.ours.LUT -->\n")
    with pytest.raises(FigureError, match="follows no number"):
        disagreements(page, record)


def test_an_unmarked_count_is_found_and_prose_is_not():
    assert unmarked_counts("took 4,631 LUT before; now 1,556<!-- fig a.json:x --> LUT") == [
        "line 1: 4,631 LUT"]
    assert unmarked_counts("4 LUT budgets, `lut=3000` LUTs, 16x8 layer, xc7a100t\n"
                           "```\nlut: 24505 LUT\n```\n") == []
