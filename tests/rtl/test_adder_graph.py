"""Adder graphs (codesign.rtl.adder_graph) and their SystemVerilog (rtl_graph).

The oracle is numpy's x @ K + b on the raw integers. The plan is checked in Python
(outputs, every node inside its stated range, zero weights free, JSON round trip); the
emitted modules of 24 random matrices (binary, ternary, 2-8-bit with zeros, all-zero
rows, columns and matrices, signed and unsigned inputs) run in one Verilator build.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from codesign.errors import CodesignError
from codesign.rtl import solver_settings
from codesign.rtl.adder_graph import AdderGraph, signed_width, solve_cmvm, wrapped
from codesign.rtl.adder_sv import render_graph_module
from codesign.verify.rtlsim import configure_verilator, default_build_root

KINDS = ("binary", "ternary", "bits", "zero_rows", "zero_col", "zero", "one_in")


def random_case(seed: int) -> dict:
    """A random integer matrix with its input type and bias."""
    rng = np.random.default_rng(seed)
    kind = KINDS[seed % len(KINDS)]
    n_in, n_out = int(rng.integers(2, 30)), int(rng.integers(1, 12))
    bits = int(rng.integers(2, 9))
    k = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), (n_in, n_out))
    k[rng.random(k.shape) < 0.25] = 0
    if kind == "binary":
        k = rng.choice([-1, 1], (n_in, n_out)) * (1 << int(rng.integers(0, 3)))
    elif kind == "ternary":
        k = rng.integers(-1, 2, (n_in, n_out))
    elif kind == "zero_rows":
        k[rng.random(n_in) < 0.5] = 0
    elif kind == "zero_col":
        k[:, rng.integers(n_out)] = 0
    elif kind == "zero":
        k[:] = 0
    elif kind == "one_in":
        k = k[:1]
    xw = int(rng.integers(2, 11))
    signed = bool(rng.random() < 0.5)
    lo, hi = (-(1 << (xw - 1)), (1 << (xw - 1)) - 1) if signed else (0, (1 << xw) - 1)
    bias = rng.integers(-300, 300, k.shape[1]) << int(rng.integers(0, 4))
    bias[rng.random(bias.shape) < 0.3] = 0
    return {"kernel": k.astype(np.int64), "lo": lo, "hi": hi, "xw": xw, "signed": signed,
            "bias": bias.astype(np.int64), "kind": kind}


def vectors(case: dict, n: int, seed: int) -> np.ndarray:
    """Random inputs plus, per output, the inputs reaching its extremes."""
    rng = np.random.default_rng(seed)
    k, lo, hi = case["kernel"], case["lo"], case["hi"]
    x = [rng.integers(lo, hi + 1, (n, k.shape[0])), np.full((1, k.shape[0]), lo),
         np.full((1, k.shape[0]), hi)]
    for o in range(k.shape[1]):
        x.append(np.where(k[:, o] > 0, hi, lo)[None])
        x.append(np.where(k[:, o] > 0, lo, hi)[None])
    return np.concatenate(x)


def node_values(g: AdderGraph, x: np.ndarray) -> list[np.ndarray]:
    """Every node's mantissa, recomputed from the plan's operand fields."""
    vals = [x[:, m].astype(object) for m in range(g.n_in)]
    for ad in g.adders:
        la = g.node_range(ad.a)[2]
        lb = g.node_range(ad.b)[2] + ad.shift
        vals.append(ad.sign_a * vals[ad.a] * (1 << (la - ad.lsb))
                    + ad.sign_b * vals[ad.b] * (1 << (lb - ad.lsb)))
    return vals


@pytest.mark.parametrize("seed", range(14))
def test_graph_computes_the_product_within_its_ranges(seed):
    case = random_case(seed)
    k, b = case["kernel"], case["bias"]
    g = solve_cmvm(k, case["lo"], case["hi"], b)
    x = vectors(case, 200, seed)
    assert np.array_equal(g.evaluate(x), x @ k + b)
    vals = node_values(g, x)
    for i, ad in enumerate(g.adders):
        v = vals[g.n_in + i]
        assert ad.lo <= v.min() and v.max() <= ad.hi, (i, ad)
    y = x @ k + b
    for o, out in enumerate(g.outputs):
        assert out.lo <= y[:, o].min() and y[:, o].max() <= out.hi
        # the extreme vectors reach the stated range: widths are exact, not loose
        assert y[:, o].min() == out.lo and y[:, o].max() == out.hi
    assert AdderGraph.from_json(json.loads(json.dumps(g.to_json()))) == g


def test_zero_weights_cost_nothing():
    """Rows of zeros are never read; an all-zero matrix is its bias, with no adder; a
    one-hot matrix is wiring."""
    k = np.array([[3, 0], [0, 0], [5, -7]])
    g = solve_cmvm(k, -8, 7, np.array([1, 0]))
    assert all(1 not in (ad.a, ad.b) for ad in g.adders)
    zero = solve_cmvm(np.zeros((4, 3), dtype=np.int64), 0, 15, np.array([2, 0, -1]))
    assert zero.adders == () and [o.const for o in zero.outputs] == [2, 0, -1]
    eye = solve_cmvm(np.eye(3, dtype=np.int64) * 4, 0, 15, np.zeros(3, dtype=np.int64))
    assert eye.adders == ()
    assert signed_width(-8, 7) == 4 and signed_width(0, 15) == 4 and signed_width(-1, 0) == 1


@pytest.mark.parametrize("seed", range(14))
def test_wrapped_graph_keeps_only_the_bits_a_wrapping_cast_reads(seed):
    """Outputs needed mod 2**bits: every adder narrows to the bits its readers need, and
    the narrowed graph (each node wrapped to its width, as the hardware holds it) still
    gives x @ K + b mod 2**bits."""
    case = random_case(seed)
    k, b = case["kernel"], case["bias"]
    g = solve_cmvm(k, case["lo"], case["hi"], b)
    x = vectors(case, 200, seed)
    exact = x @ k + b
    for bits in sorted({1, 3, max(1, g.out_width - 2), g.out_width + 1}):
        w = wrapped(g, bits)
        assert np.array_equal(w.evaluate(x) % (1 << bits), exact % (1 << bits)), bits
        assert all(n.width <= o.width for n, o in zip(w.adders, g.adders, strict=True))
        assert w.adder_bits() <= g.adder_bits() and w.out_width <= max(bits, 1)
        if bits > g.out_width:  # nothing to drop
            assert w.adder_bits() == g.adder_bits()
        assert AdderGraph.from_json(json.loads(json.dumps(w.to_json()))) == w


def test_wrapped_widths_by_hand():
    """y = x0 + x1 + x2 of 8-bit unsigned x is 10 bits; mod 2**4 each adder keeps 4 bits,
    and a term shifted past the kept bits is read by one bit only."""
    g = solve_cmvm(np.ones((3, 1), dtype=np.int64), 0, 255, np.zeros(1, dtype=np.int64))
    assert [a.width for a in g.adders] == [9, 10]
    w = wrapped(g, 4)
    assert [a.width for a in w.adders] == [4, 4] and w.out_width == 4
    x = np.array([[255, 255, 255], [1, 2, 3], [15, 1, 0]])
    assert w.evaluate(x).tolist() == [[-3], [6], [0]]  # 765, 6, 16 as 4-bit signed
    g = solve_cmvm(np.array([[1], [64]]), 0, 15, np.zeros(1, dtype=np.int64))
    (ad,) = wrapped(g, 3).adders  # x0 + 64 * x1 mod 8 = x0: x1 still read (one bit)
    assert ad.width == 7 and ad.keep == 7
    with pytest.raises(CodesignError, match="at least 1 bit"):
        wrapped(g, 0)


def _harness(cases: list[tuple[dict, AdderGraph]]) -> dict[str, str]:
    files = {}
    top = ["module tb_graphs ("]
    ports = []
    for i, (case, g) in enumerate(cases):
        name = f"cs_mvm{i}"
        files[f"{name}.sv"] = render_graph_module(name, g, case["xw"], case["signed"],
                                                  g.out_width, f"Test case {i}.")
        ports += [f"  input  logic [{g.n_in * case['xw'] - 1}:0] x{i}",
                  f"  output logic [{len(g.outputs) * g.out_width - 1}:0] y{i}"]
    top += [",\n".join(ports), ");"]
    top += [f"  cs_mvm{i} u{i} (.x(x{i}), .y(y{i}));" for i in range(len(cases))]
    top.append("endmodule")
    files["tb_graphs.sv"] = "\n".join(top) + "\n"
    return files


def _pack(rows: np.ndarray, width: int) -> list[int]:
    mask = (1 << width) - 1
    return [sum((int(v) & mask) << (j * width) for j, v in enumerate(r)) for r in rows]


def test_emitted_graphs_match_numpy(tmp_path):
    """36 random matrices: every output of the emitted SystemVerilog, under Verilator,
    equals x @ K + b (8 of them, narrowed by `wrapped`, mod 2**out_width; 4 solved by
    the bounded search in blocks), on random inputs and on each output's extremes."""
    configure_verilator()
    from cocotb_tools.runner import get_runner

    cases = []
    for seed in range(100, 132):
        case = random_case(seed)
        g = solve_cmvm(case["kernel"], case["lo"], case["hi"], case["bias"])
        if seed >= 124:  # 8 graphs whose outputs are needed mod 2**bits (a wrapping cast)
            g = wrapped(g, max(1, g.out_width - 1 - seed % 5))
        cases.append((case, g))
    with pytest.MonkeyPatch.context() as mp:  # 4 of the bounded search, in several blocks
        for name, value in (("BLOCK_ENTRIES", 32), ("BLOCK_ROWS", 8), ("BLOCK_COLS", 4)):
            mp.setattr(solver_settings, name, value)
        for seed in range(132, 136):
            case = random_case(seed)
            cases.append((case, solve_cmvm.__wrapped__(case["kernel"], case["lo"], case["hi"],
                                                       case["bias"], "fast")))
    files = _harness(cases)
    import cocotb_tools.config as cfg

    # a build links the cocotb of one Python environment (as codesign.verify.rtlsim keys it)
    digest = hashlib.sha256("".join(f"{k}{v}" for k, v in sorted(files.items()))
                            .encode() + str(cfg.libs_dir).encode()).hexdigest()[:20]
    src = tmp_path / "src"
    src.mkdir()
    for name, text in files.items():
        (src / name).write_text(text)
    build_dir = default_build_root() / f"graphs-{digest}"
    runner = get_runner("verilator")
    runner.build(sources=[src / n for n in sorted(files)], hdl_toplevel="tb_graphs",
                 build_dir=build_dir, build_args=["-Wno-fatal", "-O1"], always=False)
    xs, want = [], []
    for i, (case, g) in enumerate(cases):
        x = vectors(case, 40, i)
        xs.append(_pack(x, case["xw"]))
        want.append(_pack(x @ case["kernel"] + case["bias"], g.out_width))
    (tmp_path / "vectors.json").write_text(json.dumps(xs))
    result = tmp_path / "result.json"
    runner.test(test_module=f"{__name__.rsplit('.', 1)[0]}.tb_graphs", hdl_toplevel="tb_graphs",
                build_dir=build_dir, test_dir=tmp_path,
                extra_env={"CS_VECTORS": str(tmp_path / "vectors.json"),
                           "CS_RESULT": str(result)})
    got = json.loads(Path(result).read_text())
    for i, (case, _) in enumerate(cases):
        assert got[i] == want[i], (i, case["kind"])
