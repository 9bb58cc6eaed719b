"""Every stage decides every layer kind: a rule, or a stated reason it never sees it.

A new kind in codesign.ir.layers.LAYER_KINDS fails here with the list of registries that
lack it (docs/contributing.md: "Adding a layer kind").
"""

from __future__ import annotations

import importlib
import re

import numpy as np
import pytest

from codesign.errors import UnsupportedLayerError
from codesign.ir import layers as L
from codesign.ir.registry import REGISTRIES, LayerRegistry

STAGE_MODULES = [  # every module that holds a registry (imported: they register on import)
    "codesign.bitaccurate",
    "codesign.quant.fxtorch",
    "codesign.quant.calibrate",
    "codesign.quant.export",
    "codesign.cost.ranges",
    "codesign.design",
    "codesign.cost.fast",
    "codesign.alloc.candidates",
    "codesign.alloc.layercost",
    "codesign.rtl.network",
    "codesign.hls.config",
    "codesign.hls.checks",
    "codesign.hls.module",
]


def _registries() -> list[LayerRegistry]:
    for name in STAGE_MODULES:
        importlib.import_module(name)
    return [r for r in REGISTRIES if r.home in STAGE_MODULES]


def test_every_registry_decides_every_kind():
    missing = [f"{r.stage} ({r.home}): {cls.__name__}"
               for r in _registries() for cls in L.LAYER_KINDS.values() if not r.decides(cls)]
    assert not missing, "registries without a rule or a reason for:\n" + "\n".join(missing)


def test_every_stage_module_holds_a_registry():
    homes = {r.home for r in _registries()}
    assert sorted(set(STAGE_MODULES) - homes) == []


def test_a_layer_without_a_rule_is_refused_by_name():
    reg: LayerRegistry = LayerRegistry("the test stage", "tests.test_registries")
    REGISTRIES.remove(reg)
    reg.add(L.Pool2d, "pool")
    reg.skip(L.BatchNorm, "folded into the conv before quantization")
    pool = L.MaxPool2d("p1", ("x",), (1, 2, 2), kernel=(2, 2), stride=(2, 2))
    assert reg(pool) == "pool"  # a subclass takes its base's rule
    relu = L.ReLU("act3", ("x",), (4,))
    with pytest.raises(UnsupportedLayerError, match=r"the test stage .* relu .*'act3'.*"
                                                     r"tests\.test_registries"):
        reg(relu)
    bn = L.BatchNorm("bn", ("x",), (4,), scale=np.ones(4), shift=np.zeros(4))
    with pytest.raises(UnsupportedLayerError, match="folded into the conv"):
        reg(bn)
    with pytest.raises(ValueError, match="twice"):
        reg.add(L.Pool2d, "again")


def test_every_registry_refuses_an_unknown_kind_by_name_and_home():
    """A kind no stage knows yet: each stage's lookup names the layer, and the module
    where its rule goes, instead of failing deep inside."""

    class Sigmoid(L.Layer):
        kind = "sigmoid"

    layer = Sigmoid("sig4", ("x",), (4,))
    for reg in _registries():
        with pytest.raises(UnsupportedLayerError, match=rf"^{re.escape(reg.stage)} has no "
                           rf"rule for sigmoid layers \('sig4'\) \(add a rule in "
                           rf"{re.escape(reg.home)}\)"):
            reg(layer)
