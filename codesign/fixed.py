"""Fixed-point types with the exact semantics of Xilinx ``ap_fixed`` (ap_fixed_base.h).

Every back end (bit-accurate model, hls4ml C simulation, RTL) must compute the same
integers, so this module is the single definition of how a real number or an integer
on one grid becomes a mantissa of a :class:`FixedType`. A value is held as an integer
mantissa ``m`` meaning ``m * 2**-frac``.

Both conversions (``to_int`` from doubles, ``cast_int`` from another grid) go through
one exact integer routine, :func:`_requantize`: one rounding decision, then one
overflow rule. It is checked exhaustively against the real headers (tests/test_fixed.py).

Limits: mantissas are ``int64``, so arithmetic is exact for signed widths up to 64 and
unsigned widths up to 63; an ``ap_ufixed<64,...>`` can be named, parsed and printed but
not computed with (a clear :class:`~codesign.errors.DesignError` says so).
"""

from __future__ import annotations

import dataclasses
import numbers
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from codesign.errors import DesignError

__all__ = ["FixedType", "Overflow", "Rounding", "lossless_add_type"]

MAX_WIDTH = 64
# Integer bits are bounded so that lsb and range stay finite doubles and far from the
# subnormal range (where the headers misread denormal doubles); no hardware comes close.
MAX_ABS_INTEGER = 512


class Rounding(str, Enum):
    """ap_q_mode: how dropped fraction bits are rounded (values are the names, no AP_)."""

    TRN = "TRN"  # floor (toward -inf)
    RND = "RND"  # nearest, ties toward +inf
    RND_ZERO = "RND_ZERO"  # nearest, ties toward zero
    RND_MIN_INF = "RND_MIN_INF"  # nearest, ties toward -inf
    RND_INF = "RND_INF"  # nearest, ties away from zero
    RND_CONV = "RND_CONV"  # nearest, ties to even
    TRN_ZERO = "TRN_ZERO"  # toward zero

    def __str__(self) -> str:
        return self.value


class Overflow(str, Enum):
    """ap_o_mode: what happens to a rounded value outside the type's range."""

    WRAP = "WRAP"  # two's complement modulo 2**W
    SAT = "SAT"  # clamp to [min, max]
    SAT_ZERO = "SAT_ZERO"  # zero on overflow
    SAT_SYM = "SAT_SYM"  # signed: clamp to [-max, max]; unsigned: like SAT

    def __str__(self) -> str:
        return self.value


_ACCEPTED = (
    "ap_fixed<W,I>, ap_fixed<W,I,AP_<rounding>>, ap_fixed<W,I,AP_<rounding>,AP_<overflow>>, "
    "ap_fixed<W,I,AP_<rounding>,AP_<overflow>,0>, the same with ap_ufixed, ap_int<W> or "
    f"ap_uint<W>; rounding one of {', '.join(r.value for r in Rounding)}; overflow one of "
    f"{', '.join(o.value for o in Overflow)}"
)
_TYPE_RE = re.compile(r"^\s*ap_(u?)(fixed|int)\s*<(.*)>\s*$", re.DOTALL)
_INT_RE = re.compile(r"^[+-]?\d+$")


def _coerce_mode(value: Any, enum: type[Rounding] | type[Overflow], what: str) -> Any:
    """Accept the enum, its name, or its C++ spelling (``AP_RND``), so YAML can say either."""
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        name = value.strip()
        name = name[3:] if name.startswith("AP_") else name
        try:
            return enum(name)
        except ValueError:
            pass
    choices = ", ".join(m.value for m in enum)
    raise DesignError(f"{what} mode {value!r} is not one of {choices}")


@dataclass(frozen=True)
class FixedType:
    """An ap_fixed / ap_ufixed type: W total bits, I integer bits (sign bit included).

    I may be negative or larger than W, as in ap_fixed; ``frac = W - I`` fraction bits.
    """

    width: int
    integer: int
    signed: bool = True
    rounding: Rounding = Rounding.TRN
    overflow: Overflow = Overflow.WRAP

    def __post_init__(self) -> None:
        width, integer = self.width, self.integer
        if (
            isinstance(width, bool)
            or not isinstance(width, numbers.Integral)
            or not 1 <= int(width) <= MAX_WIDTH
        ):
            raise DesignError(
                f"fixed-point width {width!r} is invalid: it must be an integer from 1 to "
                f"{MAX_WIDTH} (total bits, sign included)"
            )
        if (
            isinstance(integer, bool)
            or not isinstance(integer, numbers.Integral)
            or not -MAX_ABS_INTEGER <= int(integer) <= MAX_ABS_INTEGER
        ):
            raise DesignError(
                f"fixed-point integer bits {integer!r} is invalid: it must be an integer from "
                f"{-MAX_ABS_INTEGER} to {MAX_ABS_INTEGER}"
            )
        if not isinstance(self.signed, (bool, np.bool_)):
            raise DesignError(f"fixed-point signed flag {self.signed!r} must be true or false")
        object.__setattr__(self, "width", int(width))
        object.__setattr__(self, "integer", int(integer))
        object.__setattr__(self, "signed", bool(self.signed))
        object.__setattr__(self, "rounding", _coerce_mode(self.rounding, Rounding, "rounding"))
        object.__setattr__(self, "overflow", _coerce_mode(self.overflow, Overflow, "overflow"))

    # ----------------------------------------------------------------- derived numbers
    @property
    def frac(self) -> int:
        """Fraction bits: the mantissa m means m * 2**-frac."""
        return self.width - self.integer

    @property
    def lsb(self) -> float:
        """Value of one mantissa step."""
        return 2.0**-self.frac

    @property
    def min_int(self) -> int:
        """Smallest mantissa."""
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_int(self) -> int:
        """Largest mantissa."""
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def min_value(self) -> float:
        """Smallest representable value."""
        return self.min_int * self.lsb

    @property
    def max_value(self) -> float:
        """Largest representable value."""
        return self.max_int * self.lsb

    # ----------------------------------------------------------------- text
    @classmethod
    def parse(cls, text: str) -> FixedType:
        """Read hls4ml's spelling, e.g. ``ap_fixed<8,3,AP_RND,AP_SAT>`` or ``ap_uint<4>``."""

        def bad(why: str) -> DesignError:
            return DesignError(
                f"cannot read fixed-point type {text!r}: {why}; accepted: {_ACCEPTED}"
            )

        if not isinstance(text, str):
            raise bad("not a string")
        match = _TYPE_RE.match(text)
        if match is None:
            raise bad("not an ap_fixed / ap_ufixed / ap_int / ap_uint spelling")
        unsigned, kind, body = match.groups()
        fields = [f.strip() for f in body.split(",")]
        nfields = (1, 1) if kind == "int" else (2, 5)
        if not nfields[0] <= len(fields) <= nfields[1]:
            raise bad(f"ap_{unsigned}{kind} takes {'1' if kind == 'int' else '2 to 5'} fields")
        for f in fields[:2]:
            if not _INT_RE.match(f):
                raise bad(f"{f!r} is not an integer")
        width = int(fields[0])
        integer = width if kind == "int" else int(fields[1])
        modes: dict[str, Any] = {}
        if len(fields) >= 3:
            if not fields[2].startswith("AP_"):
                raise bad(f"rounding {fields[2]!r} must be spelled AP_<mode>")
            modes["rounding"] = fields[2]
        if len(fields) >= 4:
            if not fields[3].startswith("AP_"):
                raise bad(f"overflow {fields[3]!r} must be spelled AP_<mode>")
            modes["overflow"] = fields[3]
        if len(fields) == 5 and (not _INT_RE.match(fields[4]) or int(fields[4]) != 0):
            raise bad(f"saturation bits {fields[4]!r} are not supported (only 0)")
        try:
            return cls(width, integer, signed=not unsigned, **modes)
        except DesignError as err:
            raise bad(str(err)) from None

    def __str__(self) -> str:
        kind = "ap_fixed" if self.signed else "ap_ufixed"
        if self.rounding is Rounding.TRN and self.overflow is Overflow.WRAP:
            return f"{kind}<{self.width},{self.integer}>"
        return f"{kind}<{self.width},{self.integer},AP_{self.rounding},AP_{self.overflow}>"

    def with_(self, **changes: Any) -> FixedType:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # ----------------------------------------------------------------- arithmetic
    def to_int(self, x: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Mantissas of real values x after this type's rounding and overflow (like ``T y = x``).

        Each double is split exactly into an integer and a power of two (frexp), so the
        conversion is exact integer arithmetic for every finite double, however large or
        small. NaN and infinities are refused (the headers give garbage for them).
        """
        self._check_computable()
        arr = np.asarray(x, dtype=np.float64)
        shape = arr.shape
        flat = np.atleast_1d(arr).ravel()
        if not np.all(np.isfinite(flat)):
            bad = flat[~np.isfinite(flat)][0]
            raise ValueError(
                f"cannot convert {bad} to {self}: NaN and infinite inputs have no fixed-point value"
            )
        fast = _to_int_small(self, flat)
        if fast is not None:
            return fast.reshape(shape)
        frac_part, exp = np.frexp(flat)  # flat = frac_part * 2**exp, 0.5 <= |frac_part| < 1
        mant = np.ldexp(frac_part, 53).astype(np.int64)  # exact: |mant| < 2**53
        shift = exp.astype(np.int64) - 53 + self.frac
        return _requantize(self, mant, shift).reshape(shape)

    def quantize(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Real values x as this type holds them (exact while |mantissa| < 2**53)."""
        return self.to_int(x) * self.lsb

    def cast_int(self, m: npt.ArrayLike, frac: int) -> npt.NDArray[np.int64]:
        """Requantize mantissas m on the grid 2**-frac into this type (like ``T y = src``).

        Exact integer arithmetic (shifts), for any frac; what the bit-accurate model uses
        to cast a product or accumulator to its result type.
        """
        self._check_computable()
        if isinstance(frac, bool) or not isinstance(frac, numbers.Integral):
            raise TypeError(f"frac must be an integer, got {frac!r}")
        arr = np.asarray(m)
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise ValueError(f"cast_int needs integer mantissas, got non-integers for {self}")
        elif arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise ValueError(f"cast_int: mantissa {int(arr.max())} does not fit int64")
        elif arr.dtype.kind not in "iub":
            raise TypeError(f"cast_int needs integer mantissas, got dtype {arr.dtype}")
        shape = arr.shape
        flat = np.atleast_1d(arr).astype(np.int64).ravel()
        fast = _cast_small(self, flat, self.frac - int(frac))
        if fast is not None:
            return fast.reshape(shape)
        shift = np.full(flat.shape, self.frac - int(frac), dtype=np.int64)
        return _requantize(self, flat, shift).reshape(shape)

    def _check_computable(self) -> None:
        if not self.signed and self.width > 63:
            raise DesignError(
                f"{self}: unsigned mantissas up to 2**{self.width}-1 do not fit int64; "
                "arithmetic supports unsigned widths up to 63 (signed up to 64)"
            )


# --------------------------------------------------------------------- the one truth
def _round_increment(
    rounding: Rounding,
    floor: npt.NDArray[np.int64],
    half: npt.NDArray[np.bool_],
    rest: npt.NDArray[np.bool_],
    neg: npt.NDArray[np.bool_],
) -> npt.NDArray[np.bool_]:
    """Whether to add 1 to the floor: ap_fixed_base::quantization_adjust, bit for bit.

    half: the first dropped bit (remainder >= 1/2 lsb); rest: any dropped bit below it;
    neg: the exact value is negative.
    """
    if rounding is Rounding.TRN:
        return np.zeros_like(half)
    if rounding is Rounding.TRN_ZERO:
        return neg & (half | rest)
    if rounding is Rounding.RND:
        return half
    if rounding is Rounding.RND_ZERO:
        return half & (neg | rest)
    if rounding is Rounding.RND_MIN_INF:
        return half & rest
    if rounding is Rounding.RND_INF:
        return half & (~neg | rest)
    if rounding is Rounding.RND_CONV:
        return half & (((floor & 1) == 1) | rest)
    raise AssertionError(rounding)


def _overflow(
    t: FixedType,
    value: npt.NDArray[np.int64],
    fits: npt.NDArray[np.bool_],
    low: npt.NDArray[np.uint64],
    neg: npt.NDArray[np.bool_],
) -> npt.NDArray[np.int64]:
    """Apply t's overflow mode to the rounded value: ap_fixed_base::overflow_adjust.

    value is the exact rounded mantissa where fits (elsewhere it is beyond int64 and
    certainly out of range), low its residue mod 2**64, neg its sign.
    """
    w = t.width
    if t.overflow is Overflow.WRAP:
        if t.signed:  # sign-extend bit W-1
            return (low << np.uint64(64 - w)).view(np.int64) >> np.int64(64 - w)
        return (low & np.uint64((1 << w) - 1)).view(np.int64)
    in_range = fits & (value >= t.min_int) & (value <= t.max_int)
    if t.overflow is Overflow.SAT_ZERO:
        return np.where(in_range, value, np.int64(0))
    low_sat = t.min_int
    if t.overflow is Overflow.SAT_SYM and t.signed and w > 1:
        # The headers also treat an in-range -2**(W-1) as underflow and give -(2**(W-1)-1).
        # For W == 1 they set the pattern 1, i.e. -1: there SAT_SYM is plain SAT.
        in_range &= value != t.min_int
        low_sat = t.min_int + 1
    return np.where(in_range, value, np.where(neg, np.int64(low_sat), np.int64(t.max_int)))


def _requantize(
    t: FixedType, m: npt.NDArray[np.int64], shift: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Mantissas of t for the exact values m * 2**shift (in units of t's lsb).

    shift < 0 drops -shift bits (rounding); shift > 0 appends zeros (possible overflow).
    All in int64/uint64 with shift amounts clamped to 63, which is exact because
    |m| < 2**63: beyond that every dropped or kept bit is a copy of the sign.
    """
    neg = m < 0
    m_u = m.astype(np.uint64)  # two's complement bits, for masks and left shifts
    # -- rounding: floor, then the first dropped bit and the sticky rest below it
    drop = np.maximum(-shift, 0)
    floor = m >> np.minimum(drop, 63)
    half_pos = np.clip(drop - 1, 0, 63)
    half = (drop > 0) & (((m >> half_pos) & 1) == 1)
    rest_mask = (np.uint64(1) << half_pos.astype(np.uint64)) - np.uint64(1)
    rest = ((m_u & rest_mask) != 0) | ((drop > 64) & neg)
    rounded = floor + _round_increment(t.rounding, floor, half, rest, neg)
    # -- widening: shift left, tracking whether the result still fits int64
    up = np.clip(shift, 0, 63)
    shifted_u = m_u << up.astype(np.uint64)
    shifted = shifted_u.view(np.int64)
    fits_up = (m == 0) | ((shift <= 63) & ((shifted >> up) == m))
    widen = shift > 0
    value = np.where(widen, shifted, rounded)
    fits = np.where(widen, fits_up, True)
    low = np.where(widen, np.where(shift >= 64, np.uint64(0), shifted_u), rounded.astype(np.uint64))
    return _overflow(t, value, fits, low, neg)


def _cast_small(t: FixedType, m: npt.NDArray[np.int64], shift: int
                ) -> npt.NDArray[np.int64] | None:
    """cast_int's common case in a few whole-array operations: one shift for all values,
    mantissas and widths well inside int64. The same rounding and overflow rules as
    _requantize (tested against each other); returns None outside its domain."""
    if t.width > 62 or not -62 <= shift <= 62 or m.size == 0:
        return None
    lo, hi = int(m.min()), int(m.max())
    bound = max(-lo, hi)
    if shift >= 0:
        if bound >= 1 << (62 - shift):
            return None
        lo, hi = lo << shift, hi << shift
        value = m << shift if shift else m
    else:
        drop = -shift
        if bound >= 1 << 62:
            return None
        floor = m >> drop
        if t.rounding is Rounding.TRN:
            value = floor
        else:
            rem = m - (floor << drop)  # the dropped bits, 0 <= rem < 2**drop
            half_bit = 1 << (drop - 1)
            half = rem >= half_bit
            rest = (rem & (half_bit - 1)) != 0
            value = floor + _round_increment(t.rounding, floor, half, rest, m < 0)
        lo, hi = (lo >> drop) - 1, (hi >> drop) + 1  # bounds of value, rounding included
    return _overflow_small(t, value, lo, hi)


def _to_int_small(t: FixedType, x: npt.NDArray[np.float64]) -> npt.NDArray[np.int64] | None:
    """to_int's common case in float64: with 0 <= frac and |x| * 2**frac < 2**52, scaling,
    floor and remainder are all exact. The same rounding rules; None outside that domain."""
    if t.width > 62 or not 0 <= t.frac <= 60 or x.size == 0:
        return None
    v = x * float(2**t.frac)
    top = float(np.max(np.abs(v)))
    if top >= 2.0**52:
        return None
    floor = np.floor(v)
    value = floor.astype(np.int64)
    if t.rounding is not Rounding.TRN:
        rem = v - floor  # exact, in [0, 1)
        half = rem >= 0.5
        rest = np.where(half, rem > 0.5, rem > 0)
        value = value + _round_increment(t.rounding, value, half, rest, v < 0)
    bound = int(top) + 1
    return _overflow_small(t, value, -bound - 1, bound + 1)


def _overflow_small(t: FixedType, value: npt.NDArray[np.int64], lo: int, hi: int
                    ) -> npt.NDArray[np.int64]:
    """t's overflow mode on int64 values known to lie in [lo, hi]: skipped when nothing can
    overflow (SAT_SYM's -2**(W-1) included), else the one overflow rule, _overflow."""
    if lo >= t.min_int + 1 and hi <= t.max_int:
        return value
    return _overflow(t, value, np.ones(value.shape, dtype=bool), value.view(np.uint64),
                     value < 0)


def lossless_add_type(a: FixedType, b: FixedType) -> FixedType:
    """Smallest type (default modes) that holds every a + b exactly: the safe accumulator."""
    frac = max(a.frac, b.frac)
    lo = (a.min_int << (frac - a.frac)) + (b.min_int << (frac - b.frac))
    hi = (a.max_int << (frac - a.frac)) + (b.max_int << (frac - b.frac))
    signed = a.signed or b.signed
    # bits for the magnitude, plus the sign bit when signed (int.bit_length is exact)
    if signed:
        width = 1 + max(hi.bit_length(), (-lo - 1).bit_length())
    else:
        width = max(hi.bit_length(), 1)
    if width > MAX_WIDTH:
        raise DesignError(f"{a} + {b} needs {width} bits, more than the {MAX_WIDTH} supported")
    return FixedType(width, width - frac, signed)
