"""Regression-suite tests: suites are run the way a user runs them, in a subprocess whose
Python cannot import codesign (a blocker package shadows it) from a directory outside
the repository; Verilator builds are shared through one session build cache."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@dataclass
class SuiteRun:
    code: int
    output: str


@pytest.fixture(scope="session")
def no_codesign(tmp_path_factory) -> Path:
    """A folder whose `codesign` package raises on import: first on PYTHONPATH, it shadows
    the installed one in the runner and in the simulator's embedded Python."""
    folder = tmp_path_factory.mktemp("no_codesign")
    (folder / "codesign").mkdir()
    (folder / "codesign" / "__init__.py").write_text(
        "raise ImportError('the regression suite must not need codesign')\n")
    return folder


@pytest.fixture(scope="session")
def suite_build_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("suite_builds")


@pytest.fixture(scope="session")
def run_suite(no_codesign, suite_build_dir, tmp_path_factory):
    """Run `python -m pytest SUITE ARGS` as a user would, without codesign."""
    cwd = tmp_path_factory.mktemp("elsewhere")
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "HOME", "LANG", "TMPDIR", "USER")}
    env["PYTHONPATH"] = str(no_codesign)

    def run(suite: Path, *args: str) -> SuiteRun:
        cmd = [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider",
               "--build-dir", str(suite_build_dir), *args]
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        return SuiteRun(done.returncode, done.stdout + done.stderr)

    check = subprocess.run([sys.executable, "-c", "import codesign"], cwd=cwd, env=env,
                           capture_output=True, text=True)
    assert check.returncode != 0 and "must not need codesign" in check.stderr
    return run
