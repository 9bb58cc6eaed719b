"""The docs point only at what exists: every link, repository path and `codesign.*` name in
README.md and docs/, and every markdown file a docstring or comment of the code names.
A module that moves without its docs fails here, naming the page, the line and the path."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
CODE_DIRS = ("codesign", "hw", "sim", "bench")
# hw/ and sim/ sit at the top of the repository and ship as codesign.hw / codesign.sim
PACKAGE_DIRS = {"codesign": ROOT / "codesign", "hw": ROOT / "hw", "sim": ROOT / "sim"}

OUTSIDE = re.compile(r"\.\./shared")  # the developers' folder beside the repository
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
# a path from the repository root: one of its top folders, then path characters; a
# placeholder right after it (`flows/*.yaml`, `hw/cs_<name>.sv`) makes it a pattern
REPO_PATH = re.compile(
    r"(?<![\w./~$-])((?:codesign|hw|sim|bench|flows|docs|tests)/[\w./-]*)(?![*<{$\w])")
MODULE_NAME = re.compile(r"(?<![\w./-])(codesign(?:\.[A-Za-z_]\w*)+)")
MD_NAME = re.compile(r"(?<![\w./-])([\w./-]*\w\.md)\b")
# markdown files the code writes (a run's report), named in docstrings as outputs
WRITTEN_MD = {"report.md"}


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _prose(text: str) -> str:
    """The page with fenced code blocks blanked (line numbers kept): their paths are the
    reader's (`--rtl hw/files.f`), not the repository's."""
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


@cache
def _top_level_names(path: Path) -> frozenset[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return frozenset(names)


def module_name_exists(dotted: str) -> bool:
    """`codesign.a.b.name`: packages and modules down the folders, then a name the module
    defines or imports at top level (what follows it, a method, is not checked)."""
    first, *rest = dotted.split(".")[1:]
    at = PACKAGE_DIRS.get(first) or ROOT / "codesign"
    rest = rest if first in PACKAGE_DIRS else [first, *rest]
    for part in rest:
        if at.is_dir() and (at / part).is_dir():
            at = at / part
        elif at.is_dir() and (at / f"{part}.py").is_file():
            at = at / f"{part}.py"
        else:
            module = at / "__init__.py" if at.is_dir() else at
            return module.is_file() and part in _top_level_names(module)
    return True


def dangling_in_page(path: Path) -> list[str]:
    return dangling_in_text(path.read_text(), path.parent, str(path.relative_to(ROOT)))


def dangling_in_text(text: str, folder: Path, where: str) -> list[str]:
    """The references of a page in `folder` (links are relative to it) that land nowhere."""
    prose = _prose(text)
    out = []
    for m in LINK.finditer(text):
        target = m.group(1).split("#")[0]
        if not target or "://" in target or target.startswith("mailto:"):
            continue
        resolved = (folder / target).resolve()
        if not (resolved.is_relative_to(ROOT) and resolved.exists()):
            out.append(f"{where}:{_line(text, m.start())}: link {target}")
    for m in REPO_PATH.finditer(prose):
        if not (ROOT / m.group(1).rstrip(".")).exists():
            out.append(f"{where}:{_line(prose, m.start())}: path {m.group(1)}")
    for m in MODULE_NAME.finditer(prose):
        if not module_name_exists(m.group(1)):
            out.append(f"{where}:{_line(prose, m.start())}: name {m.group(1)}")
    return out


def _py_prose(text: str) -> list[tuple[int, str]]:
    """Comments and docstrings of a Python file, with their line numbers."""
    pieces = [(t.start[0], t.string) for t in tokenize.generate_tokens(io.StringIO(text).readline)
              if t.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                pieces.append((node.body[0].lineno, doc))
    return pieces


def _sv_prose(text: str) -> list[tuple[int, str]]:
    return [(_line(text, m.start()), m.group(0))
            for m in re.finditer(r"//[^\n]*|/\*.*?\*/", text, re.S)]


@cache
def _repo_md_names() -> frozenset[str]:
    return frozenset(p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts)


def md_name_exists(name: str) -> bool:
    """A path from a top folder must exist as written; any other name (`DESIGN.md`) must
    be a markdown file somewhere in the repository, or one the code writes."""
    if name.split("/")[0] in (*CODE_DIRS, "docs", "flows", "tests"):
        return (ROOT / name).is_file()
    base = name.rsplit("/", 1)[-1]
    return base in _repo_md_names() or base in WRITTEN_MD


def dangling_in_code(path: Path) -> list[str]:
    text = path.read_text()
    pieces = _py_prose(text) if path.suffix == ".py" else _sv_prose(text)
    return [f"{path.relative_to(ROOT)}:{line}: {m.group(1)}"
            for line, piece in pieces for m in MD_NAME.finditer(piece)
            if not md_name_exists(m.group(1))]


def test_readme_and_docs_point_only_at_what_exists():
    dangling = [d for page in PAGES for d in dangling_in_page(page)]
    assert not dangling, "dangling references:\n" + "\n".join(dangling)


def test_docstrings_and_comments_name_only_markdown_that_exists():
    files = [p for d in CODE_DIRS for p in sorted((ROOT / d).rglob("*"))
             if p.suffix in (".py", ".sv")]
    dangling = [d for f in files for d in dangling_in_code(f)]
    assert not dangling, "markdown named but not in the repository:\n" + "\n".join(dangling)


def test_nothing_points_outside_the_repository():
    pages = [*PAGES, *(p for p in (ROOT / "flows").rglob("*") if p.suffix in (".yaml", ".py"))]
    outside = [str(p.relative_to(ROOT)) for p in pages if OUTSIDE.search(p.read_text())]
    assert not outside, outside


# -- the matchers themselves: they catch a stale reference and leave prose alone ----------
def test_a_stale_path_link_or_name_is_caught():
    found = dangling_in_text(
        "See `codesign/emit/nowhere.py`, [x](nowhere.md), `codesign.rtl.latency.nope` and\n"
        "`codesign.nowhere.thing`; [ok](cost.md#devices), `docs/cost.md`.\n", DOCS, "probe")
    assert [f.split(": ", 1)[1] for f in found] == [
        "link nowhere.md", "path codesign/emit/nowhere.py", "name codesign.rtl.latency.nope",
        "name codesign.nowhere.thing"]


@pytest.mark.parametrize("text", [
    "LUT/FF and DSP/BRAM, TRN/RND", "`runs/digits-<time>/report.html`", "`flows/*.yaml`",
    "`$CODESIGN_DATA/<name>/`, `~/.cache/codesign/data/`", "`path/to/file.py:factory`",
    "```\npytest regress/digits --rtl hw/files.f\n```", "`codesign.hw` and `codesign.sim`",
    "`codesign.DesignPoint.load(path)`, `codesign.fixed.FixedType.parse`, `codesign.ir`",
])
def test_prose_and_real_names_pass(text):
    assert dangling_in_text(text + "\n", DOCS, "probe") == []


def test_a_design_md_in_a_docstring_is_caught():
    assert not md_name_exists("DESIGN.md") and not md_name_exists("docs/SOURCES.md")
    assert md_name_exists("docs/arithmetic.md") and md_name_exists("report.md")
