"""Quantizers: learned steps snap to powers of two and then are the hardware cast."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codesign.errors import DesignError
from codesign.fixed import FixedType
from codesign.quant.fxtorch import cast_value
from codesign.quant.quantizers import (
    BinaryWeight,
    DorefaWeight,
    LsqQuantizer,
    NoisyWeight,
    TransitionLsq,
    hwgq_type,
    hwgq_unit_step,
    snap_pow2,
)


def _values(n=4000, scale=3.0):
    rng = np.random.default_rng(0)
    return torch.tensor(rng.standard_normal(n) * scale)


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("weight", [True, False])
def test_snapped_lsq_is_the_fixed_cast(signed, weight) -> None:
    q = LsqQuantizer(4, signed, 0.3, weight=weight)
    v = _values()
    before = q(v)
    assert not torch.equal(before / 0.25, torch.round(before / 0.25))  # step 0.3: off grid
    q.snap()
    t = q.fixed_type()
    assert t.lsb == 0.25 and t.width == 4 and t.signed == signed
    assert torch.equal(q(v), cast_value(v, t))


def test_lsq_step_learns() -> None:
    q = LsqQuantizer(3, True, 1.0, weight=True)
    v = _values(scale=0.2)
    loss = ((q(v) - v) ** 2).sum()
    loss.backward()
    assert q.log_step.grad is not None and q.log_step.grad > 0  # the step is too large


def test_lsqplus_unsigned_window_equals_ufixed_cast() -> None:
    q = LsqQuantizer(3, True, 0.5, weight=False, offset=True, allow_unsigned=True,
                     init_offset=4 * 0.5)
    v = _values()
    q.snap()
    t = q.fixed_type()
    assert t == FixedType(3, 2, False, "RND", "SAT")
    assert torch.equal(q(v), cast_value(v, t))


def test_lsqplus_offset_snaps_to_zero_without_relu() -> None:
    q = LsqQuantizer(3, True, 0.5, weight=False, offset=True, allow_unsigned=False,
                     init_offset=2.0)
    q.snap()
    assert q.fixed_type().signed


@pytest.mark.parametrize("step,k", [(0.3, -2), (0.36, -1), (1.0, 0), (5.0, 2), (6.0, 3)])
def test_snap_pow2(step, k) -> None:
    assert snap_pow2(step) == k


def test_snap_refuses_nonpositive() -> None:
    with pytest.raises(DesignError, match="cannot snap"):
        snap_pow2(0.0)


def test_dorefa_weights_lie_on_the_type_grid() -> None:
    t = FixedType(3, 1, True, "RND_CONV", "SAT")
    w = DorefaWeight(t)(_values(scale=0.5))
    assert torch.equal(w, cast_value(w, t))
    assert len(torch.unique(w)) == 2**3


def test_binary_weights() -> None:
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((4, 3, 3, 3)) * np.array([0.1, 0.2, 0.4, 0.8])[:, None, None, None]
    q = BinaryWeight(4, w0)
    w = q(torch.tensor(w0)).detach().numpy() / q.fixed_type().lsb
    assert np.array_equal(np.sign(w), np.where(w0 >= 0, 1, -1))
    mags = np.abs(w).reshape(4, -1)
    assert np.all(mags == mags[:, :1]) and np.all(mags[:, 0] >= 1)
    assert mags[3, 0] > mags[0, 0]  # per-channel scales kept
    with pytest.raises(DesignError, match="at least 2 bits"):
        BinaryWeight(1, w0)


def test_noise_only_while_training() -> None:
    from codesign.quant.quantizers import StaticCast

    t = FixedType(4, 1, True, "RND_CONV", "SAT")
    q = NoisyWeight(StaticCast(t), 0.5)
    v = _values(scale=0.3)
    q.train()
    noisy = q(v)
    assert not torch.equal(noisy, cast_value(v, t))
    assert 0.3 < float((noisy - cast_value(v, t)).std() / t.lsb) < 0.7
    q.eval()
    assert torch.equal(q(v), cast_value(v, t))


def test_transition_freezes_oscillating_weights() -> None:
    q = TransitionLsq(4, 1.0, momentum=0.9, threshold=0.15)
    q.train()
    base = torch.tensor([0.0, 2.0, 5.0], dtype=torch.float64)
    for i in range(40):  # weight 0 flips between levels 0 and 1, weight 1 drifts once
        v = base + torch.tensor([0.45 if i % 2 else 0.55, 0.1 * (i > 20), 0.0],
                                dtype=torch.float64)
        q(v)
    assert q.frozen.tolist() == [True, False, False]
    q.eval()
    q.snap()
    out = q(torch.tensor([0.9, 2.0, 5.0], dtype=torch.float64))
    assert out[0] in (0.0, 1.0)  # held at its level whatever the latent weight says


def test_hwgq_unit_steps() -> None:
    assert hwgq_unit_step(2) == pytest.approx(0.651, abs=2e-3)
    assert hwgq_unit_step(3) == pytest.approx(0.353, abs=2e-3)


def test_hwgq_type_is_unsigned_power_of_two() -> None:
    x = np.random.default_rng(0).standard_normal(100_000) * 4.0
    t = hwgq_type(x, 2)
    assert not t.signed and t.width == 2
    assert t.lsb == 2.0 ** snap_pow2(0.651 * 4.0)


def test_transition_snap_keeps_frozen_values_and_restarts_tracking() -> None:
    q = TransitionLsq(4, 0.3, momentum=0.9, threshold=0.15)
    q.train()
    for i in range(40):  # weight 0 oscillates between levels 2 and 3 of step 0.3
        q(torch.tensor([0.74 if i % 2 else 0.76, 1.2], dtype=torch.float64))
    assert q.frozen.tolist() == [True, False]
    value = float(q.frozen_level[0]) * 0.3  # what the frozen weight is worth before the snap
    q.snap()  # step 0.3 -> 0.25
    assert q.lsb() == 0.25
    assert float(q.frozen_level[0]) == round(value / 0.25)  # re-rounded, not the old level
    assert q.prev.numel() == 0 and q.transition_rate is None  # tracking restarts
    q(torch.tensor([0.9, 1.2], dtype=torch.float64))
    assert q.frozen.tolist() == [True, False]  # still frozen after the restart
    assert q.transition_rate is None  # the first forward after the snap only records levels
    q(torch.tensor([0.9, 1.4], dtype=torch.float64))
    assert q.transition_rate == 1.0  # of the live weights, the one that moved changed level


def test_transition_rate_scheduler_follows_its_target() -> None:
    from codesign.quant.qat import TransitionRateScheduler

    sch = TransitionRateScheduler(total_iters=100, eta0=0.01, r0=0.02)
    assert sch.target() == pytest.approx(0.02)
    slow = [sch.update(0.0) for _ in range(5)]  # no transitions: the rate must rise
    assert slow == sorted(slow) and slow[-1] > 0.01
    fast = TransitionRateScheduler(total_iters=100, eta0=0.01, r0=0.02)
    etas = [fast.update(0.5) for _ in range(50)]  # far too many: falls to zero, never below
    assert etas[-1] == 0.0 and min(etas) >= 0.0
    sch.it = 100
    assert sch.target() == pytest.approx(0.0, abs=1e-12)


def test_binary_held_scale_learns_and_stays_on_the_grid() -> None:
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((3, 2, 3, 3)) * 0.2
    q = BinaryWeight(4, w0)
    w = torch.tensor(w0, requires_grad=True)
    q.hold_scale(w.detach())
    q.alpha.requires_grad_(True)
    out = q(w)
    assert torch.equal(out, cast_value(out, q.fixed_type()))
    (out * torch.sign(w.detach())).sum().backward()  # loss grows with every magnitude
    assert q.alpha.grad is not None and torch.all(q.alpha.grad > 0)
    assert w.grad is not None  # the signs keep their straight-through gradient


def test_binary_weights_pack_into_one_bit_each() -> None:
    from codesign.errors import DesignError as DE
    from codesign.quant.binary import pack, unpack

    rng = np.random.default_rng(3)
    mags = rng.integers(1, 8, 5)
    m = rng.choice([-1, 1], (5, 3, 3, 3)) * mags[:, None, None, None]
    signs, scales = pack(m)
    assert signs.dtype == np.uint8 and signs.size == -(-m.size // 8)
    assert np.array_equal(unpack(signs, scales, m.shape), m)
    with pytest.raises(DE, match="not binary"):
        pack(np.array([[1, 2], [1, -1]]))
