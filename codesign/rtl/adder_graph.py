"""A constant-matrix-vector product as an adder graph with shared subexpressions.

At RF 1 with a lossless accumulator, a conv's (or dense layer's) work per output pixel
is y = x @ K + b with K a constant integer matrix. da4ml's solver (`da4ml.cmvm.solve`)
finds an adder graph computing x @ K with subexpressions shared between outputs; this
module turns its answer into our plan, plain data the RTL emitter and the cost model
both read:

- node ids 0..n_in-1 are the inputs (raw integers in [x_lo, x_hi]); node n_in + i is
  adder i: value = sign_a * a + sign_b * b * 2**shift;
- every node holds an integer mantissa m with value = m * 2**lsb, and its exact range
  [lo, hi] (from the node's coefficients over independent inputs, not interval
  arithmetic), hence the exact width of its adder;
- output o is y_o = sign * node * 2**shift + const (the bias folded in), also exact.

Zero weights cost nothing (they are not in the graph); an all-zero column is its bias.
Above a size, da4ml's cheaper search solves the matrix in row blocks whose partial sums
are added (codesign.rtl.solver_settings: a time bounded by the size).
The builder checks the graph's coefficients against K, so a misread solution fails here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from codesign.errors import CodesignError
from codesign.param_limits import PARAM_MAX_BITS
from codesign.rtl.solve_cache import disk_cached
from codesign.rtl.solver_settings import resolve_solver, solve_plan


def signed_width(lo: int, hi: int) -> int:
    """Bits of the narrowest two's-complement (lo < 0) or unsigned field holding [lo, hi]."""
    if lo >= 0:
        return max(int(hi).bit_length(), 1)
    return max(int(hi).bit_length(), int(-lo - 1).bit_length()) + 1


@dataclass(frozen=True)
class Adder:
    """value = sign_a * node a + sign_b * node b * 2**shift; mantissa in [lo, hi] at lsb."""

    a: int
    b: int
    shift: int
    sign_a: int
    sign_b: int
    lo: int
    hi: int
    lsb: int
    keep: int = 0  # bits kept when only the low bits are read (see wrapped); 0: all

    @property
    def width(self) -> int:
        exact = signed_width(self.lo, self.hi)
        return min(exact, self.keep) if self.keep else exact


@dataclass(frozen=True)
class Output:
    """y = sign * node * 2**shift + const (node -1: just the constant); y in [lo, hi]."""

    node: int
    shift: int
    sign: int
    const: int
    lo: int
    hi: int
    modulo: int = 0  # y is needed only mod 2**modulo (a wrapping cast); 0: exactly

    @property
    def width(self) -> int:
        """Of the exact y (the field holds only its low `modulo` bits: out_width)."""
        return signed_width(self.lo, self.hi)


@dataclass(frozen=True)
class AdderGraph:
    """The plan of one constant-matrix-vector product: inputs, adders, outputs."""

    x_lo: int
    x_hi: int
    n_in: int
    adders: tuple[Adder, ...]
    outputs: tuple[Output, ...]

    def node_range(self, node: int) -> tuple[int, int, int]:
        """(lo, hi, lsb) of a node's mantissa."""
        if node < self.n_in:
            return self.x_lo, self.x_hi, 0
        a = self.adders[node - self.n_in]
        return a.lo, a.hi, a.lsb

    def node_width(self, node: int) -> int:
        lo, hi, _ = self.node_range(node)
        return signed_width(lo, hi)

    @property
    def out_width(self) -> int:
        """Bits of a field holding every output, two's complement (an output needed only
        mod 2**modulo: its low modulo bits)."""
        return max((min(signed_width(min(o.lo, -1), o.hi), o.modulo or 1 << 30)
                    for o in self.outputs), default=1)

    def adder_bits(self) -> int:
        """Sum of adder widths (output adders with a term and a constant included)."""
        n = sum(a.width for a in self.adders)
        return n + sum(output_adder(self, o)[1] for o in self.outputs
                       if o.node >= 0 and o.const != 0)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """Integer outputs for integer inputs x (batch, n_in): what the hardware computes
        (of a graph narrowed by `wrapped`, congruent to it mod 2**out_width)."""
        x = np.asarray(x, dtype=object)
        vals: list[Any] = [x[:, m] for m in range(self.n_in)]
        for ad in self.adders:
            va, vb = vals[ad.a], vals[ad.b]
            la, lb = self.node_range(ad.a)[2], self.node_range(ad.b)[2] + ad.shift
            v = ad.sign_a * _shl(va, la - ad.lsb) + ad.sign_b * _shl(vb, lb - ad.lsb)
            vals.append(_wrap(v, ad.width) if ad.keep else v)
        cols = []
        for o in self.outputs:
            term = 0 if o.node < 0 else o.sign * _scale(vals[o.node],
                                                        self.node_range(o.node)[2] + o.shift)
            y = term + o.const + 0 * x[:, 0]
            lsb, w, narrowed = output_adder(self, o) if o.node >= 0 else (0, 0, False)
            if narrowed:  # the output adder holds y mod 2**w
                y = _wrap(y >> lsb, w) << lsb if lsb >= 0 else _wrap(y << -lsb, w) >> -lsb
            cols.append(y)
        return np.stack(cols, axis=1).astype(np.int64) if cols else np.zeros((len(x), 0))

    def to_json(self) -> dict[str, Any]:
        """asdict's result, built flat (asdict's deep copy took seconds on big graphs)."""
        return {"x_lo": self.x_lo, "x_hi": self.x_hi, "n_in": self.n_in,
                "adders": tuple(dict(vars(a)) for a in self.adders),
                "outputs": tuple(dict(vars(o)) for o in self.outputs)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AdderGraph:
        return cls(data["x_lo"], data["x_hi"], data["n_in"],
                   tuple(Adder(**a) for a in data["adders"]),
                   tuple(Output(**o) for o in data["outputs"]))


def _wrap(v: Any, w: int) -> Any:
    """v as a w-bit two's-complement field holds it (v mod 2**w, signed)."""
    half = 1 << (w - 1)
    return (v + half) % (1 << w) - half


def output_adder(g: AdderGraph, o: Output) -> tuple[int, int, bool]:
    """(lsb, width, narrowed) of output o's adder (its term plus its constant): exact, or
    with o.modulo only the bits below it (narrowed: fewer than the exact sum needs; the
    field is then two's complement), never so few that an operand is unread."""
    k = g.node_range(o.node)[2] + o.shift if o.node >= 0 else 0
    c_lsb = (o.const & -o.const).bit_length() - 1 if o.const else k
    lsb = min(k, c_lsb)
    scale = (lambda v: v >> lsb) if lsb >= 0 else (lambda v: v << -lsb)
    exact = signed_width(scale(o.lo), scale(o.hi))
    w = min(exact, max(o.modulo - lsb, k - lsb + 1, c_lsb - lsb + 1)) if o.modulo else exact
    return lsb, w, w < exact


def wrapped(g: AdderGraph, bits: int) -> AdderGraph:
    """The graph when every output is needed only mod 2**bits (its cast wraps and rounds
    from the low bits alone): each node keeps only the low bits its readers need, as
    da4ml's traced designs do. The outputs stay congruent to the exact ones mod 2**bits.
    """
    if bits < 1:
        raise CodesignError(f"an output needs at least 1 bit, not {bits}")
    n = g.n_in
    need = [0] * (n + len(g.adders))  # mantissa bits some reader needs
    for o in g.outputs:
        if o.node >= 0:
            k = g.node_range(o.node)[2] + o.shift
            need[o.node] = max(need[o.node], bits - k, 1)
    keep: list[int] = []
    for i in range(len(g.adders) - 1, -1, -1):
        ad = g.adders[i]
        da = g.node_range(ad.a)[2] - ad.lsb  # operand offsets (one of them 0)
        db = g.node_range(ad.b)[2] + ad.shift - ad.lsb
        w = min(signed_width(ad.lo, ad.hi), max(need[n + i], da + 1, db + 1))
        keep.append(w if w < signed_width(ad.lo, ad.hi) else 0)
        need[ad.a] = max(need[ad.a], w - da)
        need[ad.b] = max(need[ad.b], w - db)
    keep.reverse()
    adders = tuple(dataclasses.replace(ad, keep=kp) for ad, kp in zip(g.adders, keep, strict=True))
    outputs = tuple(dataclasses.replace(o, modulo=bits) for o in g.outputs)
    return AdderGraph(g.x_lo, g.x_hi, n, adders, outputs)


def _shl(v: Any, k: int) -> Any:
    return v * (1 << k)


def _scale(v: Any, k: int) -> Any:
    """v * 2**k where the result is known to be an integer."""
    return v * (1 << k) if k >= 0 else v // (1 << -k)


@dataclass
class _Term:
    """A da4ml buffer value: sign * node * 2**exp (node None: zero)."""

    node: int | None
    sign: int
    exp: int


class _Builder:
    def __init__(self, n_in: int, x_lo: int, x_hi: int) -> None:
        self.n_in, self.x_lo, self.x_hi = n_in, x_lo, x_hi
        self.coef: list[np.ndarray] = list(np.eye(n_in, dtype=object))  # of the mantissa
        self.lsb: list[int] = [0] * n_in
        self.adders: list[Adder] = []

    def _range(self, c: np.ndarray) -> tuple[int, int]:
        lo = sum(min(v * self.x_lo, v * self.x_hi) for v in c if v)
        hi = sum(max(v * self.x_lo, v * self.x_hi) for v in c if v)
        return int(lo), int(hi)

    def add(self, t0: _Term, t1: _Term, sub: bool, shift: int) -> _Term:
        """t0 +/- t1 * 2**shift as a term (negation stays lazy: never two minus signs)."""
        s1 = -t1.sign if sub else t1.sign
        if t1.node is None:
            return t0
        if t0.node is None:
            return _Term(t1.node, s1, t1.exp + shift)
        sign_a, sign_b, out_sign = t0.sign, s1, 1
        if sign_a < 0 and sign_b < 0:
            sign_a, sign_b, out_sign = 1, 1, -1
        rel = t1.exp + shift - t0.exp  # b's weight relative to a
        la, lb = self.lsb[t0.node], self.lsb[t1.node] + rel
        lsb = min(la, lb)
        coef = (sign_a * self.coef[t0.node] * (1 << (la - lsb))
                + sign_b * self.coef[t1.node] * (1 << (lb - lsb)))
        lo, hi = self._range(coef)
        self.adders.append(Adder(t0.node, t1.node, rel, sign_a, sign_b, lo, hi, lsb))
        self.coef.append(coef)
        self.lsb.append(lsb)
        return _Term(len(self.coef) - 1, out_sign, t0.exp)

    def output(self, t: _Term, const: int) -> tuple[Output, np.ndarray]:
        if t.node is None:
            return Output(-1, 0, 1, const, const, const), np.zeros(self.n_in, dtype=object)
        k = self.lsb[t.node] + t.exp
        c = self.coef[t.node] * t.sign
        c = c * (1 << k) if k >= 0 else np.array([v // (1 << -k) for v in c], dtype=object)
        lo, hi = self._range(c)
        return Output(t.node, t.exp, t.sign, const, lo + const, hi + const), c


def _stage_inputs(sol, terms: list[_Term]) -> list[_Term]:
    return [_Term(t.node, t.sign, t.exp + int(s)) if t.node is not None else t
            for t, s in zip(terms, sol.inp_shifts, strict=True)]


def _solve_block(b: _Builder, kernel: np.ndarray, terms: list[_Term], x_lo: int, x_hi: int,
                 options: dict[str, Any]) -> list[_Term]:
    """The terms of terms @ kernel, as da4ml's solution of this block adds them."""
    from da4ml.cmvm import solve

    # da4ml reads the buffer as C order whatever the strides say
    pipeline = solve(np.ascontiguousarray(kernel, dtype=np.float32),
                     qintervals=[(float(x_lo), float(x_hi), 1.0)] * len(terms), **options)
    for sol in pipeline.solutions:
        buf: list[_Term] = []
        stage_in = _stage_inputs(sol, terms)
        for op in sol.ops:
            if op.opcode == -1:
                buf.append(stage_in[op.id0])
            elif op.opcode in (0, 1):
                buf.append(b.add(buf[op.id0], buf[op.id1], op.opcode == 1, int(op.data)))
            else:
                raise CodesignError(f"da4ml's solution uses operation {op.opcode}, which "
                                    f"the RTL emitter does not build")
        terms = []
        for idx, shift, neg in zip(sol.out_idxs, sol.out_shifts, sol.out_negs, strict=True):
            if idx < 0:
                terms.append(_Term(None, 1, 0))
            else:
                t = buf[idx]
                terms.append(_Term(t.node, -t.sign if neg else t.sign, t.exp + int(shift)))
    return terms


def _sum(b: _Builder, parts: list[_Term]) -> _Term:
    """The sum of partial terms as a balanced tree (depth log2 of their count)."""
    while len(parts) > 1:
        parts = [b.add(parts[i], parts[i + 1], False, 0) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


@disk_cached
def solve_cmvm(kernel: np.ndarray, x_lo: int, x_hi: int, consts: np.ndarray,
               solver: str | None = None) -> AdderGraph:
    """The adder graph of y = x @ kernel + consts for integer x in [x_lo, x_hi].

    kernel is (n_in, n_out) of integers, consts (n_out,) integers. solver: "full"
    (da4ml's whole search on the whole matrix), "fast" (its cheaper search on blocks,
    codesign.rtl.solver_settings), "auto" (by size); None: the setting in force
    (solver_settings.use_solver; "auto" unless a command says otherwise).
    """
    kernel = np.asarray(kernel, dtype=np.int64)
    n_in, n_out = kernel.shape
    if np.abs(kernel).max(initial=0) >= 1 << PARAM_MAX_BITS:
        raise CodesignError(f"adder graphs take weights of at most {PARAM_MAX_BITS} bits")
    b = _Builder(n_in, int(x_lo), int(x_hi))
    terms = [_Term(m if kernel[m].any() else None, 1, 0) for m in range(n_in)]
    outs: list[_Term] = [_Term(None, 1, 0)] * n_out
    plan = solve_plan(kernel.shape, resolve_solver(solver, kernel.shape))
    for cols in plan.col_blocks:
        partial: list[list[_Term]] = []
        for rows in plan.row_blocks:
            block = kernel[rows, cols]
            if block.any():
                partial.append(_solve_block(b, block, terms[rows], int(x_lo), int(x_hi),
                                            plan.options))
        for j, parts in enumerate(zip(*partial, strict=True)):
            outs[cols.start + j] = _sum(b, list(parts))
    outputs = []
    for o, t in enumerate(outs):
        out, coef = b.output(t, int(consts[o]))
        if not np.array_equal(np.asarray(coef, dtype=np.int64), kernel[:, o]):
            raise CodesignError(f"the adder graph's output {o} does not compute column {o} "
                                f"of the weight matrix (da4ml solution misread)")
        outputs.append(out)
    return _pruned(AdderGraph(int(x_lo), int(x_hi), n_in, tuple(b.adders), tuple(outputs)))


def reranged(g: AdderGraph, x_lo: int, x_hi: int, shift: int = 0,
             consts: np.ndarray | None = None) -> AdderGraph:
    """The same adders over inputs in [x_lo, x_hi], every output shifted left by `shift`
    and its constant replaced by consts' (None: kept): the graph of x @ (K << shift) +
    consts for g's K, every node's exact range (hence width) recomputed from its
    coefficients. The adders da4ml would pick for that range differ by under 1% (a
    144x32 8-bit kernel): the allocator's surrogate (solve_cache.solved_at)."""
    b = _Builder(g.n_in, int(x_lo), int(x_hi))
    adders = []
    for ad in g.adders:
        b.add(_Term(ad.a, ad.sign_a, 0), _Term(ad.b, ad.sign_b, 0), False, ad.shift)
        adders.append(dataclasses.replace(b.adders[-1], keep=ad.keep))
    outputs = []
    for i, o in enumerate(g.outputs):
        const = o.const if consts is None else int(consts[i])
        t = _Term(o.node, o.sign, o.shift + shift) if o.node >= 0 else _Term(None, 1, 0)
        outputs.append(dataclasses.replace(b.output(t, const)[0], modulo=o.modulo))
    return AdderGraph(int(x_lo), int(x_hi), g.n_in, tuple(adders), tuple(outputs))


def _pruned(g: AdderGraph) -> AdderGraph:
    """Drop adders no output reads (da4ml's intermediate stage outputs can be unused)."""
    n = g.n_in
    used = [False] * (n + len(g.adders))
    for o in g.outputs:
        if o.node >= 0:
            used[o.node] = True
    for i in range(len(g.adders) - 1, -1, -1):
        if used[n + i]:
            used[g.adders[i].a] = used[g.adders[i].b] = True
    new_id = list(range(n))
    adders: list[Adder] = []
    for i, ad in enumerate(g.adders):
        if used[n + i]:
            new_id.append(n + len(adders))
            adders.append(dataclasses.replace(ad, a=new_id[ad.a], b=new_id[ad.b]))
        else:
            new_id.append(-1)
    outputs = tuple(dataclasses.replace(o, node=new_id[o.node] if o.node >= 0 else -1)
                    for o in g.outputs)
    return AdderGraph(g.x_lo, g.x_hi, n, tuple(adders), outputs)
