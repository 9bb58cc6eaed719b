"""Weight and activation quantizers for quantization-aware training, each ending on a
fixed-point type.

A quantizer is an nn.Module: forward(values) gives the quantized values (straight-through
gradients), fixed_type() the FixedType its values lie on once `snapped`, snap() fixes any
learned step to a power of two. Snapped, every forward here is exact in float64 and equal
to the hardware cast to fixed_type() (checked by verify_export for each method):
- a learned step s = 2**-f with round-half-up and clamping to [qn, qp] *is* the cast to
  ap_fixed<W, W-f, AP_RND, AP_SAT> (ap_ufixed when unsigned);
- LSQ+'s learned offset beta can only be 0 (signed type) or 2**(W-1) s, which turns the
  signed window [-2**(W-1), 2**(W-1)-1] into the unsigned one [0, 2**W-1]; the latter is
  offered only where every consumer is a ReLU (the values it clips would be zeroed anyway).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import nn

from codesign.errors import DesignError
from codesign.fixed import FixedType
from codesign.quant.calibrate import ACT_MODES, WEIGHT_MODES
from codesign.quant.fxtorch import cast, ste, ste_round, ste_round_even

Tensor = torch.Tensor


def snap_pow2(step: float) -> int:
    """The exponent k of the power of two 2**k nearest to step (in log scale)."""
    if not step > 0 or not math.isfinite(step):
        raise DesignError(f"cannot snap step {step!r} to a power of two")
    return int(round(math.log2(step)))


def _grad_scale(x: Tensor, scale: float) -> Tensor:
    """x in the forward, gradient scaled by `scale` (LSQ's step-gradient normalisation)."""
    return ste(x, x * scale)


class Quantizer(nn.Module):
    """Base: a quantizer that is already on a fixed type (no learned step)."""

    snapped = True

    def fixed_type(self) -> FixedType:
        raise NotImplementedError

    def snap(self) -> None:
        """Fix learned steps to powers of two (no-op for static quantizers)."""

    def lsb(self) -> float:
        """Current step (the weight-noise unit)."""
        return self.fixed_type().lsb


class StaticCast(Quantizer):
    """The hardware cast to a fixed type, gradient straight through (zero where saturated).
    As a weight quantizer this is plain STE training on calibrated grids; with an
    unsigned type on a pre-ReLU result it is the half-wave quantizer (HWGQ)."""

    def __init__(self, t: FixedType):
        super().__init__()
        self.t = t

    def forward(self, v: Tensor) -> Tensor:
        return cast(v, self.t)

    def fixed_type(self) -> FixedType:
        return self.t


class LsqQuantizer(Quantizer):
    """LSQ (Esser et al. 2020): a learned step s, gradient scaled by 1/sqrt(N * qp).

    offset=True adds LSQ+'s learned offset beta (Bhalgat et al. 2020):
    q = clamp(round((v - beta) / s), qn, qp) * s + beta; see the module doc for how beta
    is snapped. Weights round half to even (RND_CONV), activations half up (RND).
    """

    def __init__(self, width: int, signed: bool, init_step: float, *, weight: bool,
                 offset: bool = False, allow_unsigned: bool = False, init_offset: float = 0.0):
        super().__init__()
        if width < 1:
            raise DesignError(f"LSQ needs a width of at least 1 bit, not {width}")
        self.width, self.signed, self.weight = width, signed, weight
        if not init_step > 0:
            raise DesignError(f"LSQ needs a positive initial step, not {init_step!r}")
        # The step is learned as log2(s): always positive, and Adam's steps are relative
        # changes, the same at 2 bits (s ~ 0.5) as at 8 bits (s ~ 0.01).
        self.log_step = nn.Parameter(torch.tensor(math.log2(init_step), dtype=torch.float64))
        self.offset = (nn.Parameter(torch.tensor(float(init_offset), dtype=torch.float64))
                       if offset else None)
        self.allow_unsigned = allow_unsigned and signed and offset
        self.snapped = False
        self.frac: int | None = None
        self.unsigned_snap = False

    @property
    def step(self) -> Tensor:
        return torch.exp2(self.log_step)

    def bounds(self) -> tuple[float, float]:
        if self.signed and not self.unsigned_snap:
            return -(2.0 ** (self.width - 1)), 2.0 ** (self.width - 1) - 1
        return 0.0, 2.0**self.width - 1

    def _round(self, v: Tensor) -> Tensor:
        return ste_round_even(v) if self.weight else ste_round(v)

    def levels(self, v: Tensor) -> Tensor:
        """Integer levels (straight-through) of v under the current step."""
        qn, qp = self.bounds()
        if self.snapped:
            return self._round(torch.clamp(v * 2.0**self.frac, qn, qp))
        n = v.numel() if self.weight else v[0].numel()
        s = _grad_scale(self.step, 1.0 / math.sqrt(n * max(qp, 1.0)))
        shifted = v - self.offset if self.offset is not None else v
        return self._round(torch.clamp(shifted / s, qn, qp))

    def scale_levels(self, q: Tensor, v: Tensor) -> Tensor:
        if self.snapped:
            return q * 2.0 ** -self.frac
        n = v.numel() if self.weight else v[0].numel()
        _, qp = self.bounds()
        s = _grad_scale(self.step, 1.0 / math.sqrt(n * max(qp, 1.0)))
        out = q * s
        return out + self.offset if self.offset is not None else out

    def forward(self, v: Tensor) -> Tensor:
        return self.scale_levels(self.levels(v), v)

    def snap(self) -> None:
        if self.snapped:
            return
        self.frac = -int(round(float(self.log_step.detach())))  # nearest power of two
        if self.offset is not None:
            beta = float(self.offset.detach()) / (2.0**-self.frac)  # in steps
            # nearest representable offset: 0, or 2**(W-1) steps (the unsigned window)
            self.unsigned_snap = self.allow_unsigned and beta > 2.0 ** (self.width - 2)
        self.log_step.requires_grad_(False)
        if self.offset is not None:
            self.offset.requires_grad_(False)
        self.snapped = True

    def fixed_type(self) -> FixedType:
        if not self.snapped or self.frac is None:
            raise DesignError("an LSQ quantizer has a fixed type only after snap()")
        signed = self.signed and not self.unsigned_snap
        modes = WEIGHT_MODES if self.weight else ACT_MODES
        return FixedType(self.width, self.width - self.frac, signed, **modes)

    def lsb(self) -> float:
        return 2.0**-self.frac if self.snapped else float(self.step.detach())


class TransitionLsq(LsqQuantizer):
    """LSQ on weights that watches rounding transitions (S4).

    Transitions: a weight transits when its integer level changes between two training
    iterations, whether its latent value or the step moved. The quantizer measures the
    transition rate of its layer at every training forward (`transition_rate`, the fraction
    of the layer's weights that changed level since the previous one); train_qat's
    transition-rate scheduler (qat.TransitionRateScheduler, after Lee et al.'s TR
    scheduling) adapts the layer's learning rate, step included, so that this rate follows
    a decaying target instead of whatever the learning rate and the weights' closeness to
    transition points happen to give.

    Oscillations: per weight an exponential average counts level changes whose direction
    reverses the previous change (the weight sits on a transition point and flips back
    and forth). A weight oscillating more often than `threshold` only adds noise to the
    step's gradient and the loss, so it is frozen at its average level (Nagel et al.
    2022's oscillation dampening); the step keeps learning from the rest.

    At snap() the step jumps to the nearest power of two: frozen weights keep their real
    value (level * old step, re-rounded onto the new grid, not the old level on the new
    step), and the tracking restarts, since levels before and after mean different
    values.
    """

    def __init__(self, width: int, init_step: float, *, momentum: float = 0.99,
                 threshold: float = 0.02):
        super().__init__(width, True, init_step, weight=True)
        self.momentum, self.threshold = momentum, threshold
        for name in ("freq", "ema", "prev", "direction", "frozen_level"):
            self.register_buffer(name, torch.zeros(0, dtype=torch.float64))
        self.register_buffer("frozen", torch.zeros(0, dtype=torch.bool))
        self.transition_rate: float | None = None  # of the last training forward

    def forward(self, v: Tensor) -> Tensor:
        q = self.levels(v)
        if self.training:
            self._track(q.detach())
        if self.frozen.numel():
            q = torch.where(self.frozen, self.frozen_level, q)
        return self.scale_levels(q, v)

    def _reset_tracking(self, q: Tensor) -> None:
        self.prev, self.ema = q.clone(), q.clone()
        self.freq, self.direction = torch.zeros_like(q), torch.zeros_like(q)
        self.transition_rate = None

    def _track(self, q: Tensor) -> None:
        if self.frozen.numel() != q.numel():  # first forward
            self.frozen = torch.zeros_like(q, dtype=torch.bool)
            self.frozen_level = torch.zeros_like(q)
            self._reset_tracking(q)
            return
        if self.prev.numel() != q.numel():  # first forward after snap()
            self._reset_tracking(q)
            return
        m = self.momentum
        change = torch.sign(q - self.prev)
        live = ~self.frozen
        self.transition_rate = (float(((change != 0) & live).sum() / live.sum())
                                if live.any() else 0.0)
        oscillated = (change != 0) & (change == -self.direction)
        self.direction = torch.where(change != 0, change, self.direction)
        self.freq = m * self.freq + (1 - m) * oscillated.to(q.dtype)
        self.ema = m * self.ema + (1 - m) * q
        self.prev = q.clone()
        newly = (self.freq > self.threshold) & ~self.frozen
        if newly.any():
            qn, qp = self.bounds()
            self.frozen_level = torch.where(newly, torch.round(self.ema).clamp(qn, qp),
                                            self.frozen_level)
            self.frozen = self.frozen | newly

    def snap(self) -> None:
        if self.snapped:
            return
        old_step = float(self.step.detach())
        super().snap()
        if self.frozen.numel():
            qn, qp = self.bounds()
            value = self.frozen_level * old_step  # what the frozen weights are worth
            self.frozen_level = torch.round(value * 2.0**self.frac).clamp(qn, qp)
        if self.prev.numel():
            # levels now count steps of 2**-frac: restart from the frozen levels' view
            self._reset_tracking(torch.zeros(0, dtype=torch.float64))

    def frozen_fraction(self) -> float:
        return float(self.frozen.double().mean()) if self.frozen.numel() else 0.0


class DorefaWeight(Quantizer):
    """DoReFa weights (Zhou et al. 2016): w_n = tanh(w) / max|tanh(w)| in [-1, 1], scaled
    to the calibrated power-of-two range of the layer's weight type and cast onto its grid
    (DoReFa's own levels (2i - 2**k + 1)/(2**k - 1) are not on a binary grid)."""

    def __init__(self, t: FixedType):
        super().__init__()
        self.t = t

    def forward(self, w: Tensor) -> Tensor:
        th = torch.tanh(w)
        wn = th / th.abs().max().clamp_min(1e-12)
        return cast(wn * 2.0 ** (self.t.integer - 1), self.t)

    def fixed_type(self) -> FixedType:
        return self.t


class BinaryWeight(Quantizer):
    """Binary weights with a per-output-channel scale (BWN; S5): w_q = sign(w) * alpha_c.

    While the binary model is first trained, alpha_c = mean |w_c| (BWN's closed form, no
    gradient). `hold_scale()` turns alpha into a parameter of its own, set from the current
    weights, so that S5's alternating fine-tuning can update a layer's signs with the
    scale held, then the scale with the signs held.

    Fixed point: alpha_c is cast onto the weight type's grid (at least one lsb), and the
    hardware sees mantissas +-m_c per channel on a W-bit type whose power-of-two range
    covers the largest alpha; stored, that is one sign bit per weight plus one (W-1)-bit
    m_c per channel (codesign.quant.binary packs it). At W = 2 every m_c is 1 (a per-layer
    power-of-two scale); wider types resolve alpha more finely. W = 1 cannot hold +1.
    """

    def __init__(self, width: int, w_init: np.ndarray):
        super().__init__()
        if width < 2:
            raise DesignError(f"binary weights with a scale need a weight width of at least 2 "
                              f"bits to hold +-alpha, not {width}")
        alpha = np.abs(w_init).reshape(w_init.shape[0], -1).mean(axis=1)
        top = float(alpha.max()) if alpha.size else 1.0
        # smallest power-of-two range whose max_value holds the largest alpha
        max_int = 2 ** (width - 1) - 1
        frac = math.floor(math.log2(max_int / top)) if top > 0 else 0
        self.t = FixedType(width, width - frac, True, **WEIGHT_MODES)
        self.alpha = nn.Parameter(torch.tensor(alpha, dtype=torch.float64),
                                  requires_grad=False)
        self.learned_scale = False

    def hold_scale(self, w: Tensor) -> None:
        """Make alpha a parameter, starting from the closed form on the current weights."""
        with torch.no_grad():
            self.alpha.copy_(w.abs().reshape(w.shape[0], -1).mean(dim=1))
        self.learned_scale = True

    def forward(self, w: Tensor) -> Tensor:
        shape = (-1,) + (1,) * (w.ndim - 1)
        if self.learned_scale:
            alpha = self.alpha
        else:
            alpha = w.detach().abs().reshape(w.shape[0], -1).mean(dim=1)
        alpha_q = cast(alpha, self.t).clamp_min(self.t.lsb).reshape(shape)
        sign = torch.where(w >= 0, 1.0, -1.0).to(w.dtype)
        # value: sign * alpha_q exactly; gradient: straight through to w inside the
        # representable range, and through the cast to a learned alpha
        surrogate = w.clamp(-self.t.max_value, self.t.max_value)
        return sign * alpha_q + (surrogate - surrogate.detach())

    def fixed_type(self) -> FixedType:
        return self.t


class NoisyWeight(Quantizer):
    """Noise injection (S1): while training, add Gaussian noise of standard deviation
    sigma * (the layer's weight lsb) to the quantized weights; none in eval."""

    def __init__(self, inner: Quantizer, sigma: float):
        super().__init__()
        self.inner, self.sigma = inner, sigma

    @property
    def snapped(self) -> bool:  # type: ignore[override]
        return self.inner.snapped

    def forward(self, w: Tensor) -> Tensor:
        q = self.inner(w)
        if self.training and self.sigma > 0:
            q = q + torch.randn_like(q) * (self.sigma * self.inner.lsb())
        return q

    def snap(self) -> None:
        self.inner.snap()

    def fixed_type(self) -> FixedType:
        return self.inner.fixed_type()

    def lsb(self) -> float:
        return self.inner.lsb()


# -- HWGQ ---------------------------------------------------------------------------------
@functools.cache
def hwgq_unit_step(bits: int) -> float:
    """Step of the uniform half-wave Gaussian quantizer for N(0, 1) (Cai et al. 2017):
    levels {0, D, ..., (2**bits - 1) D}, D minimising the mean square error over the
    positive half of a unit Gaussian with round-to-nearest thresholds (the hardware's RND
    cast): 0.651 at 2 bits, 0.353 at 3 bits (a Monte Carlo search agrees). Cached."""
    from scipy import integrate, optimize, stats

    levels = 2**bits - 1

    def mse(d: float) -> float:
        def err(x: float) -> float:
            q = min(math.floor(x / d + 0.5), levels) * d
            return (x - q) ** 2 * stats.norm.pdf(x)
        points = [d * (i + 0.5) for i in range(levels)]
        return integrate.quad(err, 0, 12, points=points, limit=400)[0]

    res = optimize.minimize_scalar(mse, bounds=(1e-3, 4.0), method="bounded",
                                   options={"xatol": 1e-6})
    return float(res.x)


def hwgq_type(preact: np.ndarray, width: int) -> FixedType:
    """The unsigned W-bit type of the HWGQ quantizer for a pre-activation: step
    D*(W) * sigma with sigma from the positive half (E[x^2 | x > 0] = sigma^2 for a
    centred Gaussian), snapped to the nearest power of two."""
    pos = preact[preact > 0]
    sigma = float(np.sqrt(np.mean(pos.astype(np.float64) ** 2))) if pos.size else 1.0
    frac = -snap_pow2(hwgq_unit_step(width) * sigma)
    return FixedType(width, width - frac, False, **ACT_MODES)
