"""`codesign rtl DESIGN.yaml --out DIR [--sim]`: SystemVerilog accelerator, verified.

Generates the streaming accelerator (one hw/ engine per layer) into DIR; with --sim,
builds it with Verilator (cached by content hash) and runs the cocotb testbench on N test
samples: every output must equal the bit-accurate model's and every input/output transfer
edge the latency model's prediction (timing mode); --stress adds a run with random input
gaps and output backpressure. Exits 1 on any difference.

With --testbench DIR it also writes a self-contained regression suite for the RTL (or
for the user's own sources, --rtl FILES.f --top NAME): codesign.verify.testbench.
Without --out the RTL then goes to DIR/rtl.
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from codesign.cli.common import (
    add_dataset_arg,
    add_json_arg,
    add_solver_arg,
    design_dataset,
    eprint,
    report,
)
from codesign.errors import CodesignError
from codesign.outputs import output_dir
from codesign.qnet import QuantizedNet
from codesign.rtl.latency import engine_table, network_timing
from codesign.rtl.network import TOP, generate_rtl, plan_network

NAME = "rtl"
HELP = "generate the SystemVerilog accelerator of a design and verify it under Verilator"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("design", type=Path, metavar="DESIGN.yaml")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="directory for the RTL, file list and manifest (required unless "
                        "--testbench is given; then DIR defaults to TESTBENCH/rtl)")
    p.add_argument("--force", action="store_true", help="overwrite RTL already in DIR")
    p.add_argument("--sim", action="store_true", help="build with Verilator and simulate")
    p.add_argument("--samples", type=int, default=100, metavar="N",
                   help="samples to stream through the simulation, or to put in the "
                        "--testbench suite (default 100)")
    p.add_argument("--stress", action="store_true",
                   help="also simulate with random input gaps and output backpressure")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of the stress pattern (and of a --testbench suite's backpressure)")
    p.add_argument("--waves", action="store_true", help="record a VCD (DIR/sim/dump.vcd)")
    p.add_argument("--testbench", type=Path, metavar="DIR",
                   help="write a regression suite (golden vectors, expected cycles, cocotb "
                        "test, pytest runner; needs only cocotb and verilator) to DIR")
    p.add_argument("--rtl", type=Path, metavar="FILES.f",
                   help="with --testbench: the file list the suite tests by default "
                        "(your own sources; default: the generated RTL)")
    p.add_argument("--top", metavar="NAME",
                   help="with --testbench: the top module of --rtl (default: cs_top)")
    p.add_argument("--prefix", default="", metavar="NAME",
                   help="put NAME before every module generated for this network (the top "
                        "becomes NAMEcs_top), so several accelerators fit in one design")
    p.add_argument("--build-dir", type=Path, metavar="DIR",
                   help="Verilator build cache (default: the codesign cache)")
    add_dataset_arg(p)
    add_solver_arg(p)
    add_json_arg(p)


def _samples(qnet: QuantizedNet, spec: str | None, n: int) -> np.ndarray:
    data = design_dataset(qnet.design, spec, qnet.graph.input_shape)
    pool = np.concatenate([data.x_test, data.x_train])
    if n > len(pool):
        raise CodesignError(f"--samples {n} exceeds the {len(pool)} samples of {data.name}")
    return pool[:n]


def run(args: argparse.Namespace) -> int:
    if args.samples < 1:
        raise CodesignError(f"--samples must be positive, not {args.samples}")
    if args.out is None and args.testbench is None:
        raise CodesignError("give --out DIR for the RTL, or --testbench DIR for a "
                            "regression suite (or both)")
    if (args.rtl is not None or args.top is not None) and args.testbench is None:
        raise CodesignError("--rtl and --top name the sources a regression suite tests; "
                            "they need --testbench DIR")
    if args.rtl is not None and not args.rtl.is_file():
        raise CodesignError(f"--rtl {args.rtl}: no such file list")
    qnet = QuantizedNet.load(args.design)
    out: Path = args.out if args.out is not None else args.testbench / "rtl"
    if (out / f"{args.prefix}{TOP}.sv").exists() and not args.force:
        raise CodesignError(f"{out} already holds generated RTL; choose another --out or "
                            "pass --force to overwrite it")
    if args.testbench is not None and not args.force:
        from codesign.verify.testbench import SUITE_FILE

        if (args.testbench / SUITE_FILE).exists():
            raise CodesignError(f"{args.testbench} already holds a regression suite; choose "
                                "another --testbench or pass --force to overwrite it")
    x = None  # samples: loaded before writing, so a missing dataset writes nothing
    if args.testbench is not None or args.sim:
        x = _samples(qnet, args.dataset, args.samples)
    start = time.perf_counter()
    with ExitStack() as outputs:  # a failure leaves neither the RTL nor the suite half-written
        if args.testbench is not None:
            outputs.enter_context(output_dir(args.testbench, what="--testbench"))
        outputs.enter_context(output_dir(out))
        generate_rtl(qnet, out, prefix=args.prefix)
        if args.testbench is not None:
            from codesign.verify.testbench import write_testbench

            suite = write_testbench(qnet, out, args.testbench, x, sources=args.rtl,
                                    top=args.top, seed=args.seed, force=args.force)
    plan = plan_network(qnet)
    result: dict = {"design": str(args.design), "out": str(out), "top": args.prefix + TOP,
                    "clock_mhz": qnet.design.clock_mhz, "engines": engine_table(plan),
                    "generate_seconds": round(time.perf_counter() - start, 2)}
    for e in plan.engines:
        if e.stages is not None and not e.stages.meets:
            eprint(f"warning: {e.name}: the delay model's longest path {e.stages.worst_ns} ns "
                   f"exceeds the {qnet.design.clock_mhz} MHz period even with one adder per "
                   f"stage (an adder or the output cast alone is too slow)")
    one = network_timing(plan, 2).summary()
    result["predicted_latency"] = one["latency"]
    result["predicted_interval"] = one["interval"]
    status = 0
    if args.testbench is not None:
        result["testbench"] = suite
    if args.sim:
        from codesign.verify.rtlsim import build, verify_rtl

        eprint(f"building {out} with Verilator...")
        start = time.perf_counter()
        build_dir, cached = build(out, args.build_dir, waves=args.waves)
        result["build_seconds"] = round(time.perf_counter() - start, 2)
        result["build_cached"] = cached
        result["build_dir"] = str(build_dir)
        assert x is not None
        runs = []
        for mode in ("timing", "stress") if args.stress else ("timing",):
            eprint(f"simulating {len(x)} samples ({mode} mode)...")
            r = verify_rtl(qnet, out, build_dir, x, mode=mode, seed=args.seed,
                           waves=args.waves, work_dir=out / "sim" / mode)
            runs.append(r.to_dict())
            if not r.ok:
                status = 1
        result["runs"] = runs
        result["ok"] = status == 0
    report(args, result, _text)
    return status


def _text(r: dict) -> str:
    lines = [f"RTL for {r['design']} written to {r['out']} ({len(r['engines'])} engines)",
             f"  predicted latency {r['predicted_latency']} cycles, interval "
             f"{r['predicted_interval']} cycles"]
    piped = [f"{e['engine']} {e['pipeline_stages']}" for e in r["engines"]
             if e["pipeline_stages"]]
    if piped:
        lines.append(f"  pipelined to {r['clock_mhz']} MHz (register stages): "
                     + ", ".join(piped))
    if "testbench" in r:
        tb = r["testbench"]
        lines.append(f"  regression suite ({tb['samples']} samples, top {tb['top']}, sources "
                     f"{tb['sources']}) written to {tb['dir']}; run it with: pytest {tb['dir']}")
    if "runs" in r:
        cached = " (cached)" if r["build_cached"] else ""
        lines.append(f"  Verilator build: {r['build_seconds']} s{cached}")
        for run_ in r["runs"]:
            lines.append(f"  {run_['mode']}: {run_['bit_exact']}/{run_['samples']} samples "
                         f"bit-identical, simulated in {run_['sim_seconds']} s")
            if run_["mismatch"]:
                lines.append(f"    first output mismatch: {run_['mismatch']}")
            if run_["first_layer_mismatch"]:
                lines.append(f"    first layer that differs: {run_['first_layer_mismatch']}")
            if run_["predicted_cycles"] is not None:
                p, m = run_["predicted_cycles"], run_["measured_cycles"]
                verdict = "equal" if run_["cycles_equal"] else "DIFFERENT"
                lines.append(f"    cycles predicted latency {p['latency']} interval "
                             f"{p['interval']} total {p['total']}; measured latency "
                             f"{m['latency']} interval {m['interval']} total {m['total']}: "
                             f"{verdict} (every transfer edge)")
        lines.append("  verdict: " + ("PASS" if r["ok"] else "FAIL"))
    return "\n".join(lines)
