"""Random networks (residual adds, avg/max pools, strides, padding, lossy accumulators,
every rounding and overflow mode, random RF and multiplier styles; and networks whose
every conv/dense is an adder graph with binary, ternary or wider weights and all-zero
channels; seed 41's last layer wraps its result, so its adders keep only the bits the
cast reads): bit-exact and cycle-exact under Verilator, one build each."""

from __future__ import annotations

import pytest

from codesign.verify.rtlsim import verify_rtl

from .randnet import random_qnet


@pytest.mark.parametrize("seed,residual,graphs", [(3, True, False), (11, False, False),
                                                  (5, False, False), (21, True, True),
                                                  (22, False, True), (41, False, True)])
def test_random_network(seed, residual, graphs, built, tmp_path):
    qnet, x = random_qnet(seed, residual, graphs)
    if graphs:  # every weighted layer became an adder graph
        from codesign.rtl.network import plan_network

        kinds = {e.module for e in plan_network(qnet).engines}
        assert "cs_graph_engine" in kinds and "cs_mac_engine" not in kinds
        narrowed = [a for e in plan_network(qnet).engines if e.graph for a in e.graph.adders
                    if a.keep]
        assert bool(narrowed) == (seed == 41)
    rtl, build_dir = built(qnet, tmp_path)
    r = verify_rtl(qnet, rtl, build_dir, x[:120], mode="timing", work_dir=tmp_path / "t")
    assert r.mismatch is None and r.layer_mismatch is None, r.to_dict()
    assert r.equal == 120
    assert r.cycles_equal, (r.predicted, r.measured)
    if residual:
        r = verify_rtl(qnet, rtl, build_dir, x[:40], mode="stress", seed=seed,
                       work_dir=tmp_path / "s")
        assert r.equal == 40, r.to_dict()
