"""Progress where the user reads it: a tqdm bar on a terminal; in a pipe, a log or CI, one
line when a long stage starts and one when it ends, so logs stay readable and a slow stage
is never silent."""

from __future__ import annotations

import sys


def off_terminal_line(enabled: bool, text: str) -> None:
    """Print `text` to stderr when progress is on but stderr is not a terminal (where a
    tqdm bar with disable=None shows nothing)."""
    if enabled and not sys.stderr.isatty():
        print(text, file=sys.stderr, flush=True)
