"""Stage results cached by the content hash of their inputs.

An entry is a folder `<root>/<stage>-<key>/` holding the stage's files and `result.json`
(its figures, the seconds it took, the digest of its files). A stage computes into a
private temporary folder that is renamed into place only when it has finished, so a run
killed at any moment (SIGKILL included) leaves either a whole entry or none: the rerun
reuses every finished stage and recomputes only the one that was cut short.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULT = "result.json"
CACHE_VERSION = 1  # bump when stage outputs change meaning


def digest_json(value: Any) -> str:
    """Stable hash of plain data."""
    blob = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def digest_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def digest_tree(folder: Path) -> str:
    """Hash of every file's relative path and content under `folder` (result.json aside)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != RESULT):
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        h.update(digest_file(path).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Entry:
    """A finished stage: its folder and what its result.json says."""

    stage: str
    key: str
    folder: Path
    result: dict[str, Any]

    @property
    def outputs(self) -> dict[str, Any]:
        return self.result["outputs"]

    @property
    def digest(self) -> str:
        return self.result["digest"]

    def path(self, name: str) -> Path:
        return self.folder / self.outputs[name]


class StageCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def key(self, stage: str, inputs: dict[str, Any]) -> str:
        return digest_json({"stage": stage, "cache_version": CACHE_VERSION,
                            "inputs": inputs})[:20]

    def lookup(self, stage: str, key: str) -> Entry | None:
        folder = self.root / f"{stage}-{key}"
        result = folder / RESULT
        if not result.is_file():
            return None
        return Entry(stage, key, folder, json.loads(result.read_text()))

    def begin(self, stage: str, key: str) -> Path:
        """A fresh private folder to compute into (named after this host and process)."""
        self.root.mkdir(parents=True, exist_ok=True)
        prefix = f".tmp-{stage}-{key}-{socket.gethostname()}-{os.getpid()}-"
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))

    def commit(self, stage: str, key: str, tmp: Path, outputs: dict[str, Any],
               seconds: float, replace: bool = False) -> Entry:
        """Seal tmp as the entry for (stage, key); if another process sealed it first,
        keep theirs. replace: a rerun asked for (`--from`) takes the place of an older
        entry instead."""
        result = {"stage": stage, "key": key, "outputs": outputs,
                  "seconds": round(seconds, 3), "digest": digest_tree(tmp)}
        (tmp / RESULT).write_text(json.dumps(result, indent=1, default=str))
        folder = self.root / f"{stage}-{key}"
        if replace and folder.exists():
            # moved aside under a tmp name first, so a kill here leaves no half entry
            old = Path(tempfile.mkdtemp(prefix=f".tmp-old-{stage}-{key}-{socket.gethostname()}"
                                               f"-{os.getpid()}-", dir=self.root))
            try:
                folder.rename(old / "entry")
            except FileNotFoundError:  # another process replaced it meanwhile
                pass
            shutil.rmtree(old, ignore_errors=True)
        try:
            tmp.rename(folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            found = self.lookup(stage, key)
            if found is None:
                raise
            return found
        return Entry(stage, key, folder, result)

    def sweep_stale(self) -> int:
        """Remove temporary folders of processes on this host that no longer exist
        (left by a killed run). Returns how many were removed."""
        if not self.root.is_dir():
            return 0
        host = socket.gethostname()
        removed = 0
        for tmp in self.root.glob(".tmp-*"):
            parts = tmp.name.rsplit("-", 2)
            if len(parts) != 3 or not parts[0].endswith(f"-{host}") or not parts[1].isdigit():
                continue
            if not _alive(int(parts[1])):
                shutil.rmtree(tmp, ignore_errors=True)
                removed += 1
        return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
