"""Outputs that appear whole or not at all.

A command that fails half way (a bad layer, a tool that crashes, Ctrl-C) must not leave
a half-written design, project or table where the user expects a good one, and must not
destroy what was there before. Every command writes through one of these two context
managers:

- `output_dir(path)`: the directory's earlier contents are moved aside (one rename) and
  the command writes into an empty `path`, so paths the tools record (hls4ml's
  OutputDir, Verilator's makefiles) are the final ones. On failure what it wrote is
  removed and the earlier contents come back exactly; on success the earlier entries it
  did not rewrite come back beside the new ones (files of the user's it does not own).
  The working directory (`--out .`) cannot move: there a failure removes only the
  entries that were not there before.
- `output_file(path)`: the command writes a temporary sibling (same suffix, so writers
  that pick a format by extension still do), renamed onto `path` on success.

Whether an existing output may be overwritten (--force) is each command's own check,
made before it writes; these only refuse a path of the wrong kind.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from codesign.errors import CodesignError


@contextmanager
def output_dir(path: str | Path, *, what: str = "--out", keep_old: bool = True
               ) -> Iterator[Path]:
    """Yield `path` as an empty directory to write into; see the module docstring.
    keep_old=False: on success the earlier contents are dropped, not merged back (a
    command replacing its own earlier output, whose stale files must not linger)."""
    path = check_dir_target(path, what)
    if path.is_dir() and _holds_cwd(path):
        with _remove_new_entries(path):  # the working directory itself cannot move aside
            yield path
        return
    made = _missing_ancestors(path)
    target = path.resolve() if path.is_symlink() else path  # a symlink stays; its target
    backup = None                                            # directory's contents move
    if target.is_dir():
        backup = target.with_name(f".{target.name}.codesign-old-{os.getpid()}")
        target.rename(backup)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _restore(target, backup)
        raise CodesignError(f"cannot create {what} directory {path}: {exc.strerror}") from None
    try:
        yield path
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        _restore(target, backup)
        for parent in made:  # the folders above it that this call created, innermost first
            _rmdir_if_empty(parent)
        raise
    if backup is not None:
        for entry in backup.iterdir() if keep_old else ():
            if not (target / entry.name).exists() and not (target / entry.name).is_symlink():
                entry.rename(target / entry.name)
        shutil.rmtree(backup, ignore_errors=True)


@contextmanager
def output_file(path: str | Path, *, what: str = "--out") -> Iterator[Path]:
    """Yield a temporary sibling of `path` to write; renamed onto `path` on success."""
    path = check_file_target(path, what)
    made = _missing_ancestors(path.parent)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CodesignError(f"cannot create the folder of {what} {path}: "
                            f"{exc.strerror}") from None
    tmp = path.with_name(f".{path.stem}.codesign-partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to {tmp}")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        for parent in made:
            _rmdir_if_empty(parent)
        raise


def check_dir_target(path: str | Path, what: str = "--out") -> Path:
    """Refuse an output directory that names a file (commands call it before long work)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CodesignError(f"{what} {path} is a file, not a directory; name a directory "
                            "(it is created if missing)")
    return path


def check_file_target(path: str | Path, what: str = "--out") -> Path:
    """Refuse an output file that names a directory (commands call it before long work)."""
    path = Path(path)
    if path.is_dir():
        raise CodesignError(f"{what} {path} is a directory, not a file; name a file")
    return path


def _holds_cwd(path: Path) -> bool:
    cwd = Path.cwd().resolve()
    return path.resolve() == cwd or path.resolve() in cwd.parents


@contextmanager
def _remove_new_entries(path: Path) -> Iterator[None]:
    """On failure remove the entries of `path` that were not there before (what this
    command wrote anew; a file it overwrote cannot be given back)."""
    before = {p.name for p in path.iterdir()}
    try:
        yield
    except BaseException:
        for entry in path.iterdir():
            if entry.name not in before:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        raise


def _missing_ancestors(path: Path) -> list[Path]:
    """`path` and the folders above it that do not exist yet, innermost first."""
    missing = []
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            break
        missing.append(p)
    return missing


def _restore(path: Path, backup: Path | None) -> None:
    if backup is not None:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        backup.rename(path)


def _rmdir_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass
