"""Samples per second: the bit-accurate model vs hls4ml's compiled C simulation.

Both run the digits design (`codesign quantize digits_cnn --uniform 8`) on the same
inputs (digits test + train images, 1,797) in this process; the hls4ml library is built
by hls4ml's own compile() (build_lib.sh, g++ -O3), and its outputs are checked equal to
ours before anything is timed. Prints both rates and their ratio (target: ours >= 20x).

    .venv/bin/python bench/bitexact_speed.py [--repeats 3] [--io parallel|stream]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time

import numpy as np


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--io", choices=("parallel", "stream"), default="parallel")
    args = ap.parse_args()

    from codesign.data import load_dataset
    from codesign.emit.hls import emit_hls
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
        t_hls = best_of(lambda: hm.predict(x_hls), args.repeats)
        t_ours = best_of(lambda: qnet.forward_int(x), args.repeats)
        t_ours_one = best_of(lambda: [qnet.forward_int(x[i:i + 1]) for i in range(200)],
                             args.repeats) * len(x) / 200

    n = len(x)
    print(f"digits_cnn, 8-bit design, {n} samples, io_{args.io}, best of {args.repeats}")
    print(f"  hls4ml C simulation (g++ -O3, built in {compile_s:.0f} s): "
          f"{n / t_hls:10.0f} samples/s")
    print(f"  bit-accurate model, one batch:                        {n / t_ours:10.0f} "
          f"samples/s  ({t_hls / t_ours:.0f}x)")
    print(f"  bit-accurate model, one sample per call:              {n / t_ours_one:10.0f} "
          f"samples/s  ({t_hls / t_ours_one:.1f}x)")
    print(f"ratio (bit-accurate batch / hls4ml predict): {t_hls / t_ours:.1f}x (target >= 20x)")


if __name__ == "__main__":
    main()
