"""Random networks (residual adds, avg/max pools, strides, padding, lossy accumulators,
every rounding and overflow mode, random RF and multiplier styles): bit-exact and
cycle-exact under Verilator, one build each."""

from __future__ import annotations

import pytest

from codesign.rtlsim import verify_rtl

from .randnet import random_qnet


@pytest.mark.parametrize("seed,residual", [(3, True), (11, False), (5, False)])
def test_random_network(seed, residual, built, tmp_path):
    qnet, x = random_qnet(seed, residual)
    rtl, build_dir = built(qnet, tmp_path)
    r = verify_rtl(qnet, rtl, build_dir, x[:120], mode="timing", work_dir=tmp_path / "t")
    assert r.mismatch is None and r.layer_mismatch is None, r.to_dict()
    assert r.equal == 120
    assert r.cycles_equal, (r.predicted, r.measured)
    if residual:
        r = verify_rtl(qnet, rtl, build_dir, x[:40], mode="stress", seed=seed,
                       work_dir=tmp_path / "s")
        assert r.equal == 40, r.to_dict()
