"""The quantization methods by name: one entry point from the CLI, the bench and the API.

Every method takes the same job (a graph, its torch model, data, the widths a design
fixes) and returns a QuantizedNet on fixed-point types plus its own quantized torch
forward; `verify_export` proves the two equal bit for bit. The widths never change: a
method only chooses where binary points sit and which values the weights take.
"""

from __future__ import annotations

import math
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
from codesign.param_limits import check_param_types, check_weight_widths
from codesign.qnet import QuantizedNet
from codesign.quant.adaround import DEFAULT_ITERS, adaround
from codesign.quant.binary import compression_vs_float32
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
    adaround_iters: int = DEFAULT_ITERS  # per layer; levels off by 1000 on the zoo models
    train: TrainSettings = field(default_factory=TrainSettings)
    # noise-injection training: std of the Gaussian added to each weight, in units of that
    # layer's weight lsb (its quantization step), the unit noise.noisy_accuracy uses
    noise_sigma: float = 0.5
    finetune_rounds: int = 2  # binary (S5): rounds of layer-by-layer alternating fine-tuning
    finetune_epochs: int = 1  # binary: epochs per phase (signs, then scale) per layer per round
    binary_first_last: bool = False  # binary: binarize the first and last layers too

    def __post_init__(self) -> None:
        if self.adaround_iters < 1 or self.finetune_rounds < 0 or self.finetune_epochs < 1:
            raise CodesignError(
                f"need adaround_iters >= 1, finetune_rounds >= 0 and finetune_epochs >= 1, got "
                f"{self.adaround_iters}, {self.finetune_rounds} and {self.finetune_epochs}")
        if not self.noise_sigma >= 0:
            raise CodesignError(f"noise_sigma must not be negative, not {self.noise_sigma}")


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


def _lsqplus_init(values: np.ndarray, width: int, seed: int = 0) -> tuple[float, float]:
    """LSQ+'s initial (step, offset) for an activation: the pair that minimises the mean
    square quantization error on the calibration values (LSQ+ initialises activations by
    this MSE rather than min/max). Searched over the window's low end lo (low percentiles)
    and steps s, with beta = lo - qn * s so the W-bit window starts at lo. Fixed point: the
    steps searched are powers of two (the step must be one after the snap; starting on one
    avoids a jump there)."""
    flat = values.ravel().astype(np.float64)
    if flat.size > 100_000:
        flat = np.random.default_rng(seed).choice(flat, 100_000, replace=False)
    qn, qp = -(2.0 ** (width - 1)), 2.0 ** (width - 1) - 1
    spread = float(flat.max() - flat.min())
    if not spread > 0:
        raise CodesignError("LSQ+ cannot initialise a step on a constant tensor")
    k0 = round(math.log2(spread / (2**width - 1)))
    best: tuple[float, float, float] | None = None
    for lo in sorted({float(np.percentile(flat, p)) for p in (0.0, 0.1, 1.0, 5.0)}):
        for k in range(k0 - 3, k0 + 2):
            step = 2.0**k
            beta = lo - qn * step
            q = np.clip(np.floor((flat - beta) / step + 0.5), qn, qp) * step + beta
            err = float(np.mean((q - flat) ** 2))
            if best is None or err < best[0]:
                best = (err, step, beta)
    assert best is not None
    return best[1], best[2]


def _lsq_acts(graph: Graph, base: DesignPoint, *, offset: bool,
              calib_x: np.ndarray | None = None) -> dict[str, Quantizer]:
    """LSQ quantizers on every result a QAT method learns; with offset (LSQ+), signed results
    get a learned offset, initialised as LSQ+ does (_lsqplus_init) on the activation: the
    tensor itself, or the ReLU's output (minimum 0) for a result that only feeds ReLUs."""
    acts = ({k: v.numpy() for k, v in graph.forward(calib_x, return_all=True).items()}
            if offset and calib_x is not None else {})
    out: dict[str, Quantizer] = {}
    for layer in _result_layers(graph):
        t = base[layer.name].result
        if not (offset and t.signed):
            out[layer.name] = LsqQuantizer(t.width, t.signed, t.lsb, weight=False)
            continue
        relu_only = relu_consumers_only(graph, layer.name)
        step, beta = t.lsb, 0.0
        if layer.name in acts:
            values = acts[layer.name]
            if relu_only:
                values = np.maximum(values, 0.0)
            if values.max() > values.min():
                step, beta = _lsqplus_init(values, t.width)
        out[layer.name] = LsqQuantizer(
            t.width, True, step, weight=False, offset=True, init_offset=beta,
            allow_unsigned=relu_only)
    return out


def _lsq_weights(graph: Graph, base: DesignPoint) -> dict[str, Quantizer]:
    """LSQ weight quantizers starting from the calibrated (MSE, power-of-two) step. LSQ+
    uses them too: its max(|mu - 3 sigma|, |mu + 3 sigma|) / 2**(W-1) initial step cost 5
    points on digits_cnn at 2 bits (87.2% against 91.9%, 12 epochs), and the step ends on a
    power of two either way."""
    out: dict[str, Quantizer] = {}
    for layer in graph.weighted:
        t = base[layer.name].weight
        assert t is not None
        out[layer.name] = LsqQuantizer(t.width, True, t.lsb, weight=True)
    return out


def _hwgq_acts(graph: Graph, base: DesignPoint, calib_x: np.ndarray, *,
               on_input: bool = False) -> dict[str, Quantizer]:
    """HWGQ on every result that only feeds ReLUs (weighted layers and residual adds): an
    unsigned type (negative values saturate to 0, the half wave) with the
    half-Gaussian-optimal power-of-two step; the ReLU after it casts to the same binary
    point (identity at equal widths). on_input: the network's input too (S5), an unsigned
    type with the HWGQ step of the input's distribution."""
    acts = {k: v.numpy() for k, v in graph.forward(calib_x, return_all=True).items()}
    out: dict[str, Quantizer] = {}
    if on_input:
        out["input"] = StaticCast(hwgq_type(acts["input"], base.input.width))
    for layer in _result_layers(graph):
        if isinstance(layer, L.ReLU) or not relu_consumers_only(graph, layer.name):
            continue
        t = hwgq_type(acts[layer.name], base[layer.name].result.width)
        out[layer.name] = StaticCast(t)
        for relu in graph.consumers(layer.name):
            w = base[relu.name].result.width
            out[relu.name] = StaticCast(FixedType(w, w - t.frac, False, **ACT_MODES))
    if not [k for k in out if k != "input"]:
        raise CodesignError("HWGQ quantizes the input of ReLUs, and no layer here feeds only "
                            "ReLUs")
    return out


def _dorefa_acts(graph: Graph, base: DesignPoint) -> dict[str, Quantizer]:
    """DoReFa's activation quantizer on every ReLU output: clip to [0, 1], then k-bit
    uniform levels, with a straight-through gradient inside the clip.

    Fixed point: DoReFa clips at 1 because a BatchNorm in front keeps activations near that
    scale; here BatchNorm is folded into the weights, so the clip sits at the calibrated
    power of two 2**I (DoReFa on a / 2**I; the division is a binary-point shift the next
    layer absorbs), and the levels are i * 2**I / 2**k (the cast to
    ap_ufixed<k, I, AP_RND, AP_SAT>) instead of DoReFa's i / (2**k - 1), which are not on a
    binary grid."""
    out: dict[str, Quantizer] = {}
    for layer in graph.layers[1:]:
        if isinstance(layer, L.ReLU):
            t = base[layer.name].result
            out[layer.name] = StaticCast(FixedType(t.width, t.integer, False, **ACT_MODES))
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
    records: dict = {}
    weights = adaround(job.graph, design, calib_x, iters=s.adaround_iters, seed=s.train.seed,
                       progress=progress, records=records)
    biases = {layer.name: layer.bias for layer in job.graph.weighted}
    qnet = export_qnet(job.graph, design, weights, biases)
    nearest = QuantizedNet.from_float(job.graph, design)
    flipped = sum(int((qnet.weights[n] != nearest.weights[n]).sum()) for n in qnet.weights)
    total = sum(w.size for w in qnet.weights.values())
    # the kept rounding's objective relative to round-to-nearest's, per layer (<= 1)
    objective = {n: round(min(r["adaround"], r["nearest"]) / r["nearest"], 4)
                 if r["nearest"] else 1.0 for n, r in records.items()}
    return qnet, qnet_forward(qnet), {**notes, "rounded_away_from_nearest": flipped / total,
                                      "adaround_iters": s.adaround_iters,
                                      "objective_vs_nearest": objective}


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
    net, notes = _qat(job, s, progress, "lsqplus", lambda base, cx: (
        _lsq_weights(job.graph, base),
        _lsq_acts(job.graph, base, offset=True, calib_x=cx)))
    # the offset learned in steps before the snap: what fixed point keeps of it is the
    # window (0 -> signed, 2**(W-1) steps -> unsigned)
    learned = {n: round(float(q.offset.detach()) / q.lsb(), 3) for n, q in net.aq.items()
               if getattr(q, "offset", None) is not None}
    unsigned = [n for n, q in net.aq.items() if getattr(q, "unsigned_snap", False)]
    return _finish(net, {**notes, "offset_unsigned_layers": unsigned,
                         "learned_offset_steps": learned})


def m_dorefa(job, s, progress):
    def build(base, _):
        return ({layer.name: DorefaWeight(base[layer.name].weight)
                 for layer in job.graph.weighted}, _dorefa_acts(job.graph, base))
    net, notes = _qat(job, s, progress, "dorefa", build)
    return _finish(net, notes)


def m_hwgq(job, s, progress):
    net, notes = _qat(job, s, progress, "hwgq",
                      lambda base, cx: ({}, _hwgq_acts(job.graph, base, cx)))
    return _finish(net, notes)


def m_binary(job, s, progress):
    """S5: 2-bit (the design's activation widths) uniform HWGQ on the network input and on
    every activation; binary weights with a per-channel scale; train the binary model,
    then fine-tune it layer by layer with alternating updates, for s.finetune_rounds
    rounds: the layer's binary weights (signs) with its scale held, then its scale with the
    signs held, then the next layer. Each layer's phase runs only the network from that
    layer on (everything before it is fixed and computed once)."""
    def build(base, cx):
        weighted = job.graph.weighted
        # Like BWN / XNOR-Net / HWGQ-Net, the first and last layers keep the design's weight
        # type (trained with STE) unless s.binary_first_last; the others go binary.
        keep = set() if s.binary_first_last or len(weighted) < 3 else {
            weighted[0].name, weighted[-1].name}
        wq = {layer.name: BinaryWeight(base[layer.name].weight.width, layer.weight)
              for layer in weighted if layer.name not in keep}
        return wq, _hwgq_acts(job.graph, base, cx, on_input=True)
    start = time.perf_counter()
    net, notes = _qat(job, s, progress, "binary", build)
    initial = time.perf_counter() - start
    ft = replace(s.train, epochs=s.finetune_epochs, snap_epochs=0, lr=s.train.lr / 2)
    for r in range(s.finetune_rounds):
        for layer in job.graph.weighted:
            name = layer.name
            q = net.wq[name]
            if isinstance(q, BinaryWeight) and not q.learned_scale:
                q.hold_scale(net.w[name].detach())
            phases = [("signs", [net.w[name], net.b[name]])]
            if isinstance(q, BinaryWeight):
                phases.append(("scale", [q.alpha]))
            for phase, params in phases:
                for p in params:
                    p.requires_grad_(True)
                train_qat(net, job.data, replace(ft, seed=ft.seed + r), progress=progress,
                          desc=f"binary ft {name} {phase}", params=params, first_layer=name)
    binary = [n for n, q in net.wq.items() if isinstance(q, BinaryWeight)]
    qnet, forward, notes = _finish(net, {
        **notes, "finetune_rounds": s.finetune_rounds, "binary_layers": binary,
        "initial_training_seconds": round(initial, 2),
        "finetune_seconds": round(time.perf_counter() - start - initial, 2)})
    notes["compression_vs_float32"] = round(compression_vs_float32(qnet, binary), 2)
    return qnet, forward, notes


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
    """Quantize job with method `name`; the design's notes record the method. A design
    some back end could not emit is refused here, by layer (codesign.param_limits)."""
    fn = METHODS.get(name)
    if fn is None:
        raise CodesignError(f"unknown quantization method {name!r}; choose one of "
                            f"{', '.join(METHODS)}")
    check_weight_widths(job.graph, {layer.name: job.widths.w(layer.name)
                                    for layer in job.graph.weighted})
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
    design = replace(qnet.design, notes={**qnet.design.notes, **_plain(notes)},
                     dataset=job.data.source or qnet.design.dataset)
    qnet = QuantizedNet(qnet.graph, design, qnet.weights, qnet.biases)
    check_param_types(qnet.graph, design)
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
