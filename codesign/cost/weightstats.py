"""What the weights cost at each width, from the float weights alone.

The RTL builds a constant multiplier from a weight's canonical signed digits (a zero
weight is free, k digits cost k-1 adders) or, for DSP-style layers, the `*` operator
(which Yosys maps to a DSP only above a size threshold, and a power of two becomes a
shift). So the count of nonzero weights, of their signed digits and of the DSP-sized
products at every candidate width stands in for the adder graph, without building it.

Weights are put on the grid calibration gives them (max-abs integer bits, round half to
even, saturate): codesign.quant.calibrate's rule for `--uniform` designs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_BITS = 32  # widths tabulated: 1..MAX_BITS (wider candidates use the last row)


def quantize_weights(weight: np.ndarray, bits: int) -> np.ndarray:
    """Integer mantissas of `weight` as a signed `bits`-wide type with max-abs range."""
    w = np.asarray(weight, dtype=np.float64).ravel()
    top = float(np.max(np.abs(w))) if w.size else 0.0
    integer = int(np.floor(np.log2(top))) + 2 if top > 0 else 1
    frac = bits - integer
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(np.rint(w * 2.0**frac), lo, hi).astype(np.int64)


def csd_digits(values: np.ndarray) -> np.ndarray:
    """Nonzero digits of each integer's canonical signed-digit (non-adjacent) form."""
    n = np.abs(np.asarray(values, dtype=np.int64))
    half = n >> 1
    three_halves = n + half
    changed = half ^ three_halves
    digits = np.zeros(n.shape, dtype=np.int64)
    for word in (three_halves & changed, half & changed):
        w = word.copy()
        while np.any(w):
            digits += w & 1
            w >>= 1
    return digits


def signed_bits(values: np.ndarray) -> np.ndarray:
    """Bits of each integer as a signed constant (what Yosys keeps of it)."""
    v = np.asarray(values, dtype=np.int64)
    mag = np.where(v < 0, -v - 1, v)
    return np.where(mag > 0, np.floor(np.log2(np.maximum(mag, 1))).astype(np.int64) + 2, 1)


@dataclass(frozen=True)
class WeightTables:
    """Per candidate width b (row b-1): statistics of the weights quantized at b bits.

    nonzero[b]: nonzero weights; digits[b]: their CSD digits in total; shifts[b]: those
    that are a signed power of two (one digit: a wire, no multiplier); mult_bits[b, L]:
    the other nonzero weights whose signed constant is L bits (a real multiplier);
    pos_bits[b, L] / neg_bits[b, L]: the same split by sign, positive ones counted by
    their unsigned width (times an unsigned input, Yosys makes that product unsigned)."""

    nonzero: np.ndarray  # (MAX_BITS,)
    digits: np.ndarray  # (MAX_BITS,)
    shifts: np.ndarray  # (MAX_BITS,)
    mult_bits: np.ndarray  # (MAX_BITS, MAX_BITS + 2)
    pos_bits: np.ndarray  # (MAX_BITS, MAX_BITS + 2)
    neg_bits: np.ndarray  # (MAX_BITS, MAX_BITS + 2)

    @classmethod
    def of(cls, weight: np.ndarray) -> WeightTables:
        nonzero = np.zeros(MAX_BITS)
        digits = np.zeros(MAX_BITS)
        shifts = np.zeros(MAX_BITS)
        mult_bits = np.zeros((MAX_BITS, MAX_BITS + 2))
        pos_bits = np.zeros((MAX_BITS, MAX_BITS + 2))
        neg_bits = np.zeros((MAX_BITS, MAX_BITS + 2))
        for b in range(1, MAX_BITS + 1):
            q = quantize_weights(weight, b)
            d = csd_digits(q)
            nz = q != 0
            nonzero[b - 1] = nz.sum()
            digits[b - 1] = d.sum()
            shifts[b - 1] = (d == 1).sum()
            real = d > 1
            mult_bits[b - 1] = np.bincount(signed_bits(q[real]), minlength=MAX_BITS + 2)[
                :MAX_BITS + 2]
            pos = q[real & (q > 0)]
            ubits = np.floor(np.log2(np.maximum(pos, 1))).astype(np.int64) + 1
            pos_bits[b - 1] = np.bincount(ubits, minlength=MAX_BITS + 2)[:MAX_BITS + 2]
            neg_bits[b - 1] = np.bincount(signed_bits(q[real & (q < 0)]),
                                          minlength=MAX_BITS + 2)[:MAX_BITS + 2]
        return cls(nonzero, digits, shifts, mult_bits, pos_bits, neg_bits)
