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

The default estimator (`gauss-newton`, gaussnewton.py) draws unbiased samples of the same
isolated traces Tr(H_ll) for every layer from one backward per batch, with no double
backprop and with vectors in each sample's output space (far less variance); it is exact
for the piecewise-linear layers the IR has. `hvp` keeps the double-backprop
products above (the reference, and the fallback for a layer kind that is not piecewise
linear); `auto` picks gauss-newton wherever it is exact.

Each group stops on its own once its standard error is below `tol` times its magnitude
(after at least `min_iters` draws): later draws skip it where that saves work (isolated
hvp draws; a draw that serves every group at once keeps them all), and the estimate
stops when every group has, or at `max_iters`; stopping there with `tol` > 0 unmet raises
an UnconvergedWarning naming the worst group (tol = 0 asks for exactly max_iters draws).
A skipped sample is NaN; each group's mean and standard error are over its own draws.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from codesign.errors import CodesignError
from codesign.progress import off_terminal_line

ESTIMATORS = ("auto", "gauss-newton", "hvp")


class UnconvergedWarning(UserWarning):
    """A trace estimate stopped at max_iters before its standard error reached tol."""


@dataclass(frozen=True)
class HutchinsonSettings:
    """How hard to look. Defaults: per-layer relative std across seeds 0.7% (digits_cnn),
    1.2% (digits_wide) with Gauss-Newton draws, 1.8% and 3.9% with isolated hvp draws
    (bench/sensitivity.py --seeds 5); target <= 5%."""

    min_iters: int = 20  # draws before the stopping rule is consulted
    max_iters: int = 200  # hard cap on draws (each costs one Hessian-vector product per batch)
    tol: float = 0.025  # stop when every layer's standard error <= tol * |trace|
    batches: int = 8  # batches of data the loss (and so the Hessian) is averaged over
    batch_size: int = 64
    seed: int = 0  # seeds the Rademacher draws
    isolate: bool = True  # hvp weight draws: one product per layer, no cross-layer noise
    estimator: str = "auto"  # gauss-newton | hvp | auto (gauss-newton wherever it is exact)
    threads: int = 1  # torch intra-op threads for the draws: on a busy 2-core machine a
    # second, spinning OpenMP thread made digits_cnn's draws 13x slower (as train.py found)

    def __post_init__(self) -> None:
        for key in ("min_iters", "max_iters", "batches", "batch_size", "threads"):
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
        if self.estimator not in ESTIMATORS:
            raise CodesignError(f"estimator must be one of {', '.join(ESTIMATORS)}, not "
                                f"{self.estimator!r}")
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
    samples: np.ndarray  # (draws, groups): v_l^T (H v)_l per draw, NaN once l had stopped
    seconds: float
    converged: bool
    estimator: str = ""  # the one that drew the samples (gauss-newton or hvp)

    @property
    def iterations(self) -> int:
        return int(self.samples.shape[0])

    @property
    def draws(self) -> np.ndarray:
        """Draws each group's estimate rests on (fewer than `iterations` once it stopped)."""
        return np.sum(np.isfinite(self.samples), axis=0)

    @property
    def trace(self) -> np.ndarray:
        return np.nansum(self.samples, axis=0) / np.maximum(self.draws, 1)

    @property
    def stderr(self) -> np.ndarray:
        k = self.draws
        dev = np.where(np.isfinite(self.samples), self.samples - self.trace, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.sum(dev ** 2, axis=0) / (k - 1)
            return np.where(k >= 2, np.sqrt(var / k), np.inf)

    @property
    def per_element(self) -> np.ndarray:
        """Average trace per parameter (S1's sensitivity)."""
        return self.trace / np.asarray(self.sizes, dtype=np.float64)

    def relative_stderr(self) -> np.ndarray:
        mean, se = np.abs(self.trace), self.stderr
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(mean > 0, se / mean, np.where(se == 0, 0.0, np.inf))

    def convergence(self) -> dict[str, dict[str, float | int]]:
        """Per group: the draws it took and its relative standard error (what the table and
        the JSON report, so a reader can judge the ranking)."""
        rel = self.relative_stderr()
        return {n: {"draws": int(k), "relative_stderr": float(r)}
                for n, k, r in zip(self.names, self.draws, rel, strict=True)}


def rademacher(shape: tuple[int, ...], gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    return (torch.randint(0, 2, shape, generator=gen) * 2 - 1).to(dtype)


Draw = Callable[[torch.Generator, np.ndarray], np.ndarray]


def estimate(draw: Draw, names: tuple[str, ...], sizes: tuple[int, ...],
             settings: HutchinsonSettings, *, progress: bool = False,
             desc: str = "hessian trace", estimator: str = "") -> TraceEstimate:
    """Run `draw(gen, active)` (one Rademacher draw -> per-group samples; it may return NaN
    for groups not `active` where skipping them saves work) until every group met the
    rule, or max_iters."""
    gen = torch.Generator().manual_seed(settings.seed)
    rows: list[np.ndarray] = []
    active = np.ones(len(names), dtype=bool)
    start = time.perf_counter()
    bar = tqdm(range(settings.max_iters), desc=desc, disable=None if progress else True,
               leave=False)
    off_terminal_line(progress, f"{desc}: up to {settings.max_iters} draws (each layer stops "
                                f"at a relative standard error of {settings.tol:.1%})")
    est = TraceEstimate(names, sizes, np.zeros((0, len(names))), 0.0, False, estimator)
    for _ in bar:
        with torch_threads(settings.threads):
            row = np.asarray(draw(gen, active.copy()), dtype=np.float64)
        rows.append(row)  # a draw that serves every layer at once keeps them all
        est = TraceEstimate(names, sizes, np.stack(rows), 0.0, False, estimator)
        done = (est.draws >= max(settings.min_iters, 2)) & (est.relative_stderr()
                                                             <= settings.tol)
        active &= ~done
        bar.set_postfix(rel_se=f"{float(np.max(est.relative_stderr())):.3f}",
                        open=int(active.sum()))
        if not active.any():
            break
    est = TraceEstimate(names, sizes, est.samples, time.perf_counter() - start,
                        not active.any(), estimator)
    off_terminal_line(progress, f"{desc}: {summary(est)}")
    return est


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op thread count set for the block, restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def summary(est: TraceEstimate) -> str:
    """One line: draws, time, the worst group's relative standard error, converged or not."""
    rel = est.relative_stderr()
    worst = int(np.argmax(rel))
    k = est.draws
    spread = f"{k.min()}-{k.max()}" if k.min() != k.max() else f"{k.max()}"
    return (f"{est.iterations} draws ({spread} per layer) in {est.seconds:.1f} s"
            f"{f' by {est.estimator}' if est.estimator else ''}, worst relative standard "
            f"error {rel[worst]:.1%} ({est.names[worst]}) "
            f"({'converged' if est.converged else 'not converged'})")


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
