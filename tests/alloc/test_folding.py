"""Reuse candidates reach a layer's terms per output, follow a throughput target, and every
one of them is a design the RTL planner (what cost, rtl and synth read) accepts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codesign.alloc.folding import (
    interval_for_fps,
    multiplier_rfs,
    parse_reuse,
    reuse_options,
    slowest_fitting_rf,
)
from codesign.errors import CodesignError
from codesign.ir import layers as L
from codesign.rtl.network import plan_network, plan_timing


@pytest.fixture(scope="module")
def zoo_graph():
    from functools import cache

    from codesign.models import load_model

    return cache(lambda name: load_model(name, trained=False, progress=False).graph())


@pytest.fixture(scope="module")
def digits():
    from codesign.data import load_dataset

    return load_dataset("digits")


@pytest.mark.parametrize("terms", [1, 5, 9, 27, 72, 144, 288])
def test_each_rf_is_the_smallest_for_its_multipliers(terms):
    rfs = multiplier_rfs(terms)
    assert rfs[0] == 1 and rfs[-1] == terms
    for rf in rfs:  # no larger RF is worth it: the same multipliers, more cycles
        assert math.ceil(terms / math.ceil(terms / rf)) == rf


def _cycles(graph, name, rf):
    plan = plan_timing(graph, {name: rf})
    return next(e for e in plan.engines if name in e.layers).cycles_per_image()


@pytest.mark.parametrize("model", ["digits_cnn", "digits_resnet"])
@pytest.mark.parametrize("interval", [300, 900, 5000])
def test_options_meet_the_target_and_are_not_needlessly_fast(zoo_graph, model, interval):
    graph = zoo_graph(model)
    options = reuse_options(graph, interval=interval)
    for layer in graph:
        if not isinstance(layer, L.WeightedLayer):
            continue
        fit = slowest_fitting_rf(graph, layer, interval)
        if fit is None:
            assert options[layer.name] == (1,)
            continue
        assert _cycles(graph, layer.name, fit) <= interval
        assert fit == layer.terms or _cycles(graph, layer.name, fit + 1) > interval
        rfs = options[layer.name]
        assert 1 in rfs and max(rfs) <= fit and len(rfs) <= 5
        assert all(_cycles(graph, layer.name, r) <= interval for r in rfs)
        # the slowest candidate uses as few multipliers as meeting the target allows
        assert math.ceil(layer.terms / max(rfs)) == math.ceil(layer.terms / fit)


def test_every_auto_candidate_is_planned_by_the_back_end(zoo_graph, digits):
    """The allocator's and the planner's rules agree: a design at any candidate RF of any
    layer is one `codesign rtl`, `cost` and `synth` plan (issue 21: RF 32 over 27 terms)."""
    from codesign.qnet import QuantizedNet
    from codesign.quant.calibrate import Widths, calibrate_design

    for model in ("digits_cnn", "digits_resnet"):
        graph = zoo_graph(model)
        base = calibrate_design(graph, digits.x_train[:64], Widths(4, 4))
        for name, rfs in reuse_options(graph).items():
            assert max(rfs) == graph[name].terms  # folding reaches the terms per output
            for rf in rfs:
                design = base.with_layer(name, reuse=rf)
                plan = plan_network(QuantizedNet.from_float(graph, design))
                engine = next(e for e in plan.engines if name in e.layers)
                assert engine.timing["RF"] == rf


def test_reuse_and_fps_parsing():
    assert parse_reuse("auto") == "auto" and parse_reuse("1,4,2") == [1, 4, 2]
    for bad in ("", "0,2", "x"):
        with pytest.raises(CodesignError, match="'auto' or positive integers"):
            parse_reuse(bad)
    assert interval_for_fps(5000, 100.0) == 20000
    with pytest.raises(CodesignError, match="--fps must be positive"):
        interval_for_fps(0, 100.0)


def test_an_explicit_list_is_cut_to_each_layers_terms(zoo_graph):
    graph = zoo_graph("digits_cnn")
    options = reuse_options(graph, [1, 2, 16, 64])
    for name, rfs in options.items():
        assert rfs == tuple(r for r in (1, 2, 16, 64) if r <= graph[name].terms)
    assert np.all([max(r) <= graph[n].terms for n, r in options.items()])
