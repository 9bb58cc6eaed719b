"""Where codesign keeps what it can rebuild: trained zoo weights, Verilator builds,
synthesis results, allocator cost tables. Read by every floor, so it depends on nothing."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "CODESIGN_CACHE"


def cache_dir(override: Path | None = None) -> Path:
    """Where codesign caches things: override, $CODESIGN_CACHE, $XDG_CACHE_HOME/codesign,
    or ~/.cache/codesign (not created here)."""
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "codesign"
