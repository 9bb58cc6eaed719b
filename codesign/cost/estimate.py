"""The estimate of one whole design, in the fields `codesign synth` prints.

estimate_structural (the default of `codesign cost`, and what the allocator's candidate
costs follow: codesign.alloc.layercost): the RTL plan, engine by engine
(codesign.cost.structural). estimate_design (`codesign cost --fast`, a first screen):
every layer through the fast model at the widths, reuse and multiplier style its
DesignPoint gives, summed into the network's totals. Both give the exact closed-form latency and
interval of the whole network (in the fast rows, a layer's latency is its share along
the critical path; the shares add up to the total)."""

from __future__ import annotations

from typing import Any

from codesign.cost.bands import bands
from codesign.cost.fast import FastCostModel, fit_file
from codesign.cost.report import BUDGETED, fit_info, over_budget, utilization
from codesign.design import is_lossless_accum
from codesign.devices import Device
from codesign.ir import layers as L
from codesign.qnet import QuantizedNet
from codesign.rtl.network import plan_network


def layer_args(qnet: QuantizedNet, layer: L.Layer) -> tuple[int, int, int, int, bool]:
    """(w_bits, x_bits, out_bits, reuse, dsp) of a layer as its DesignPoint builds it."""
    d = qnet.design
    if layer is qnet.graph.input:  # no DesignPoint entry: it reads d.input
        return 0, d.input.width, d.input.width, 1, False
    impl = d[layer.name]
    w_bits = impl.weight.width if impl.weight is not None else 0
    return (w_bits, d.type_of(layer.inputs[0]).width, impl.result.width, impl.reuse,
            impl.multiplier == "dsp")


def accum_args(qnet: QuantizedNet, layer: L.Layer) -> dict:
    """The accumulator a weighted layer's DesignPoint fixes (width, lossy or not)."""
    if not isinstance(layer, L.WeightedLayer):
        return {}
    impl = qnet.design[layer.name]
    assert impl.accum is not None
    x = qnet.design.type_of(layer.inputs[0])
    return {"accum_bits": impl.accum.width,
            "lossy": not is_lossless_accum(impl, x, layer.terms)}


def estimate_design(qnet: QuantizedNet, device: Device) -> dict[str, Any]:
    """Per-layer rows and totals (the fields `codesign synth` reports)."""
    g = qnet.graph
    model = FastCostModel(g, device)
    cycles = model.network_cycles({layer.name: qnet.design[layer.name].reuse
                                   for layer in g.weighted})
    rows = []
    for layer in g.layers:
        w_bits, x_bits, out_bits, reuse, dsp = layer_args(qnet, layer)
        c = model.layer_costs(layer.name, w_bits, x_bits, out_bits, reuse, dsp,
                              **accum_args(qnet, layer))
        weighted = isinstance(layer, L.WeightedLayer)
        rows.append({"layer": layer.name, "kind": layer.kind, "w_bits": w_bits or None,
                     "x_bits": x_bits, "out_bits": out_bits,
                     "reuse": reuse if weighted else None,
                     "multiplier": ("dsp" if dsp else "lut") if weighted else None,
                     **{k: int(round(float(v))) for k, v in c.items()},
                     "latency": cycles["layers"][layer.name]})
    totals: dict[str, Any] = {k: sum(r[k] for r in rows) for k in BUDGETED}
    fit = fit_file()
    util = utilization(totals, device)
    return {"source": "estimate", "model": "fast", "device": device.part,
            "family": device.family, **totals,
            "carry": None, "srl": None, "lutram": None,
            "latency": cycles["latency"], "interval": cycles["interval"],
            "utilization": util, "warnings": over_budget(util),
            "fit": fit_info(fit, device.family),
            "band": bands("fast", device.family, totals),
            "layers": rows}


def estimate_structural(qnet: QuantizedNet, device: Device) -> dict[str, Any]:
    """Per-engine rows and totals from the RTL plan (codesign.cost.structural); cycles
    from the closed form of the same plan (codesign.rtl.latency.network_timing, equal to the
    handshake simulation and to Verilator)."""
    from codesign.cost import structural as st
    from codesign.rtl.latency import network_timing

    qnet = st.on_device(qnet, device)
    plan = plan_network(qnet)
    rows = []
    totals: dict[str, Any] = {}
    for e, s in st.plan_structures(qnet, plan, device):
        r = st.resources(s, device)
        for k, v in r.items():  # the totals are the rows' sums (each row rounds its own)
            totals[k] = totals.get(k, 0) + v
        rows.append({"layer": "+".join(e.layers), "engine": e.name, "module": e.module,
                     "reuse": e.timing.get("RF"), **r, "interval": e.cycles_per_image()})
    timing = network_timing(plan, 2).summary()
    util = utilization(totals, device)
    fit = st.fit_file()
    return {"source": "estimate", "model": "structural", "device": device.part,
            "family": device.family, **totals,
            "latency": timing["latency"], "interval": timing["interval"],
            "utilization": util, "warnings": over_budget(util),
            "fit": fit_info(fit, device.family),
            "band": bands("structural", device.family, totals),
            "layers": rows}
