"""Hutchinson's trace estimator, shared by the weight and the activation Hessians.

For a Rademacher vector v (entries +-1), E[v^T H v] = Tr(H). One Hessian-vector product
H v over *all* groups (layers) at once gives every group's sample v_l^T (H v)_l, whose
mean is Tr(H_ll): the cross-layer blocks H_lm contribute v_l^T H_lm v_m, whose mean is
zero because v_l and v_m are independent. The variance of one sample is
2 * sum_{i != j} B_ij^2 (B the symmetrized rows of H that belong to the group), so the
estimate is exact in one draw when H is diagonal, and otherwise converges like 1/sqrt(k).

The cross-layer terms add variance, not just the in-layer off-diagonals: on digits_wide
they make the first conv's per-draw relative std 0.96 instead of 0.25 (~1000 draws to a
3% standard error instead of ~70). So by default (`isolate`) the weight Hessian spends
one product per layer per draw, with only that layer's block of v nonzero: each sample
is then v_l^T H_ll v_l, the variance drops to the in-block 2 * sum_{i != j} (H_ll)_ij^2,
and on the zoo nets the tolerance is reached well inside the draw cap at fewer seconds.

We stop once every group's standard error is below `tol` times its magnitude (after at
least `min_iters` draws), or at `max_iters`; stopping there with `tol` > 0 unmet raises an
UnconvergedWarning naming the worst group (tol = 0 asks for exactly max_iters draws).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from codesign.errors import CodesignError
from codesign.progress import off_terminal_line


class UnconvergedWarning(UserWarning):
    """A trace estimate stopped at max_iters before its standard error reached tol."""


@dataclass(frozen=True)
class HutchinsonSettings:
    """How hard to look. Defaults: per-layer relative std across seeds 1.8% (digits_cnn),
    3.9% (digits_wide), bench/sensitivity.py over 5 seeds; target <= 5%."""

    min_iters: int = 20  # draws before the stopping rule is consulted
    max_iters: int = 200  # hard cap on draws (each costs one Hessian-vector product per batch)
    tol: float = 0.025  # stop when every layer's standard error <= tol * |trace|
    batches: int = 8  # batches of data the loss (and so the Hessian) is averaged over
    batch_size: int = 64
    seed: int = 0  # seeds the Rademacher draws
    isolate: bool = True  # weight draws: one product per layer, no cross-layer noise

    def __post_init__(self) -> None:
        for key in ("min_iters", "max_iters", "batches", "batch_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise CodesignError(f"{key} must be a positive integer, not {value!r}")
        if self.min_iters > self.max_iters:
            raise CodesignError(f"min_iters ({self.min_iters}) exceeds max_iters "
                                f"({self.max_iters})")
        if not (isinstance(self.tol, (int, float)) and math.isfinite(self.tol)
                and self.tol >= 0):
            raise CodesignError(f"tol must be a non-negative number, not {self.tol!r}")
        if not isinstance(self.isolate, bool):
            raise CodesignError(f"isolate must be True or False, not {self.isolate!r}")
        if not isinstance(self.seed, int):
            raise CodesignError(f"seed must be an integer, not {self.seed!r}")

    @property
    def samples(self) -> int:
        return self.batches * self.batch_size

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class TraceEstimate:
    """Per-group Hutchinson samples and what follows from them."""

    names: tuple[str, ...]
    sizes: tuple[int, ...]  # elements per group (parameters, or activation elements per sample)
    samples: np.ndarray  # (draws, groups): v_l^T (H v)_l for each draw
    seconds: float
    converged: bool

    @property
    def iterations(self) -> int:
        return int(self.samples.shape[0])

    @property
    def trace(self) -> np.ndarray:
        return self.samples.mean(axis=0)

    @property
    def stderr(self) -> np.ndarray:
        k = self.iterations
        if k < 2:
            return np.full(len(self.names), np.inf)
        return self.samples.std(axis=0, ddof=1) / math.sqrt(k)

    @property
    def per_element(self) -> np.ndarray:
        """Average trace per parameter (S1's sensitivity)."""
        return self.trace / np.asarray(self.sizes, dtype=np.float64)

    def relative_stderr(self) -> np.ndarray:
        mean, se = np.abs(self.trace), self.stderr
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(mean > 0, se / mean, np.where(se == 0, 0.0, np.inf))


def rademacher(shape: tuple[int, ...], gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    return (torch.randint(0, 2, shape, generator=gen) * 2 - 1).to(dtype)


def estimate(draw: Callable[[torch.Generator], np.ndarray], names: tuple[str, ...],
             sizes: tuple[int, ...], settings: HutchinsonSettings, *, progress: bool = False,
             desc: str = "hessian trace") -> TraceEstimate:
    """Run `draw(gen)` (one Rademacher draw -> per-group samples) until the rule says stop."""
    gen = torch.Generator().manual_seed(settings.seed)
    rows: list[np.ndarray] = []
    converged = False
    start = time.perf_counter()
    bar = tqdm(range(settings.max_iters), desc=desc, disable=None if progress else True,
               leave=False)
    off_terminal_line(progress, f"{desc}: up to {settings.max_iters} draws (stops at a "
                                f"relative standard error of {settings.tol:.1%})")
    worst = math.inf
    for k in bar:
        rows.append(np.asarray(draw(gen), dtype=np.float64))
        if k + 1 >= max(settings.min_iters, 2):
            est = TraceEstimate(names, sizes, np.stack(rows), 0.0, False)
            worst = float(np.max(est.relative_stderr()))
            bar.set_postfix(rel_se=f"{worst:.3f}")
            if worst <= settings.tol:
                converged = True
                break
    seconds = time.perf_counter() - start
    off_terminal_line(progress, f"{desc}: {len(rows)} draws in {seconds:.1f} s, worst relative "
                                f"standard error {worst:.1%} "
                                f"({'converged' if converged else 'not converged'})")
    return TraceEstimate(names, sizes, np.stack(rows), seconds, converged)


def warn_if_unconverged(est: TraceEstimate, settings: HutchinsonSettings, what: str) -> None:
    """Say so when `est` stopped at max_iters with the tolerance unmet (cached or fresh)."""
    if est.converged or settings.tol == 0:
        return
    rel = est.relative_stderr()
    worst = int(np.argmax(rel))
    warnings.warn(f"{what}: stopped at max_iters = {settings.max_iters} draws unconverged; "
                  f"{est.names[worst]!r} has a relative standard error of {rel[worst]:.1%} "
                  f"(tol {settings.tol:.1%}). Raise --max-iters (or --tol) for a trustworthy "
                  "ranking.", UnconvergedWarning, stacklevel=3)
