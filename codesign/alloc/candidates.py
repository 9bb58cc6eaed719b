"""The allocator's input: per layer, every implementation choice with its Omega and cost.

A choice of layer l is (weight bits, input width, result width, reuse factor, multiplier
style, and at reuse > 1 where its weight ROM lives: LUTs or block RAM). Activation widths
belong to tensors, not layers: the width a layer gives its result
is the width its consumers read, so the solver picks one width per tensor and every layer
must agree with the tensors on both of its sides. Pools and Flatten pass their input tensor
through (their result keeps the input type, as calibrate_design does) and the two inputs of
a residual Add are one tensor (tied widths). Everything here is plain numpy arrays, so costs
can come from the cost model or, in tests, from a synthetic table.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from codesign.errors import CodesignError
from codesign.hwrules import constant_star_is_dsp
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.registry import LayerRegistry
from codesign.sensitivity.table import SensitivityTable

COST_KEYS = ("lut", "ff", "dsp", "bram", "latency", "interval")
MULTIPLIER_STYLES = ("lut", "dsp")
WEIGHT_ROMS = ("lut", "bram")  # what a folded layer's ROM may be given (design weight_rom)

# layer_costs(layer_name, w_bits, x_bits, out_bits, reuse, dsp) -> {key: array}, the
# FastCostModel interface: arrays broadcast together.
CostFn = Callable[..., dict[str, np.ndarray]]


class AllocationError(CodesignError):
    """An allocation problem that cannot be built or solved as asked."""


@dataclass(frozen=True, eq=False)
class Tensor:
    """One activation-width decision: the result of `members` (tied layers), at `bits`."""

    name: str
    members: tuple[str, ...]
    bits: np.ndarray  # candidate widths
    omega: np.ndarray  # Omega of the tensor at each width (sum over the members)


@dataclass(frozen=True, eq=False)
class LayerCandidates:
    """All choices of one layer; arrays are indexed by candidate."""

    name: str
    kind: str
    params: int  # weights (0 if none): what model size counts
    in_tensor: int | None  # index into Candidates.tensors
    out_tensor: int
    w_bits: np.ndarray  # 0 on layers without weights
    x_bits: np.ndarray
    out_bits: np.ndarray
    reuse: np.ndarray
    dsp: np.ndarray  # bool: DSP multipliers (else LUT shift-add)
    omega: np.ndarray  # weight Omega of the choice (0 without weights)
    cost: dict[str, np.ndarray]  # COST_KEYS -> per-candidate cost
    rom: np.ndarray | None = None  # the design's weight_rom per choice (None: all "auto")

    def __post_init__(self) -> None:
        if self.rom is None:
            object.__setattr__(self, "rom", np.full(len(self.w_bits), "auto"))

    def __len__(self) -> int:
        return len(self.w_bits)

    def take(self, keep: np.ndarray) -> LayerCandidates:
        """The same layer with only the candidates `keep` (index or mask)."""
        arrays = {k: getattr(self, k)[keep] for k in
                  ("w_bits", "x_bits", "out_bits", "reuse", "dsp", "omega", "rom")}
        return LayerCandidates(self.name, self.kind, self.params, self.in_tensor,
                               self.out_tensor, cost={k: v[keep] for k, v in self.cost.items()},
                               **arrays)

    def describe(self, i: int) -> dict:
        out = {"w_bits": int(self.w_bits[i]), "x_bits": int(self.x_bits[i]),
               "out_bits": int(self.out_bits[i]), "reuse": int(self.reuse[i]),
               "multiplier": "dsp" if self.dsp[i] else "lut"}
        if not self.params:
            out.pop("w_bits")
        assert self.rom is not None
        if self.rom[i] != "auto":
            out["weight_rom"] = str(self.rom[i])
        return out


@dataclass(frozen=True, eq=False)
class Candidates:
    """The whole allocation problem's data (what every method reads)."""

    layers: list[LayerCandidates]
    tensors: list[Tensor]
    objective: str = "hessian"
    model: str | None = None
    notes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for layer in self.layers:
            n = len(layer)
            if n == 0:
                raise AllocationError(f"layer {layer.name!r} has no candidate left")
            for key in COST_KEYS:
                if key not in layer.cost or layer.cost[key].shape != (n,):
                    raise AllocationError(f"layer {layer.name!r}: cost {key!r} must be an "
                                          f"array of its {n} candidates")

    @property
    def size(self) -> int:
        return sum(len(layer) for layer in self.layers)

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    def layer(self, name: str) -> LayerCandidates:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise AllocationError(f"no layer {name!r}; layers: "
                              f"{', '.join(x.name for x in self.layers)}")

    def tensor_of(self, layer_name: str) -> Tensor:
        for t in self.tensors:
            if layer_name in t.members:
                return t
        raise AllocationError(f"{layer_name!r} rounds no tensor of this problem")


# -- the tensors of a graph ---------------------------------------------------------------
def tensor_groups(graph: Graph) -> tuple[list[tuple[str, ...]], dict[str, int]]:
    """The graph's width decisions: groups of rounded layers that share one width, and for
    every layer the group its result belongs to (pools/flatten: their input's group)."""
    ties = _Ties({}, {})
    for layer in graph:
        TENSORS(layer)(layer, ties)
    groups: dict[str, list[str]] = {}
    for layer in graph:
        if layer.name in ties.parent:  # a rounded layer: a tensor of its own
            groups.setdefault(ties.find(layer.name), []).append(layer.name)
    order = list(groups)
    index = {root: i for i, root in enumerate(order)}
    of_layer = {name: index[ties.find(src)] for name, src in ties.source.items()}
    return [tuple(groups[r]) for r in order], of_layer


@dataclass
class _Ties:
    """Union-find over the rounded layers whose results must share one width."""

    parent: dict[str, str]
    source: dict[str, str]  # layer -> the rounded layer whose tensor it outputs

    def find(self, a: str) -> str:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a


TENSORS: LayerRegistry[Callable[[L.Layer, _Ties], None]] = LayerRegistry(
    "the allocator", "codesign.alloc.candidates")
"""Per kind: how a layer's result meets the width decisions."""
TENSORS.skip(L.BatchNorm, "it is folded into the conv by fold_batchnorm when the graph is "
                          "built (fold BatchNorm first)")


@TENSORS.rule(L.Input, L.WeightedLayer, L.ReLU)
def _rounds(layer: L.Layer, ties: _Ties) -> None:
    """Its result is rounded to a width of its own."""
    ties.parent[layer.name] = ties.source[layer.name] = layer.name


@TENSORS.rule(L.MaxPool2d, L.AvgPool2d, L.Flatten)
def _passes(layer: L.Layer, ties: _Ties) -> None:
    """Its result keeps its input's type (as calibrate_design does)."""
    ties.source[layer.name] = ties.source[layer.inputs[0]]


@TENSORS.rule(L.Add)
def _ties_inputs(layer: L.Layer, ties: _Ties) -> None:
    """A residual add rounds its result and reads both inputs at one width."""
    _rounds(layer, ties)
    roots = [ties.find(ties.source[i]) for i in layer.inputs]
    for r in roots[1:]:
        ties.parent[r] = roots[0]


# -- building from a graph, a sensitivity table and a cost function -----------------------
def check_table(graph: Graph, table: SensitivityTable, model: str | None = None) -> None:
    """Refuse a table measured on another model (by name or by layers)."""
    if model is not None and table.model is not None and table.model != model:
        raise AllocationError(f"the sensitivity table was measured on {table.model!r}, not "
                              f"{model!r}; run `codesign sensitivity {model}` for this model")
    names = {layer.name: layer for layer in graph}
    foreign = [n for n in table.layers if n not in names]
    if foreign:
        raise AllocationError(f"the sensitivity table names layers {foreign} that model "
                              f"{model or ''} does not have: it is for another model")
    missing = [layer.name for layer in graph.weighted
               if table.layers.get(layer.name) is None
               or table.layers[layer.name].weight is None]
    if missing:
        raise AllocationError(f"the sensitivity table has no weight Omega for {missing}; "
                              "it is for another model or was cut short")


def build_candidates(graph: Graph, table: SensitivityTable, cost_fn: CostFn, *,
                     bits: Sequence[int] | None = None,
                     reuse: Sequence[int] | Mapping[str, Sequence[int]] = (1,),
                     multipliers: Sequence[str] = MULTIPLIER_STYLES,
                     fixed_act_bits: int | None = None, model: str | None = None,
                     accum: Callable[[str, np.ndarray, np.ndarray], np.ndarray] | None = None,
                     roms: Sequence[str] = ()) -> Candidates:
    """The candidates table of `graph`: widths from `bits` (default the table's), each
    weighted layer's reuse from `reuse` (one list for all, or a list per layer name as
    codesign.alloc.folding.reuse_options gives; values above its terms per output are
    dropped), both multiplier styles unless restricted. Tensors without activation Omega
    in the table keep `fixed_act_bits` (default: the widest candidate). `accum(layer,
    w_bits, x_bits)`, when given, is each weighted candidate's accumulator width, passed
    to the cost function as `accum_bits`. `roms` (among WEIGHT_ROMS): where a folded
    layer's weight ROM may go, each a candidate of its own passed to the cost function as
    `rom` (the design's weight_rom); none: the design's `auto` rule, and no `rom` passed."""
    check_table(graph, table, model)
    bits = tuple(sorted(set(bits or table.bits)))
    unknown = [b for b in bits if b not in table.bits]
    if unknown:
        raise AllocationError(f"widths {unknown} are not in the sensitivity table "
                              f"(it has {list(table.bits)})")
    bad = [m for m in multipliers if m not in MULTIPLIER_STYLES]
    if bad or not multipliers:
        raise AllocationError(f"multiplier styles must be among {MULTIPLIER_STYLES}, "
                              f"not {list(multipliers)}")
    if any(m not in WEIGHT_ROMS for m in roms):
        raise AllocationError(f"weight ROM styles must be among {WEIGHT_ROMS}, not {list(roms)}")
    per_layer = reuse if isinstance(reuse, Mapping) else None
    for rs in (per_layer.values() if per_layer is not None else [reuse]):
        if not rs or any(int(r) < 1 for r in rs):
            raise AllocationError(f"reuse factors must be positive integers, not {list(rs)}")
    groups, of_layer = tensor_groups(graph)
    fixed = fixed_act_bits or max(bits)
    tensors = []
    for members in groups:
        acts = [table.layers[m].act for m in members
                if m in table.layers and table.layers[m].act is not None]
        if acts:
            t_bits = np.array(bits)
            omega = np.array([sum(a[b] for a in acts) for b in bits], dtype=float)
        else:
            t_bits, omega = np.array([fixed]), np.zeros(1)
        tensors.append(Tensor(members[0], members, t_bits, omega))
    layers = []
    for layer in graph.layers:
        t_out = of_layer[layer.name]
        t_in = of_layer[layer.inputs[0]] if layer.inputs else None
        x_opts = tensors[t_out if t_in is None else t_in].bits
        w, x, o, r, d, omega = CHOICES(layer)(layer, _Options(
            table, bits, x_opts, tensors[t_out].bits,
            per_layer.get(layer.name, (1,)) if per_layer is not None else reuse,
            multipliers))
        params = layer.params if layer.has_weights else 0
        extra: dict[str, np.ndarray] = {}
        rom = np.full(len(w), "auto")
        if layer.has_weights and roms:
            keep, rom = _rom_choices(r, roms)
            w, x, o, r, d, omega = (a[keep] for a in (w, x, o, r, d, omega))
            extra["rom"] = rom
        if accum is not None and layer.has_weights:
            extra["accum_bits"] = accum(layer.name, w, x)
        raw = cost_fn(layer.name, w, x, o, r, d, **extra)
        # whole units per layer, as the cost report rounds them; block RAM in the halves a
        # RAMB18 counts on a 36 Kbit part
        cost = {k: np.round(np.broadcast_to(np.asarray(raw[k], dtype=float), x.shape)
                            * (2 if k == "bram" else 1)) / (2 if k == "bram" else 1)
                for k in COST_KEYS}
        layers.append(LayerCandidates(layer.name, layer.kind, params, t_in, t_out, w, x, o,
                                      r, d.astype(bool), omega, cost, rom))
    held = [t.name for t in tensors if not t.omega.any() and len(t.bits) == 1]
    notes = {"held_activations": {"bits": int(fixed), "tensors": held}} if held else {}
    return Candidates(layers, tensors, table.method, model or table.model, notes)


def _rom_choices(reuse: np.ndarray, roms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate once per ROM style where it has a ROM (reuse > 1), else once with
    `auto` (constants, no ROM): the rows to keep and their weight_rom."""
    rows = [(i, m) for i, rf in enumerate(reuse.tolist())
            for m in (roms if rf > 1 else ("auto",))]
    return np.array([i for i, _ in rows], dtype=int), np.array([m for _, m in rows])


def passes_input(layer: L.Layer) -> bool:
    """Its result is its input's tensor, type and all (pools, flatten): no width of its
    own, and its output stream, where it has one, carries its input's values."""
    return TENSORS(layer) is _passes


@dataclass(frozen=True)
class _Options:
    """What a layer may choose from: the table, the widths, its tensors' widths."""

    table: SensitivityTable
    bits: tuple[int, ...]
    x_bits: np.ndarray  # its input tensor's candidate widths (the Input: its own)
    out_bits: np.ndarray  # its result tensor's
    reuse: Sequence[int]
    multipliers: Sequence[str]


_Choices = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
CHOICES: LayerRegistry[Callable[[L.Layer, _Options], _Choices]] = LayerRegistry(
    "the allocator's candidates", "codesign.alloc.candidates")
"""Per kind: its candidates (w_bits, x_bits, out_bits, reuse, dsp, weight Omega)."""
CHOICES.skip(L.BatchNorm, "it is folded into the conv by fold_batchnorm when the graph is "
                          "built (fold BatchNorm first)")


@CHOICES.rule(L.WeightedLayer)
def _weighted_choices(layer: L.Layer, opt: _Options) -> _Choices:
    """Every weight width x input width x result width x reuse x multiplier style."""
    assert isinstance(layer, L.WeightedLayer)
    w_table = opt.table.layers[layer.name].weight
    assert w_table is not None
    # the RTL engines share multipliers over a layer's terms only
    r_opts = sorted({int(r) for r in opt.reuse if int(r) <= layer.terms}) or [1]
    every = list(itertools.product(opt.bits, opt.x_bits, opt.out_bits, r_opts,
                                   [m == "dsp" for m in opt.multipliers]))
    combos = [c for c in every  # unless only such choices were asked for
              if not (c[4] and c[3] == 1 and not constant_star_is_dsp(int(c[0]), int(c[1])))]
    w, x, o, r, d = (np.array(c) for c in zip(*(combos or every), strict=True))
    return w, x, o, r, d, np.array([w_table[int(b)] for b in w], dtype=float)


def _no_weights(x: np.ndarray, o: np.ndarray) -> _Choices:
    return (np.zeros_like(x), x, o, np.ones_like(x), np.zeros(len(x), dtype=bool),
            np.zeros(len(x)))


@CHOICES.rule(L.Input, L.MaxPool2d, L.AvgPool2d, L.Flatten)
def _one_width(layer: L.Layer, opt: _Options) -> _Choices:
    """The input, pools, flatten: the result is the input's width."""
    x, o = (np.array(c) for c in zip(*[(a, a) for a in opt.x_bits], strict=True))
    return _no_weights(x, o)


@CHOICES.rule(L.ReLU, L.Add)
def _any_widths(layer: L.Layer, opt: _Options) -> _Choices:
    """Every input width x result width."""
    combos = list(itertools.product(opt.x_bits, opt.out_bits))
    x, o = (np.array(c) for c in zip(*combos, strict=True))
    return _no_weights(x, o)


# -- synthetic problems (tests, the speed bench) ------------------------------------------
def synthetic_chain(n_layers: int, bits: Sequence[int] = (2, 4, 8), reuse: Sequence[int] = (1, 2),
                    *, seed: int = 0, dsp: bool = True) -> Candidates:
    """A random chain conv -> conv -> ... with plausible monotone costs: Omega falls with
    width, LUT grows with w x x / reuse, DSP only on dsp multipliers, latency with reuse."""
    rng = np.random.default_rng(seed)
    bits_arr = np.array(sorted(bits))
    tensors = []
    for t in range(n_layers + 1):
        scale = rng.uniform(0.1, 2.0)
        omega = scale * 4.0 ** (-bits_arr) * rng.uniform(0.5, 1.5, len(bits_arr))
        tensors.append(Tensor(f"t{t}", (f"t{t}",), bits_arr.copy(), np.sort(omega)[::-1]))
    layers = []
    styles = [False, True] if dsp else [False]
    for i in range(n_layers):
        combos = list(itertools.product(bits_arr, bits_arr, bits_arr, reuse, styles))
        w, x, o, r, d = (np.array(c) for c in zip(*combos, strict=True))
        params = int(rng.integers(50, 5000))
        w_scale = rng.uniform(0.1, 2.0)
        omega = w_scale * 4.0 ** (-w.astype(float)) * params / 1000
        mults = params / r
        lut = np.where(d, 20 + 2 * o, mults * w * x / 8 + 3 * o) + rng.uniform(0, 5, len(w))
        cost = {"lut": np.round(lut), "ff": np.round(lut * 1.3 + o * 4),
                "dsp": np.where(d, np.ceil(mults / 50), 0),
                "bram": np.ceil(params * w / 18432 / r) * (r > 1),
                "latency": 3.0 + r * rng.integers(1, 4), "interval": 16.0 * r}
        layers.append(LayerCandidates(f"l{i}", "conv2d", params, i, i + 1, w, x, o, r,
                                      d.astype(bool), omega, cost))
    return Candidates(layers, tensors, "synthetic")


# -- exact reduction ----------------------------------------------------------------------
def prune(cands: Candidates, keys: Sequence[str]) -> Candidates:
    """Drop every candidate that another of the same layer, widths and weight bits matches
    or beats on all the costs in `keys` (the limits in play): Omega and model size depend
    only on the widths, so no optimum needs it. Exact, and often halves the table."""
    cost_keys = [k for k in COST_KEYS if k in keys]
    layers = []
    for layer in cands.layers:
        n = len(layer)
        if not cost_keys:
            costs = np.zeros((n, 1))
        else:
            costs = np.stack([layer.cost[k] for k in cost_keys], axis=1)
        group = np.unique(np.stack([layer.w_bits, layer.x_bits, layer.out_bits], axis=1),
                          axis=0, return_inverse=True)[1].ravel()
        same = group[:, None] == group[None, :]
        no_worse = np.all(costs[None, :, :] <= costs[:, None, :], axis=2)  # [i, j]: j <= i
        better = np.any(costs[None, :, :] < costs[:, None, :], axis=2)
        earlier = np.arange(n)[None, :] < np.arange(n)[:, None]
        dominated = np.any(same & no_worse & (better | earlier), axis=1)
        layers.append(layer.take(~dominated) if dominated.any() else layer)
    return Candidates(layers, cands.tensors, cands.objective, cands.model, cands.notes)
