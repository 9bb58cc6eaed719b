"""FixedType against the real ap_fixed headers (the ones hls4ml ships), bit for bit.

One C++ program, compiled once per session, converts a table of inputs for every
rounding x overflow x signedness combination on small and wide types; our to_int and
cast_int must give the same mantissas. The table travels through one file, so the whole
comparison is one process run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from codesign.errors import DesignError
from codesign.fixed import FixedType, Overflow, Rounding, lossless_add_type

MODES = [(r, o) for r in Rounding for o in Overflow]
# (W, I): W = 1, I = 0, I < 0, I > W, ordinary; each signed and unsigned, all 28 modes.
SMALL_SHAPES = [(1, 1), (2, 1), (3, 0), (4, 2), (4, 6), (5, -1), (6, 3)]
# Wide types exercise the int64 limits of cast_int and doubles with all 53 bits.
WIDE_SHAPES = [(64, -3, True), (63, 10, False), (62, 70, True)]

SMALL_TARGETS = [
    FixedType(w, i, s, r, o) for (w, i) in SMALL_SHAPES for s in (True, False) for r, o in MODES
]
WIDE_TARGETS = [FixedType(w, i, s, r, o) for (w, i, s) in WIDE_SHAPES for r, o in MODES]
ALL_TARGETS = SMALL_TARGETS + WIDE_TARGETS
# Sources for fixed -> fixed: more and fewer fraction bits than the targets, both signs.
SMALL_SOURCES = [FixedType(7, 3), FixedType(6, 2, False), FixedType(8, -1)]
WIDE_SOURCES = [FixedType(64, 30), FixedType(60, 50, False)]

RNG_SEED = 20240611
# NDEBUG: for a rounding cast whose target lsb is more than W2 bits above the source's,
# operator= reads a bit beyond the source MSB (value unused) and ap_private asserts.
CXX_FLAGS = ["-std=c++14", "-O1", "-w", "-DNDEBUG"]


def _cpp_type(t: FixedType) -> str:
    kind = "ap_fixed" if t.signed else "ap_ufixed"
    return f"{kind}<{t.width}, {t.integer}, AP_{t.rounding.value}, AP_{t.overflow.value}>"


def _double_inputs(t: FixedType, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Every quarter-lsb from beyond -3x to beyond +3x the range, extremes, and noise."""
    span = max(abs(t.min_value), abs(t.max_value), t.lsb)
    step = t.lsb / 4
    extras = np.array([1e300, 1e-300, 5e-324, 0.0, 2.0**63, 2.0**64])
    if t.width <= 8:
        n = int(np.ceil(3 * span / step)) + 8
        grid = np.arange(-n, n + 1) * step
        noise = rng.uniform(-4 * span, 4 * span, 100)
        far = np.array([10 * span, 1e3 * span])
        return np.concatenate([grid, noise, far, -far, extras, -extras])
    # Wide: exact ties (m + 1/2) lsb at all magnitudes, log-uniform values, boundaries.
    e = rng.integers(0, 52, 300)
    m = rng.integers(-(2**e), 2**e)
    ties = (2 * m + 1) * (t.lsb / 2)
    mags = 2.0 ** rng.uniform(-5, t.width + 3, 300)
    logs = rng.choice([-1.0, 1.0], 300) * mags * t.lsb
    quarter = rng.integers(-(2**40), 2**40, 100) * step
    bounds = np.array([t.min_value, t.max_value, t.max_value + t.lsb / 2, t.min_value - t.lsb])
    bounds = np.concatenate([bounds, np.nextafter(bounds, np.inf), np.nextafter(bounds, -np.inf)])
    return np.concatenate([ties, logs, quarter, bounds, -bounds, extras, -extras])


def _source_mantissas(s: FixedType, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """All mantissas of a small source; extremes and log-spread randoms of a wide one."""
    if s.width <= 12:
        return np.arange(s.min_int, s.max_int + 1, dtype=np.int64)
    e = rng.integers(0, s.width - 1, 400)
    lo = np.maximum(-(2**e), s.min_int)
    rand = rng.integers(lo, 2**e, dtype=np.int64)
    edges = [s.min_int, s.min_int + 1, s.max_int, s.max_int - 1, 0, 1, -1, 2, -2]
    edges = [v for v in edges if s.min_int <= v <= s.max_int]
    return np.concatenate([rand, np.array(edges, dtype=np.int64)])


Job = tuple[FixedType, FixedType | None, np.ndarray]  # target, source (None: double), inputs


def _jobs() -> list[Job]:
    rng = np.random.default_rng(RNG_SEED)
    jobs: list[Job] = [(t, None, _double_inputs(t, rng)) for t in ALL_TARGETS]
    src_inputs = {s: _source_mantissas(s, rng) for s in SMALL_SOURCES + WIDE_SOURCES}
    jobs += [(t, s, src_inputs[s]) for t in SMALL_TARGETS for s in SMALL_SOURCES]
    jobs += [(t, s, src_inputs[s]) for t in WIDE_TARGETS for s in WIDE_SOURCES]
    return jobs


@dataclasses.dataclass(repr=False)
class Reference:
    """Inputs and the headers' mantissas, per target (double) and (target, source)."""

    doubles: dict[FixedType, tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]]
    casts: dict[tuple[FixedType, FixedType], tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]

    def __repr__(self) -> str:  # short: pytest prints fixture values in failure reports
        return f"Reference({len(self.doubles)} double tables, {len(self.casts)} cast tables)"


def _ap_types_dir() -> Path:
    spec = importlib.util.find_spec("hls4ml")  # locate hls4ml without importing it (slow)
    assert spec is not None and spec.origin is not None, "hls4ml is not installed"
    folder = Path(spec.origin).parent / "templates" / "vivado" / "ap_types"
    assert (folder / "ap_fixed.h").is_file(), f"ap_fixed.h not found in {folder}"
    return folder


def _bits_to_mantissa(bits: npt.NDArray[np.uint64], t: FixedType) -> npt.NDArray[np.int64]:
    shift = np.uint64(64 - t.width)
    if t.signed:
        return (bits << shift).view(np.int64) >> np.int64(64 - t.width)
    return (bits & np.uint64((1 << t.width) - 1)).view(np.int64)


def _build_and_run(gxx: str, work: Path, runners: list[str], table: str) -> str:
    """Compile the runners in parallel translation units, link, feed the table, return stdout."""
    ap_types = _ap_types_dir()
    nparts = max(1, min(os.cpu_count() or 1, 8))
    size = -(-len(runners) // nparts)
    parts = [runners[k : k + size] for k in range(0, len(runners), size)]
    sources = []
    for k, chunk in enumerate(parts):
        body = ",\n    ".join(chunk)
        text = f"{_CPP_PRELUDE}\nextern const runner PART{k}[] = {{\n    {body}\n}};\n"
        (work / f"part{k}.cpp").write_text(text)
        sources.append(f"part{k}.cpp")
    externs = "".join(f"extern const runner PART{k}[];\n" for k in range(len(parts)))
    table_of_parts = ", ".join(f"PART{k}" for k in range(len(parts)))
    main = _CPP_MAIN.format(externs=externs, parts=table_of_parts, size=size)
    (work / "main.cpp").write_text(main)
    sources.append("main.cpp")
    procs = [
        subprocess.Popen(
            [gxx, *CXX_FLAGS, f"-I{ap_types}", "-c", src],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for src in sources
    ]
    for src, proc in zip(sources, procs, strict=True):
        _, err = proc.communicate()
        if proc.returncode != 0:
            pytest.fail(f"compiling the ap_fixed reference {work / src} failed:\n{err[-4000:]}")
    objects = [src.replace(".cpp", ".o") for src in sources]
    link = subprocess.run([gxx, *objects, "-o", "ref"], cwd=work, capture_output=True, text=True)
    if link.returncode != 0:
        pytest.fail(f"linking the ap_fixed reference failed:\n{link.stderr[-4000:]}")
    run = subprocess.run(
        [str(work / "ref")], input=table, capture_output=True, text=True, check=False
    )
    if run.returncode != 0:
        pytest.fail(f"the ap_fixed reference program failed:\n{run.stderr[-4000:]}")
    return run.stdout


@contextlib.contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    """One builder at a time (pytest-xdist workers each run session fixtures)."""
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def reference(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The headers' answers for the whole table: built once per session, or reused.

    Compiling a few thousand ap_fixed instantiations takes about a minute, so the output
    is kept in pytest's cache, keyed by everything it depends on (compiler version,
    headers, program, inputs); ``--cache-clear`` forces a rebuild.
    """
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.fail("g++ is not on PATH: the ap_fixed reference tests need it (apt install g++)")
    jobs = _jobs()
    runners, table = [], []
    for idx, (t, s, values) in enumerate(jobs):
        if s is None:
            runners.append(f"from_double<{_cpp_type(t)} >")
            text = "\n".join(float(v).hex() for v in values)
        else:
            runners.append(f"from_fixed<{_cpp_type(t)}, {_cpp_type(s)} >")
            text = "\n".join(str(int(v)) for v in values)
        table.append(f"{idx} {len(values)}\n{text}\n")
    table_text = "".join(table)

    version = subprocess.run([gxx, "--version"], capture_output=True, text=True).stdout
    digest = hashlib.sha256()
    for piece in (version, " ".join(CXX_FLAGS), _CPP_PRELUDE, _CPP_MAIN, *runners, table_text):
        digest.update(piece.encode())
    for header in sorted(_ap_types_dir().rglob("*.h")):
        digest.update(header.read_bytes())
    key = digest.hexdigest()[:24]

    cache = getattr(pytestconfig, "cache", None)
    if cache is None:  # cache plugin disabled: build every session
        stdout = _build_and_run(gxx, tmp_path_factory.mktemp("ap_fixed_ref"), runners, table_text)
    else:
        folder = cache.mkdir("ap_fixed_reference")
        stored = folder / f"{key}.out"
        with _locked(folder / "lock"):
            if not stored.is_file():
                work = tmp_path_factory.mktemp("ap_fixed_ref")
                stdout = _build_and_run(gxx, work, runners, table_text)
                for old in folder.glob("*.out"):
                    old.unlink()
                (work / "out.txt").write_text(stdout)
                os.replace(work / "out.txt", stored)
        stdout = stored.read_text()

    out = np.array(stdout.split(), dtype=np.uint64)
    assert out.size == sum(len(j[2]) for j in jobs), "reference printed a wrong number of lines"
    ref = Reference(doubles={}, casts={})
    pos = 0
    for t, s, values in jobs:
        got = _bits_to_mantissa(out[pos : pos + len(values)], t)
        pos += len(values)
        if s is None:
            ref.doubles[t] = (values, got)
        else:
            ref.casts[(t, s)] = (values, got)
    return ref


_CPP_PRELUDE = r"""
#include <cstdio>
#include <cstdlib>
#include "ap_fixed.h"

typedef void (*runner)(long);
template <class T> static void emit(const T& y) {
  std::printf("%llu\n", (unsigned long long)y.bits_to_uint64());
}
template <class T> static void from_double(long n) {
  for (long i = 0; i < n; ++i) {
    double x;
    if (std::scanf("%la", &x) != 1) std::abort();
    T y = x;
    emit(y);
  }
}
template <class T, class S> static void from_fixed(long n) {
  for (long i = 0; i < n; ++i) {
    long long m;
    if (std::scanf("%lld", &m) != 1) std::abort();
    S s;
    s.setBits((ap_ulong)m);
    T y = s;
    emit(y);
  }
}
"""

_CPP_MAIN = r"""
#include <cstdio>
typedef void (*runner)(long);
{externs}
static const runner* const PARTS[] = {{ {parts} }};
int main() {{
  long idx, n;
  while (std::scanf("%ld %ld", &idx, &n) == 2) PARTS[idx / {size}][idx % {size}](n);
  return 0;
}}
"""


def _mismatch_report(inputs: np.ndarray, want: np.ndarray, got: np.ndarray, label: str) -> str:
    bad = np.flatnonzero(want != got)
    rows = [f"  {label}={inputs[i].item()!r}: ap_fixed {want[i]}, ours {got[i]}" for i in bad[:12]]
    return f"{bad.size} of {inputs.size} differ:\n" + "\n".join(rows)


@pytest.mark.parametrize("target", ALL_TARGETS, ids=str)
def test_double_to_fixed_matches_headers(reference: Reference, target: FixedType) -> None:
    inputs, want = reference.doubles[target]
    got = target.to_int(inputs)
    assert got.dtype == np.int64
    assert np.array_equal(got, want), _mismatch_report(inputs, want, got, "x")


@pytest.mark.parametrize("target", ALL_TARGETS, ids=str)
def test_fixed_to_fixed_matches_headers(reference: Reference, target: FixedType) -> None:
    sources = SMALL_SOURCES if target in SMALL_TARGETS else WIDE_SOURCES
    for source in sources:
        mantissas, want = reference.casts[(target, source)]
        got = target.cast_int(mantissas, source.frac)
        assert got.dtype == np.int64
        assert np.array_equal(got, want), f"from {source}: " + _mismatch_report(
            mantissas, want, got, "m"
        )


def test_reference_sees_every_mode(reference: Reference) -> None:
    """Guard the harness: on ap_fixed<6,3> all 28 modes give 28 different answers."""
    answers = {reference.doubles[FixedType(6, 3, True, r, o)][1].tobytes() for r, o in MODES}
    assert len(answers) == len(MODES)


# ------------------------------------------------------------------------- unit tests
def test_documented_corner_cases() -> None:
    """The surprising header behaviours, spelled out (all confirmed by the table above)."""
    sym = FixedType(4, 4, rounding="TRN", overflow="SAT_SYM")
    assert sym.to_int([-8.0, -9.0, 8.0, -7.0]).tolist() == [-7, -7, 7, -7]
    assert sym.cast_int([-8], 0).tolist() == [-7]  # in-range -2**(W-1) becomes -max too
    assert FixedType(1, 1, overflow="SAT_SYM").to_int([-1.0, -5.0]).tolist() == [-1, -1]
    usym = FixedType(4, 4, signed=False, overflow="SAT_SYM")
    assert usym.to_int([-1.0, 20.0]).tolist() == [0, 15]  # unsigned SAT_SYM is SAT
    uwrap = FixedType(4, 4, signed=False)
    assert uwrap.to_int([-1.0, -0.5]).tolist() == [15, 15]  # negative -> modulo 2**W
    assert FixedType(4, 4, signed=False, overflow="SAT_ZERO").to_int(-1.0).tolist() == 0


def test_rounding_modes_on_ties() -> None:
    x = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.25, 1.25, -1.75, 1.75]
    want = {
        "TRN": [-3, -2, -1, 0, 1, 2, -2, 1, -2, 1],
        "TRN_ZERO": [-2, -1, 0, 0, 1, 2, -1, 1, -1, 1],
        "RND": [-2, -1, 0, 1, 2, 3, -1, 1, -2, 2],
        "RND_ZERO": [-2, -1, 0, 0, 1, 2, -1, 1, -2, 2],
        "RND_MIN_INF": [-3, -2, -1, 0, 1, 2, -1, 1, -2, 2],
        "RND_INF": [-3, -2, -1, 1, 2, 3, -1, 1, -2, 2],
        "RND_CONV": [-2, -2, 0, 0, 2, 2, -1, 1, -2, 2],
    }
    for mode, expected in want.items():
        t = FixedType(8, 8, rounding=mode)
        assert t.to_int(x).tolist() == expected, mode
        assert t.cast_int(np.array(x) * 4, 2).tolist() == expected, mode


SPELLINGS = [
    ("ap_fixed<8,3>", FixedType(8, 3), "ap_fixed<8,3>"),
    ("ap_fixed<8,3,AP_RND,AP_SAT>", FixedType(8, 3, True, "RND", "SAT"), None),
    ("ap_ufixed<6,0>", FixedType(6, 0, False), None),
    ("ap_fixed<8,-2>", FixedType(8, -2), None),
    (
        "ap_ufixed<4,9,AP_TRN_ZERO,AP_SAT_ZERO>",
        FixedType(4, 9, False, "TRN_ZERO", "SAT_ZERO"),
        None,
    ),
    (
        "ap_fixed<8,3,AP_RND_CONV,AP_SAT_SYM,0>",
        FixedType(8, 3, True, "RND_CONV", "SAT_SYM"),
        "ap_fixed<8,3,AP_RND_CONV,AP_SAT_SYM>",
    ),
    ("ap_fixed<8,3,AP_RND>", FixedType(8, 3, rounding="RND"), "ap_fixed<8,3,AP_RND,AP_WRAP>"),
    ("ap_fixed<8,3,AP_TRN,AP_SAT>", FixedType(8, 3, overflow="SAT"), None),
    ("ap_fixed<8,3,AP_TRN,AP_WRAP>", FixedType(8, 3), "ap_fixed<8,3>"),
    ("ap_int<8>", FixedType(8, 8), "ap_fixed<8,8>"),
    ("ap_uint<4>", FixedType(4, 4, False), "ap_ufixed<4,4>"),
    (
        "  ap_fixed < 16 , 6 , AP_RND_INF , AP_SAT >  ",
        FixedType(16, 6, True, "RND_INF", "SAT"),
        "ap_fixed<16,6,AP_RND_INF,AP_SAT>",
    ),
    ("ap_uint< 64 >", FixedType(64, 64, False), "ap_ufixed<64,64>"),
    ("ap_fixed<1,1>", FixedType(1, 1), None),
]


@pytest.mark.parametrize(
    ("text", "expected", "canonical"), SPELLINGS, ids=[s[0] for s in SPELLINGS]
)
def test_parse_and_print(text: str, expected: FixedType, canonical: str | None) -> None:
    t = FixedType.parse(text)
    assert t == expected
    assert str(t) == (canonical or text)
    assert FixedType.parse(str(t)) == t


def test_every_tested_type_round_trips_through_text() -> None:
    for t in ALL_TARGETS + SMALL_SOURCES + WIDE_SOURCES:
        assert FixedType.parse(str(t)) == t


BAD_SPELLINGS = [
    "",
    "ap_fixed<8>",
    "ap_fixed<8,3",
    "fixed<8,3>",
    "ap_fixed<8.5,3>",
    "ap_fixed<8,3,RND>",
    "ap_fixed<8,3,AP_FOO>",
    "ap_fixed<8,3,AP_RND,AP_WRAP_SM>",
    "ap_fixed<8,3,AP_RND,AP_SAT,2>",
    "ap_fixed<8,3,AP_RND,AP_SAT,0,1>",
    "ap_fixed<0,0>",
    "ap_fixed<65,3>",
    "ap_int<8,3>",
    "ap_int<>",
    "AP_FIXED<8,3>",
    "ap_fixed<8,3> x",
]


@pytest.mark.parametrize("text", BAD_SPELLINGS)
def test_bad_spelling_is_refused_with_the_text_quoted(text: str) -> None:
    with pytest.raises(DesignError) as err:
        FixedType.parse(text)
    assert repr(text) in str(err.value)
    assert "ap_fixed<W,I,AP_<rounding>,AP_<overflow>>" in str(err.value)


@pytest.mark.parametrize("width", [0, -3, 65, 8.0, True, "8", None])
def test_bad_width_is_refused_quoting_it(width: object) -> None:
    with pytest.raises(DesignError, match=re.escape(f"width {width!r} is invalid")):
        FixedType(width, 0)  # type: ignore[arg-type]


def test_validation_and_coercion() -> None:
    assert FixedType(8, 3, rounding="RND", overflow="AP_SAT").overflow is Overflow.SAT
    assert FixedType(8, 3, rounding="AP_RND").rounding is Rounding.RND
    assert FixedType(np.int64(8), np.int32(3)) == FixedType(8, 3)
    assert isinstance(FixedType(np.int64(8), 3).width, int)
    with pytest.raises(DesignError, match="'ROUND'"):
        FixedType(8, 3, rounding="ROUND")
    with pytest.raises(DesignError, match="'WRAP_SM'"):
        FixedType(8, 3, overflow="WRAP_SM")
    with pytest.raises(DesignError, match="integer bits 1000"):
        FixedType(8, 1000)
    with pytest.raises(DesignError, match="signed"):
        FixedType(8, 3, signed="yes")  # type: ignore[arg-type]
    t = FixedType(8, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.width = 9  # type: ignore[misc]
    assert t.with_(rounding="RND") == FixedType(8, 3, rounding=Rounding.RND)
    with pytest.raises(DesignError, match="width 0"):
        t.with_(width=0)
    assert len({t, FixedType(8, 3), t.with_(signed=False)}) == 2
    assert Rounding("RND_CONV") is Rounding.RND_CONV and Rounding.RND == "RND"
    assert Overflow.SAT_SYM.value == "SAT_SYM"


def test_derived_numbers() -> None:
    t = FixedType(8, 3)
    assert (t.frac, t.lsb, t.min_int, t.max_int) == (5, 1 / 32, -128, 127)
    assert (t.min_value, t.max_value) == (-4.0, 127 / 32)
    u = FixedType(6, 0, False)
    assert (u.frac, u.min_int, u.max_int, u.min_value, u.max_value) == (6, 0, 63, 0.0, 63 / 64)
    v = FixedType(4, 6)
    assert (v.frac, v.lsb, v.min_value, v.max_value) == (-2, 4.0, -32.0, 28.0)


def test_to_int_shapes_and_errors() -> None:
    t = FixedType(8, 3, rounding="RND", overflow="SAT")
    scalar = t.to_int(1.0)
    assert isinstance(scalar, np.ndarray) and scalar.shape == () and int(scalar) == 32
    grid = t.to_int(np.ones((2, 3, 4)) * 0.5)
    assert grid.shape == (2, 3, 4) and grid.dtype == np.int64
    assert t.to_int([]).shape == (0,)
    assert np.array_equal(t.quantize([0.1, 100.0]), [3 / 32, 127 / 32])
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="NaN and infinite"):
            t.to_int([0.0, bad])
    with pytest.raises(ValueError, match="integer mantissas"):
        t.cast_int([0.5], 2)
    assert t.cast_int([4.0, 8.0], 2).tolist() == [32, 64]
    assert t.cast_int(np.array([[5, -5]], dtype=np.int8), 0).shape == (1, 2)
    with pytest.raises(DesignError, match="up to 63"):
        FixedType(64, 10, signed=False).to_int([1.0])


def test_cast_int_extreme_shifts_are_exact() -> None:
    """Shifts far beyond 63 bits and int64 extremes, against Python's unbounded ints."""
    big = np.array([2**63 - 1, -(2**63), 1, -1, 0, 3, -3, 2**40 + 1, -(2**52)], dtype=np.int64)
    for t in (FixedType(64, 0, rounding="RND_CONV", overflow="SAT"), FixedType(62, 5)):
        for frac in (-200, -70, -64, -1, 0, 1, 62, 63, 64, 65, 130, 500):
            got = t.cast_int(big, frac).tolist()
            want = [_python_cast(t, int(m), frac) for m in big]
            assert got == want, (str(t), frac)


def _python_cast(t: FixedType, m: int, frac: int) -> int:
    """Plain unbounded-int model of ap_fixed requantization (RND_CONV / TRN, SAT / WRAP)."""
    shift = t.frac - frac
    if shift >= 0:
        v = m << shift
    else:
        q, r = divmod(m, 1 << -shift)
        half = 1 << (-shift - 1)
        up = t.rounding is Rounding.RND_CONV and (r > half or (r == half and q & 1))
        v = q + up
    if t.overflow is Overflow.SAT:
        return min(max(v, t.min_int), t.max_int)
    v %= 1 << t.width
    return v - (1 << t.width) if t.signed and v >= 1 << (t.width - 1) else v


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (FixedType(4, 2), FixedType(3, 0, False)),
        (FixedType(3, 3, False), FixedType(3, 3, False)),
        (FixedType(1, 1), FixedType(1, 1)),
        (FixedType(5, -1), FixedType(4, 6)),
        (FixedType(2, 1), FixedType(6, 3)),
    ],
    ids=str,
)
def test_lossless_add_type_is_exact_and_minimal(a: FixedType, b: FixedType) -> None:
    s = lossless_add_type(a, b)
    ma = np.arange(a.min_int, a.max_int + 1)
    mb = np.arange(b.min_int, b.max_int + 1)
    sums = (ma[:, None] << (s.frac - a.frac)) + (mb[None, :] << (s.frac - b.frac))
    assert np.array_equal(s.cast_int(sums, s.frac), sums)
    narrower = s.with_(width=s.width - 1, integer=s.integer - 1) if s.width > 1 else None
    if narrower is not None:
        assert not np.array_equal(narrower.cast_int(sums, s.frac), sums)


def test_cast_fast_path_matches_the_general_routine() -> None:
    """cast_int's whole-array fast path against _requantize on random wide casts."""
    from codesign.fixed import _cast_small, _requantize

    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(3000):
        width, signed = int(rng.integers(1, 63)), bool(rng.integers(2))
        t = FixedType(width, int(rng.integers(-20, 40)), signed,
                      list(Rounding)[rng.integers(7)], list(Overflow)[rng.integers(4)])
        frac = int(rng.integers(-30, 60))
        mag = int(rng.integers(1, 62))
        m = rng.integers(-(1 << mag), 1 << mag, 64, dtype=np.int64)
        fast = _cast_small(t, m, t.frac - frac)
        if fast is None:
            continue
        want = _requantize(t, m, np.full(m.shape, t.frac - frac, dtype=np.int64))
        assert np.array_equal(fast, want), (str(t), frac, mag)
        checked += 1
    assert checked > 2000  # the fast path really ran


def test_to_int_fast_path_matches_the_general_routine() -> None:
    """to_int's float64 fast path against the exact frexp route, ties included."""
    from codesign.fixed import _requantize, _to_int_small

    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(3000):
        t = FixedType(int(rng.integers(1, 63)), int(rng.integers(-10, 40)),
                      bool(rng.integers(2)), list(Rounding)[rng.integers(7)],
                      list(Overflow)[rng.integers(4)])
        x = rng.normal(0, 2.0 ** rng.integers(-8, 20), 100)
        x[:20] = (rng.integers(-1000, 1000, 20) + 0.5) / 2.0 ** max(t.frac, 0)  # exact ties
        fast = _to_int_small(t, x)
        if fast is None:
            continue
        frac_part, exp = np.frexp(x)
        mant = np.ldexp(frac_part, 53).astype(np.int64)
        want = _requantize(t, mant, exp.astype(np.int64) - 53 + t.frac)
        assert np.array_equal(fast, want), str(t)
        checked += 1
    assert checked > 1000
