"""One hls4ml case, run in a worker process: build the network, emit, compile the C
simulation, compare every output with the bit-accurate model. Returns plain data."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from codesign.qnet import QuantizedNet

ZOO_SAMPLES = "train+test"  # digits has 360 test images: 1,797 = train + test are used


def zoo_qnet(name: str, bits: int = 8) -> tuple[QuantizedNet, np.ndarray]:
    """A zoo model, trained (cached), quantized like `codesign quantize --uniform bits`;
    inputs: the dataset's test then train images."""
    from codesign.data import load_dataset
    from codesign.ir.graph import Graph
    from codesign.quant.calibrate import Widths, calibrate_design
    from codesign.train import get_trained
    from codesign.zoo import ZOO

    entry = ZOO[name]
    model = get_trained(name, progress=False)
    graph = Graph.from_torch(model, entry.input_shape)
    data = load_dataset(entry.dataset)
    design = calibrate_design(graph, data.x_train[:512], Widths(bits, bits), model=name)
    qnet = QuantizedNet.from_float(graph, design)
    return qnet, np.concatenate([data.x_test, data.x_train])


def make_case(case: str) -> tuple[QuantizedNet, np.ndarray, str]:
    """case: 'zoo:<name>:<io>', 'rand:<seed>:<io>', 'randp:<seed>:<io>' (randp: pool
    accumulators only io_parallel can build) or 'stress:<order|avgpool>:<io>'."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from randnet import random_qnet, set_strategies, stress_qnet

    kind, ident, io = case.split(":")
    if kind == "zoo":
        qnet, x = zoo_qnet(ident)
    elif kind == "stress":
        qnet, x = stress_qnet(ident)
    else:
        seed = int(ident)
        qnet, x = random_qnet(seed, parallel_only=kind == "randp")
        qnet = set_strategies(qnet, seed)
    return qnet, x, io


def run_case(case: str, root: str, opt: str = "-Og") -> dict:
    """Emit, compile and verify one case. 'pitfall:...' emits with hls4ml's own flatten
    handling (our order workaround off), to show what it would get wrong; 'cli:<zoo>:<io>'
    runs `codesign emit --csim --json` on the saved zoo design."""
    import contextlib
    from unittest import mock

    import codesign.emit.hls as hls

    kind, ident, io = case.split(":")
    if kind == "cli":
        return _run_cli(ident, io, Path(root) / case.replace(":", "_"))
    start = time.perf_counter()
    qnet, x, io = make_case(case.replace("pitfall:", "stress:"))
    out = Path(root) / case.replace(":", "_")
    keep = (mock.patch.object(hls, "_flatten_order_matters", lambda q: False)
            if kind == "pitfall" else contextlib.nullcontext())
    with keep:
        project = hls.emit_hls(qnet, out, io=io)
    t_emit = time.perf_counter()
    project.compile(opt=opt)
    t_compile = time.perf_counter()
    report = project.verify(x)
    done = time.perf_counter()
    return {"case": case, **report.to_dict(),
            "mismatch": str(report.mismatch) if report.mismatch else None,
            "layers": [f"{layer.name}:{layer.kind}" for layer in qnet.graph.layers[1:]],
            "seconds": {"emit": round(t_emit - start, 1), "compile": round(t_compile - t_emit, 1),
                        "verify": round(done - t_compile, 1)}}


def _run_cli(model: str, io: str, work: Path) -> dict:
    import subprocess
    import sys

    qnet, _ = zoo_qnet(model)
    design = qnet.save(work / "design")
    cmd = [sys.executable, "-m", "codesign", "emit", str(design), "--out", str(work / "hls"),
           "--io", io, "--csim", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    again = subprocess.run(cmd[:-2], capture_output=True, text=True)  # rewrite our own dir
    return {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr[-3000:],
            "rewrite_rc": again.returncode, "rewrite_stderr": again.stderr[-2000:],
            "files": sorted(p.name for p in (work / "hls").iterdir())}


if __name__ == "__main__":  # python harness.py CASE ROOT -> one JSON line on stdout
    import json
    import sys

    print(json.dumps(run_case(sys.argv[1], sys.argv[2])))
