"""Off a terminal (a pipe, a log, CI) a trace estimate prints one line when it starts and
one when it ends; a tqdm bar alone would leave a long stage silent there."""

from __future__ import annotations

import numpy as np
import torch

from codesign.sensitivity.hutchinson import HutchinsonSettings, estimate


def _draw(gen, active):
    """One draw's samples: traces near 1 and 2 (the seeded generator, as Hutchinson's), one
    per group (`active` has one entry per group)."""
    return (np.array([1.0, 2.0]) + 0.01 * torch.rand(2, generator=gen).numpy())[:len(active)]


def test_stage_lines_off_a_terminal(capsys):
    settings = HutchinsonSettings(min_iters=2, max_iters=5, tol=0.5)
    est = estimate(_draw, ("a", "b"), (3, 4), settings, progress=True, desc="weight trace")
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == ("weight trace: up to 5 draws (each layer stops at a relative standard "
                      "error of 50.0%)")
    assert err[1].startswith(f"weight trace: {len(est.samples)} draws ({len(est.samples)} per "
                             "layer) in ")
    assert err[1].endswith("(converged)") and len(err) == 2


def test_quiet_without_progress(capsys):
    estimate(_draw, ("a",), (3,), HutchinsonSettings(min_iters=2, max_iters=3, tol=0.0),
             progress=False)
    assert capsys.readouterr().err == ""
