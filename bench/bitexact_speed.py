"""Samples per second: the bit-accurate model vs hls4ml's compiled C simulation.

Both run the digits design (`codesign quantize digits_cnn --uniform 8`) on the same
inputs (digits test + train images, 1,797) in this process; the hls4ml library is built
by hls4ml's own compile() (build_lib.sh, g++ -O3), and its outputs are checked equal to
ours before anything is timed. Prints both rates and their ratio (target: ours >= 20x),
and ours layer by layer (forward_int(return_all=True): no conv/ReLU/max-pool fusion, the
model as it was before the fusion) for the before/after in the same run.

Wall time is what a user waits; on a shared machine it also counts time spent waiting
for a core, so the CPU time of this process (time.process_time: the C simulation runs
in-process through ctypes, numpy's BLAS threads included) is printed beside it.

    .venv/bin/python bench/bitexact_speed.py [--repeats 5] [--io parallel|stream]
        [--save bench/results/bitexact_speed.json]

--save records each contender's samples per second and its ratio to hls4ml (wall and
CPU), the figures docs/methods.md quotes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time

import numpy as np


def best_of(fn, repeats: int) -> tuple[float, float]:
    """(best wall seconds, best CPU seconds) over `repeats` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--io", choices=("parallel", "stream"), default="parallel")
    ap.add_argument("--save", metavar="JSON", help="also record the rates in this file "
                    "(bench/results/bitexact_speed.json is the one docs/methods.md quotes)")
    args = ap.parse_args()

    from codesign.data import load_dataset
    from codesign.hls.project import emit_hls
    from codesign.ir.graph import Graph
    from codesign.qnet import QuantizedNet
    from codesign.quant.calibrate import Widths, calibrate_design
    from codesign.train import get_trained
    from codesign.zoo import ZOO

    model = get_trained("digits_cnn", progress=False)
    graph = Graph.from_torch(model, ZOO["digits_cnn"].input_shape)
    data = load_dataset("digits")
    design = calibrate_design(graph, data.x_train[:512], Widths(8, 8), model="digits_cnn")
    qnet = QuantizedNet.from_float(graph, design)
    x = np.concatenate([data.x_test, data.x_train])

    with tempfile.TemporaryDirectory() as tmp:
        project = emit_hls(qnet, f"{tmp}/hls", io=args.io)
        hm = project.hls_model
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            hm.compile()  # hls4ml's own build (build_lib.sh, -O3)
        project.compiled = True
        compile_s = time.perf_counter() - start
        assert np.array_equal(project.predict_int(x), qnet.forward_int(x)), "not bit-exact"

        x_hls = project._to_hls_input(x)
        assert np.array_equal(qnet.forward_int(x), qnet.forward_int(x, return_all=True)[
            qnet.graph.output.name]), "fused != layer by layer"
        timings = {}
        # interleaved rounds, so a burst of load on the machine hits every contender alike
        for _ in range(args.repeats):
            for label, fn in (
                    ("hls", lambda: hm.predict(x_hls)),
                    ("fused", lambda: qnet.forward_int(x)),
                    ("layers", lambda: qnet.forward_int(x, return_all=True)),
                    ("one", lambda: [qnet.forward_int(x[i:i + 1]) for i in range(200)])):
                wall, cpu = best_of(fn, 1)
                old_wall, old_cpu = timings.get(label, (wall, cpu))
                timings[label] = (min(wall, old_wall), min(cpu, old_cpu))

    n = len(x)
    scale = {"one": len(x) / 200}
    (hls_wall, hls_cpu) = timings["hls"]
    print(f"digits_cnn, 8-bit design, {n} samples, io_{args.io}, best of {args.repeats}; "
          f"fused chains: {', '.join(qnet.fused_chains()) or 'none'}")
    print(f"  {'':44s} {'samples/s (wall)':>17s} {'x hls4ml':>9s} {'samples/s (CPU)':>16s} "
          f"{'x hls4ml':>9s}")
    rows = [("hls", f"hls4ml C simulation (g++ -O3, built in {compile_s:.0f} s)"),
            ("fused", "bit-accurate model, one batch"),
            ("layers", "bit-accurate, one batch, layer by layer"),
            ("one", "bit-accurate model, one sample per call")]
    recorded = {}
    for label, text in rows:
        wall, cpu = (t * scale.get(label, 1) for t in timings[label])
        recorded[label] = {"what": text, "samples_per_s_wall": n / wall,
                           "samples_per_s_cpu": n / cpu, "x_hls4ml_wall": hls_wall / wall,
                           "x_hls4ml_cpu": hls_cpu / cpu}
        print(f"  {text:44s} {n / wall:17.0f} {hls_wall / wall:8.1f}x {n / cpu:16.0f} "
              f"{hls_cpu / cpu:8.1f}x")
    wall, cpu = timings["fused"]
    print(f"ratio (bit-accurate batch / hls4ml predict): {hls_wall / wall:.1f}x wall, "
          f"{hls_cpu / cpu:.1f}x CPU (target >= 20x)")
    if args.save:
        from record import record

        print(f"recorded in {record(args.save, vars(args), samples=n, rates=recorded)}")


if __name__ == "__main__":
    main()
