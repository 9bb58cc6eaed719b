"""`codesign emit DESIGN.yaml --out DIR`: the hls4ml project, optionally with the golden
vectors of N samples in tb_data/ (for hls4ml's own csim/cosim scripts), and optionally
C-simulated and compared with the bit-accurate model on every output of those samples."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from codesign.cli.common import add_json_arg, design_dataset, report
from codesign.errors import CodesignError
from codesign.outputs import output_dir
from codesign.qnet import QuantizedNet

NAME = "emit"
CSIM_SAMPLES = 1000
HELP = "write the hls4ml project of a quantized design (and check it bit for bit with --csim)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("design", type=Path, metavar="DESIGN.yaml",
                   help="a design written by `codesign quantize` (with its quantized.npz)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="project directory (a non-empty one not made by codesign needs "
                        "--force)")
    p.add_argument("--io", choices=("parallel", "stream"), default="parallel",
                   help="hls4ml io_type (default: parallel)")
    p.add_argument("--backend", choices=("vitis", "vivado"), default="vitis",
                   help="HLS tool the project is for (default: vitis)")
    p.add_argument("--part", metavar="PART",
                   help="Xilinx part number, e.g. xc7a35tcpg236-1, or a Xilinx device of "
                        "the table (default: the design's device's part number)")
    p.add_argument("--csim", action="store_true",
                   help="compile the C simulation (g++) and compare it with the bit-accurate "
                        "model on --samples inputs")
    p.add_argument("--samples", type=int, default=None, metavar="N",
                   help="write N inputs and the bit-accurate model's outputs to tb_data/ "
                        "(hls4ml's test-bench vectors, for csim and cosim in Vitis HLS) "
                        "and simulate them with --csim: the dataset's test images, then its "
                        "training images if the test split is smaller (default with --csim: "
                        f"{CSIM_SAMPLES})")
    p.add_argument("--dataset", metavar="NAME|PATH",
                   help="dataset for --samples and --csim (default: the design's model's, "
                        "or the one that fits the input shape)")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty directory codesign did not create")
    add_json_arg(p)


def run(args: argparse.Namespace) -> int:
    from codesign.hls.project import check_out_dir, emit_hls

    if args.samples is not None and args.samples < 1:
        raise CodesignError(f"--samples must be positive, not {args.samples}")
    qnet = QuantizedNet.load(args.design)
    x = None  # samples: loaded before emitting, so a missing dataset writes nothing
    if args.samples is not None or args.csim:
        x = _samples(qnet, args.dataset, args.samples or CSIM_SAMPLES)
    start = time.perf_counter()
    ours = check_out_dir(args.out, args.force)  # before anything is moved or written
    with output_dir(args.out, keep_old=not ours) as out:  # a failure leaves nothing
        project = emit_hls(qnet, out, io=args.io, backend=args.backend.capitalize(),
                           part=args.part, force=args.force)
        if x is not None:
            tb = project.write_tb_data(x)
    result: dict = {"design": str(args.design), "out": str(project.out_dir), "io": args.io,
                    "backend": project.backend,
                    "part": project.hls_model.config.get_config_value("Part"),
                    "emit_seconds": round(time.perf_counter() - start, 2)}
    if x is not None:
        result["tb_data"] = {"inputs": str(tb.inputs), "outputs": str(tb.outputs),
                             "samples": tb.samples}
    if args.csim:
        assert x is not None
        print(f"compiling the C simulation in {project.out_dir} ...", file=sys.stderr)
        start = time.perf_counter()
        project.compile()
        result["compile_seconds"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        check = project.verify(x)
        result["csim_seconds"] = round(time.perf_counter() - start, 2)
        result["csim"] = check.to_dict()
    report(args, result, _text)
    return 0 if "csim" not in result or result["csim"]["ok"] else 1


def _samples(qnet: QuantizedNet, spec: str | None, n: int) -> np.ndarray:
    """Test images first, then training images (digits has only 360 test images)."""
    data = design_dataset(qnet.design, spec, qnet.graph.input_shape)
    x = np.concatenate([data.x_test, data.x_train])[:n]
    if len(x) < n:
        print(f"note: dataset {data.name!r} has only {len(x)} images; using all of them",
              file=sys.stderr)
    return x


def _text(r: dict) -> str:
    lines = [f"wrote the {r['backend']} hls4ml project ({r['io']}, part {r['part']}) to "
             f"{r['out']}"]
    tb = r.get("tb_data")
    if tb is not None:
        lines.append(f"test-bench vectors ({tb['samples']} samples, bit-accurate outputs): "
                     f"{tb['inputs']}, {tb['outputs']}")
    c = r.get("csim")
    if c is not None:
        lines.append(f"C simulation vs bit-accurate model: {c['identical_samples']}/"
                     f"{c['samples']} samples bit-identical ({c['identical_outputs']}/"
                     f"{c['outputs']} outputs)")
        if c.get("first_mismatch"):
            m = c["first_mismatch"]
            lines.append(f"MISMATCH: first at layer {m['layer']!r}, sample {m['sample']}, "
                         f"element {m['index']}: bit-accurate {m['expected']}, hls4ml "
                         f"{m['got']}")
    return "\n".join(lines)
