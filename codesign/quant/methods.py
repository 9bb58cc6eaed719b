"""The quantization methods by name: one entry point from the CLI, the bench and the API.

Every method takes the same job (a graph, its torch model, data, the widths a design
fixes) and returns a QuantizedNet on fixed-point types plus its own quantized torch
forward; `verify_export` proves the two equal bit for bit. The widths never change: a
method only chooses where binary points sit and which values the weights take.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from codesign.data import Dataset
from codesign.design import DesignPoint
from codesign.errors import CodesignError
from codesign.fixed import FixedType
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet
from codesign.quant.adaround import adaround
from codesign.quant.calibrate import ACT_MODES, Widths, calibrate_design, calibration_ranges
from codesign.quant.datafree import synthesize_inputs
from codesign.quant.export import TorchForward, export_qnet
from codesign.quant.fxtorch import check_exact, fixed_forward
from codesign.quant.qat import QatNet, TrainSettings, relu_consumers_only, train_qat
from codesign.quant.quantizers import (
    BinaryWeight,
    DorefaWeight,
    LsqQuantizer,
    NoisyWeight,
    Quantizer,
    StaticCast,
    TransitionLsq,
    hwgq_type,
)


@dataclass(frozen=True)
class MethodSettings:
    """Knobs of the methods; the defaults are the bench's full settings."""

    # max | percentile | mse: how ranges (integer bits) are chosen; None: the method's
    # default (max for calibrate and datafree, as `codesign quantize --uniform` always did;
    # mse for adaround and the trained methods, whose starting point it improves)
    calibration: str | None = None
    calib_samples: int = 512
    synthetic: bool = False  # calibrate / adaround on data-free synthetic inputs
    synth_samples: int = 256
    synth_steps: int = 300
    adaround_iters: int = 500
    train: TrainSettings = field(default_factory=TrainSettings)
    noise_sigma: float = 0.5  # noise-injection training: std in units of the weight lsb
    finetune_rounds: int = 1  # binary: rounds of alternating layer-by-layer fine-tuning
    finetune_epochs: int = 2  # binary: epochs per layer per round
    binary_first_last: bool = False  # binary: binarize the first and last layers too


@dataclass(frozen=True, eq=False)
class QuantJob:
    """What a method quantizes, under which widths, for which target."""

    graph: Graph
    data: Dataset
    widths: Widths
    module: nn.Module | None = None  # the torch model (with BatchNorm), for data-free
    base: DesignPoint | None = None  # reuse/multiplier/strategy kept from it
    device: str = "xc7a35t"
    clock_mhz: float = 100.0
    model: str | None = None


@dataclass(frozen=True, eq=False)
class MethodResult:
    method: str
    qnet: QuantizedNet
    forward: TorchForward  # the method's own quantized torch forward, every layer
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)


def qnet_forward(qnet: QuantizedNet) -> TorchForward:
    """The torch fixed-point forward of a QuantizedNet (its real weights)."""
    check_exact(qnet.graph, qnet.design)
    fw = qnet.float_weights()
    weights = {n: torch.tensor(w) for n, (w, _) in fw.items()}
    biases = {n: torch.tensor(b) for n, (_, b) in fw.items()}

    def forward(x: np.ndarray) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            out = fixed_forward(qnet.graph, qnet.design, weights, biases, x, return_all=True)
        assert isinstance(out, dict)
        return out

    return forward


# -- shared steps -------------------------------------------------------------------------
def _calib_inputs(job: QuantJob, s: MethodSettings, progress: bool) -> tuple[np.ndarray, dict]:
    if not s.synthetic:
        return job.data.x_train[: s.calib_samples], {"calibration_data": "real"}
    if job.module is None:
        raise CodesignError("data-free calibration needs the torch model (with BatchNorm)")
    x, loss = synthesize_inputs(job.module, job.graph.input_shape, s.synth_samples,
                                steps=s.synth_steps, seed=s.train.seed, progress=progress)
    return x, {"calibration_data": "synthetic", "bn_statistics_loss": round(loss, 6)}


DEFAULT_CALIBRATION = {"calibrate": "max", "datafree": "max"}


def calibration_for(method: str, s: MethodSettings) -> str:
    return s.calibration or DEFAULT_CALIBRATION.get(method, "mse")


def _calibrate(job: QuantJob, s: MethodSettings, calib_x: np.ndarray) -> DesignPoint:
    act_fn, weight_fn = calibration_ranges(s.calibration or "max")
    return calibrate_design(job.graph, calib_x, job.widths, range_fn=act_fn,
                            weight_range_fn=weight_fn, device=job.device,
                            clock_mhz=job.clock_mhz, model=job.model, base=job.base)


def _result_layers(graph: Graph) -> list[L.Layer]:
    """Layers whose result type a QAT method learns (pools and flatten inherit theirs)."""
    return [layer for layer in graph.layers[1:]
            if isinstance(layer, (L.WeightedLayer, L.ReLU, L.Add))]


def _lsq_acts(graph: Graph, base: DesignPoint, *, offset: bool) -> dict[str, Quantizer]:
    out: dict[str, Quantizer] = {}
    for layer in _result_layers(graph):
        t = base[layer.name].result
        relu_only = offset and t.signed and relu_consumers_only(graph, layer.name)
        # LSQ+ initialises the offset from the tensor's minimum; before a ReLU the minimum
        # that matters is 0, i.e. the unsigned window (same range, half the step).
        step = t.lsb / 2 if relu_only else t.lsb
        out[layer.name] = LsqQuantizer(
            t.width, t.signed, step, weight=False, offset=offset and t.signed,
            allow_unsigned=relu_only,
            init_offset=2.0 ** (t.width - 1) * step if relu_only else 0.0)
    return out


def _lsq_weights(graph: Graph, base: DesignPoint) -> dict[str, Quantizer]:
    out: dict[str, Quantizer] = {}
    for layer in graph.weighted:
        t = base[layer.name].weight
        assert t is not None
        out[layer.name] = LsqQuantizer(t.width, True, t.lsb, weight=True)
    return out


def _hwgq_acts(graph: Graph, base: DesignPoint, calib_x: np.ndarray) -> dict[str, Quantizer]:
    """HWGQ on every weighted result that only feeds ReLUs: an unsigned type (negative
    values saturate to 0, the half wave) with the half-Gaussian-optimal power-of-two step;
    the ReLU after it casts to the same binary point (identity at equal widths)."""
    acts = {k: v.numpy() for k, v in graph.forward(calib_x, return_all=True).items()}
    out: dict[str, Quantizer] = {}
    for layer in graph.weighted:
        if not relu_consumers_only(graph, layer.name):
            continue
        t = hwgq_type(acts[layer.name], base[layer.name].result.width)
        out[layer.name] = StaticCast(t)
        for relu in graph.consumers(layer.name):
            w = base[relu.name].result.width
            out[relu.name] = StaticCast(FixedType(w, w - t.frac, False, **ACT_MODES))
    if not out:
        raise CodesignError("HWGQ quantizes the input of ReLUs, and no weighted layer here "
                            "feeds only ReLUs")
    return out


def _finish(net: QatNet, notes: dict) -> tuple[QuantizedNet, TorchForward, dict]:
    qnet = net.export()
    return qnet, net.own_forward, notes


# -- the methods --------------------------------------------------------------------------
MethodFn = Callable[[QuantJob, MethodSettings, bool], tuple[QuantizedNet, TorchForward, dict]]


def m_calibrate(job: QuantJob, s: MethodSettings, progress: bool):
    calib_x, notes = _calib_inputs(job, s, progress)
    design = _calibrate(job, s, calib_x)
    qnet = QuantizedNet.from_float(job.graph, design)
    return qnet, qnet_forward(qnet), notes


def m_datafree(job: QuantJob, s: MethodSettings, progress: bool):
    return m_calibrate(job, replace(s, synthetic=True), progress)


def m_adaround(job: QuantJob, s: MethodSettings, progress: bool):
    calib_x, notes = _calib_inputs(job, s, progress)
    design = _calibrate(job, s, calib_x)
    weights = adaround(job.graph, design, calib_x, iters=s.adaround_iters, seed=s.train.seed,
                       progress=progress)
    biases = {layer.name: layer.bias for layer in job.graph.weighted}
    qnet = export_qnet(job.graph, design, weights, biases)
    nearest = QuantizedNet.from_float(job.graph, design)
    flipped = sum(int((qnet.weights[n] != nearest.weights[n]).sum()) for n in qnet.weights)
    total = sum(w.size for w in qnet.weights.values())
    return qnet, qnet_forward(qnet), {**notes, "rounded_away_from_nearest": flipped / total}


def _qat(job: QuantJob, s: MethodSettings, progress: bool, name: str,
         build: Callable[[DesignPoint, np.ndarray], tuple[dict, dict]]):
    calib_x, notes = _calib_inputs(job, s, progress)
    base = _calibrate(job, s, calib_x)
    wq, aq = build(base, calib_x)
    net = QatNet(job.graph, base, wq, aq)
    train_qat(net, job.data, s.train, progress=progress, desc=name)
    return net, notes


def m_lsq(job, s, progress):
    net, notes = _qat(job, s, progress, "lsq", lambda base, _: (
        _lsq_weights(job.graph, base), _lsq_acts(job.graph, base, offset=False)))
    return _finish(net, notes)


def m_lsqplus(job, s, progress):
    net, notes = _qat(job, s, progress, "lsqplus", lambda base, _: (
        _lsq_weights(job.graph, base), _lsq_acts(job.graph, base, offset=True)))
    unsigned = [n for n, q in net.aq.items() if getattr(q, "unsigned_snap", False)]
    return _finish(net, {**notes, "offset_unsigned_layers": unsigned})


def m_dorefa(job, s, progress):
    def build(base, _):
        return {layer.name: DorefaWeight(base[layer.name].weight)
                for layer in job.graph.weighted}, {}
    net, notes = _qat(job, s, progress, "dorefa", build)
    return _finish(net, notes)


def m_hwgq(job, s, progress):
    net, notes = _qat(job, s, progress, "hwgq",
                      lambda base, cx: ({}, _hwgq_acts(job.graph, base, cx)))
    return _finish(net, notes)


def m_binary(job, s, progress):
    def build(base, cx):
        weighted = job.graph.weighted
        # Like BWN / XNOR-Net / HWGQ-Net, the first and last layers keep the design's weight
        # type (trained with STE) unless s.binary_first_last; the others go binary.
        keep = set() if s.binary_first_last or len(weighted) < 3 else {
            weighted[0].name, weighted[-1].name}
        wq = {layer.name: BinaryWeight(base[layer.name].weight.width, layer.weight)
              for layer in weighted if layer.name not in keep}
        return wq, _hwgq_acts(job.graph, base, cx)
    net, notes = _qat(job, s, progress, "binary", build)
    # S5: after training the binary model, fine-tune it layer by layer, alternating
    ft = replace(s.train, epochs=s.finetune_epochs, snap_epochs=0, lr=s.train.lr / 2)
    for r in range(s.finetune_rounds):
        for layer in job.graph.weighted:
            train_qat(net, job.data, replace(ft, seed=ft.seed + r), progress=progress,
                      desc=f"binary ft {layer.name}", only=[layer.name])
    binary = [n for n, q in net.wq.items() if isinstance(q, BinaryWeight)]
    return _finish(net, {**notes, "finetune_rounds": s.finetune_rounds,
                         "binary_layers": binary})


def m_noise(job, s, progress):
    def build(base, _):
        wq = {n: NoisyWeight(q, s.noise_sigma) for n, q in _lsq_weights(job.graph, base).items()}
        return wq, _lsq_acts(job.graph, base, offset=False)
    net, notes = _qat(job, s, progress, "noise", build)
    return _finish(net, {**notes, "noise_sigma_lsb": s.noise_sigma})


def m_transition(job, s, progress):
    def build(base, _):
        wq = {layer.name: TransitionLsq(base[layer.name].weight.width,
                                        base[layer.name].weight.lsb)
              for layer in job.graph.weighted}
        return wq, _lsq_acts(job.graph, base, offset=False)
    net, notes = _qat(job, s, progress, "transition", build)
    frozen = {n: round(q.frozen_fraction(), 4) for n, q in net.wq.items()}
    return _finish(net, {**notes, "frozen_fraction": frozen})


METHODS: dict[str, MethodFn] = {
    "calibrate": m_calibrate,
    "datafree": m_datafree,
    "adaround": m_adaround,
    "lsq": m_lsq,
    "lsqplus": m_lsqplus,
    "dorefa": m_dorefa,
    "hwgq": m_hwgq,
    "binary": m_binary,
    "noise": m_noise,
    "transition": m_transition,
}
TRAINED = ("lsq", "lsqplus", "dorefa", "hwgq", "binary", "noise", "transition")


def run_method(name: str, job: QuantJob, settings: MethodSettings | None = None, *,
               progress: bool = False) -> MethodResult:
    """Quantize job with method `name`; the design's notes record the method."""
    fn = METHODS.get(name)
    if fn is None:
        raise CodesignError(f"unknown quantization method {name!r}; choose one of "
                            f"{', '.join(METHODS)}")
    settings = settings or MethodSettings()
    settings = replace(settings, calibration=calibration_for(name, settings))
    start = time.perf_counter()
    threads = torch.get_num_threads()
    # These networks are tiny: one thread is several times faster than two fighting
    # over a loaded machine, and results do not depend on the thread count.
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.train.seed)
            qnet, forward, notes = fn(job, settings, progress)
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - start
    notes = {"method": name, "calibration": settings.calibration, **notes}
    design = replace(qnet.design, notes={**qnet.design.notes, **_plain(notes)})
    qnet = QuantizedNet(qnet.graph, design, qnet.weights, qnet.biases)
    return MethodResult(name, qnet, forward, seconds, notes)


def _plain(notes: dict) -> dict:
    """Notes as YAML-safe plain values."""
    out: dict[str, Any] = {}
    for k, v in notes.items():
        if isinstance(v, dict):
            out[k] = _plain(v)
        elif isinstance(v, (list, tuple)):
            out[k] = [str(i) for i in v]
        elif isinstance(v, (np.floating, float)):
            out[k] = float(v)
        elif isinstance(v, (np.integer, int, bool, str)) or v is None:
            out[k] = v.item() if isinstance(v, np.generic) else v
        else:
            out[k] = str(v)
    return out
