"""The package is built in floors: a module imports only from its own floor or below.

A floor names what its modules may rely on. Upward imports (the cost model reaching into
synthesis, a base helper living in the training code) make a stage impossible to read or
reuse on its own; this test names every one, with the line, instead of leaving it to
review. docs/contributing.md explains where a new module goes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "codesign"

# lowest first; a name is a module or a package (all of its modules)
FLOORS: list[tuple[str, set[str]]] = [
    ("base", {"errors", "yamlio", "finite", "outputs", "fixed", "devices", "hwrules",
              "cachedir", "workers", "version", "progress"}),
    ("ir and data", {"ir", "data", "shapes", "zoo"}),
    ("design", {"design", "param_limits"}),
    ("arithmetic", {"bitaccurate", "qnet", "train", "models"}),
    ("quantization and sensitivity", {"quant", "sensitivity"}),
    ("back ends", {"rtl", "hls"}),
    ("cost models", {"cost"}),
    ("synthesis and verification", {"synth", "verify"}),
    ("allocation", {"alloc"}),
    ("report", {"report"}),
    ("flows", {"flow"}),
    ("interface", {"cli", "__main__", "__init__"}),
]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").exists() or \
        (PACKAGE.parent / rel / "__init__.py").exists()


def _floor(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    for i, (_, names) in enumerate(FLOORS):
        if key in names:
            return i
    raise LookupError(module)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported codesign module) for every import, function-local ones included."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            for a in node.names:  # `from codesign import bitaccurate` imports a module
                sub = f"{base}.{a.name}"
                found.append((node.lineno, sub if _is_module(sub) else base))
    return [(line, m) for line, m in found if m.split(".")[0] == "codesign" and m != me]


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_floor():
    unplaced = []
    for path in MODULES:
        try:
            _floor(_module_name(path))
        except LookupError:
            unplaced.append(_module_name(path))
    assert not unplaced, f"place these in FLOORS (and docs/contributing.md): {unplaced}"


def test_no_module_imports_a_floor_above_its_own():
    upward = []
    for path in MODULES:
        me = _module_name(path)
        mine = _floor(me)
        for line, other in _imports(path):
            if other == "codesign":  # the package root is the public API: top floor
                theirs = len(FLOORS) - 1
            else:
                theirs = _floor(other)
            if theirs > mine:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} {me} "
                              f"({FLOORS[mine][0]}) imports {other} ({FLOORS[theirs][0]})")
    assert not upward, "upward imports:\n" + "\n".join(upward)


@pytest.mark.parametrize("source, expected", [
    ("from codesign import bitaccurate as ba\n", "codesign.bitaccurate"),
    ("from codesign.rtl.network import plan_network\n", "codesign.rtl.network"),
    ("import codesign.alloc.budget\n", "codesign.alloc.budget"),
    ("def f():\n    from codesign.flow.stages import Point\n", "codesign.flow.stages"),
])
def test_imports_are_found_wherever_they_are(tmp_path, source, expected, monkeypatch):
    """The checker itself: a local import inside a function counts like any other."""
    path = PACKAGE / "qnet.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source)
    assert [m for _, m in _imports(path)] == [expected]
