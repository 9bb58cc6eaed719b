"""Fork FIFOs sized from the branch skew (codesign.rtl.latency.fifo_fill): the residual
networks stay bit-exact and cycle-exact under Verilator, with the skip FIFO as deep as
the skew and the long branch's own reader at the minimum depth; and under random
backpressure (stress mode) nothing deadlocks. One build per design, cached."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from codesign.qnet import QuantizedNet
from codesign.rtl.network import MIN_FIFO_DEPTH, plan_network
from codesign.verify.rtlsim import verify_rtl


def _fifos(qnet: QuantizedNet) -> dict[str, int]:
    return {e.name: e.params["DEPTH"] for e in plan_network(qnet).engines if e.kind == "fifo"}


def _check(qnet, built, tmp_path, x, stress: int) -> dict:
    rtl, build_dir = built(qnet, tmp_path)
    r = verify_rtl(qnet, rtl, build_dir, x, mode="timing", work_dir=tmp_path / "t")
    assert r.mismatch is None and r.layer_mismatch is None, r.to_dict()
    assert r.equal == len(x)
    assert r.cycles_equal, (r.predicted, r.measured)
    r2 = verify_rtl(qnet, rtl, build_dir, x[:stress], mode="stress", seed=5,
                    work_dir=tmp_path / "s")
    assert r2.equal == stress, r2.to_dict()
    return r.predicted


@pytest.fixture(scope="module")
def long_branch_qnet() -> QuantizedNet:
    """conv-bn-relu, then a basic block (conv-bn-relu-conv-bn + identity skip, relu) with
    both block convs folded (RF 8 and 12 of 72 terms), a pool and a dense head, on
    8x8x3 random data: a large skew between the skip and the long branch."""
    from codesign.ir import Graph
    from codesign.quant.calibrate import Widths, calibrate_design
    from codesign.zoo import BasicBlock

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          BasicBlock(8), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 16, 4))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    model.eval()
    x = np.random.default_rng(0).uniform(0, 1, (256, 3, 8, 8)).astype(np.float32)
    graph = Graph.from_torch(model, (3, 8, 8))
    design = calibrate_design(graph, x, Widths(6, 6))
    convs = [layer.name for layer in graph.weighted]
    design = design.with_layer(convs[0], reuse=3).with_layer(convs[1], reuse=8)
    design = design.with_layer(convs[2], reuse=12).with_layer(convs[3], reuse=4)
    return QuantizedNet.from_float(graph, design)


def test_long_branch_fifo_depths_and_verilator(long_branch_qnet, built, tmp_path):
    depths = _fifos(long_branch_qnet)
    assert len(depths) == 2
    skip = next(d for n, d in depths.items() if "add" in n)
    direct = next(d for n, d in depths.items() if "add" not in n)
    # the long branch's first conv reads its copy at once; the skip holds the skew: at
    # least the beats the branch's two 3x3 windows look ahead (a row and a pixel each)
    assert direct == MIN_FIFO_DEPTH
    assert skip >= 2 * (8 + 1)
    x = np.random.default_rng(1).uniform(0, 1, (30, 3, 8, 8)).astype(np.float32)
    predicted = _check(long_branch_qnet, built, tmp_path, x, 12)
    assert predicted["interval"] >= 64 * 12  # the RF 12 conv sets the pace


def test_block_ram_fifos_keep_every_cycle(long_branch_qnet, built, tmp_path, monkeypatch):
    """The same network with every fork FIFO in block RAM (cs_fifo BRAM = 1: synchronous
    read, bypass register), as hwrules.fifo_plan puts deep ones: the same values at the
    same edges, also under random backpressure."""
    from codesign import hwrules
    from codesign.rtl import network

    def block(depth, width, device):
        return hwrules.FifoPlan(depth, width, "block", 1, 0, 0, 1)

    monkeypatch.setattr(network, "fifo_plan", block)
    x = np.random.default_rng(2).uniform(0, 1, (20, 3, 8, 8)).astype(np.float32)
    _check(long_branch_qnet, built, tmp_path, x, 10)
    assert (tmp_path / "rtl" / "cs_top.sv").read_text().count(".BRAM(1)") == 2


def test_digits_resnet_verilator(built, digits_data, tmp_path):
    """digits_resnet at 8 bits (RF 1 adder graphs): each block's skip holds its skew, at
    least the two 3x3 windows' look-ahead (a row and a pixel each, 8 and 4 pixels wide)
    and far below the old bound (every beat the engines downstream hold: 136 and 66);
    the conv reading the other copy needs the minimum; still bit- and cycle-exact."""
    from codesign.data import load_dataset
    from codesign.ir import Graph
    from codesign.quant.calibrate import Widths, calibrate_design
    from codesign.train import get_trained

    graph = Graph.from_torch(get_trained("digits_resnet", progress=False), (1, 8, 8))
    design = calibrate_design(graph, load_dataset("digits").x_train[:512], Widths(8, 8),
                              model="digits_resnet")
    qnet = QuantizedNet.from_float(graph, design)
    depths = _fifos(qnet)
    skips = sorted(d for n, d in depths.items() if "add" in n)
    assert sorted(d for n, d in depths.items() if "add" not in n) == [MIN_FIFO_DEPTH] * 2
    assert 2 * (4 + 1) <= skips[0] < 66 // 2 and 2 * (8 + 1) <= skips[1] < 136 // 4
    _check(qnet, built, tmp_path, digits_data.x_test[:60], 20)
