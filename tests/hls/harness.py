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


BENCH_SEEDS = range(6)  # random networks also run through hls4ml's own test bench


def has_bench(case: str) -> bool:
    """Cases whose tb_data/ vectors are written and run through hls4ml's test bench."""
    kind, ident, _ = case.split(":")
    return kind == "cli" or (kind == "rand" and int(ident) in BENCH_SEEDS)


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
    runs `codesign emit --csim --json` on the saved zoo design, then hls4ml's own test
    bench on the tb_data/ vectors it wrote."""
    import contextlib
    from unittest import mock

    import codesign.hls.project as hls

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
    bench = {}
    if has_bench(case):
        project.write_tb_data(x)
        bench = _run_hls4ml_bench(out, out / "tb_keep")
    return {"case": case, **report.to_dict(), "bench": bench,
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
    bench = _run_hls4ml_bench(work / "hls", work / "tb") if done.returncode == 0 else {}
    again = subprocess.run(cmd[:-2], capture_output=True, text=True)  # rewrite our own dir
    return {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr[-3000:],
            "rewrite_rc": again.returncode, "rewrite_stderr": again.stderr[-2000:],
            "files": sorted(p.name for p in (work / "hls").iterdir()), "bench": bench,
            "design": str(design)}


def _run_hls4ml_bench(project: Path, keep: Path) -> dict:
    """hls4ml's own test bench (myproject_test.cpp, as Vitis HLS csim builds it), linked
    against the C simulation library --csim already compiled (no second firmware build),
    run in the project so it reads tb_data/ and writes tb_data/csim_results.log. The
    vector files and the log are copied to `keep` (the rewrite clears the project)."""
    import shutil
    import subprocess

    lib = next((project / "firmware").glob("myproject-*.so"))
    exe = project / "tb_bench"
    cmd = ["g++", "-std=c++17", "-O0", "-Ifirmware/ap_types", "-Ifirmware",
           "myproject_test.cpp", str(lib), f"-Wl,-rpath,{lib.parent}", "-o", str(exe)]
    built = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
    if built.returncode != 0:
        return {"build_rc": built.returncode, "stderr": built.stderr[-3000:]}
    ran = subprocess.run([str(exe)], cwd=project, capture_output=True, text=True)
    keep.mkdir(parents=True, exist_ok=True)
    for name in ("tb_input_features.dat", "tb_output_predictions.dat", "csim_results.log"):
        if (project / "tb_data" / name).exists():
            shutil.copy(project / "tb_data" / name, keep / name)
    return {"build_rc": 0, "rc": ran.returncode, "stdout": ran.stdout[-2000:],
            "stderr": ran.stderr[-2000:], "dir": str(keep)}


if __name__ == "__main__":  # python harness.py CASE ROOT -> one JSON line on stdout
    import json
    import sys

    print(json.dumps(run_case(sys.argv[1], sys.argv[2])))
