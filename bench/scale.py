"""Real-size sizing, end to end: issue 21's bench. Each network (1-5M MACs, 32x32 RGB on
the generated shapes32 data) is sized onto each part at each throughput target by the
flow of flows/cifar_like.yaml (sensitivity, allocation under the part and the fps
target, LSQ, cost, hls4ml io_stream C simulation, Verilator, Yosys), and the run's own
record gives the row:

  seconds     sensitivity, allocation, cost (all points), Yosys, and the whole flow: the
              seconds each stage took when it was computed (a rerun reads them from the
              flow's cache; Yosys and Verilator results are also cached by content, so a
              synthesis another run already made counts as a cache read)
  est / Yosys LUT, FF, DSP and BRAM of the chosen design (`codesign cost` vs Yosys)
  interval    predicted by the cycle model and counted by Verilator (cycles per image)
  fits        whether Yosys' figures are within the part
  img/s/kLUT  images per second at the part's clock per thousand Yosys LUTs

Runs share one runs folder, so a network's training and sensitivity are computed once
for all its parts and targets (the flow's stage cache).

    python bench/scale.py [--nets cifar_like,small32,large32] [--parts xc7z020,xczu3eg]
                          [--fps 5000,10000] [--runs DIR] [--save]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from record import RESULTS, record  # noqa: E402

BASE_FLOW = ROOT / "flows" / "cifar_like.yaml"
NETS = {  # name -> the flow's model section
    "cifar_like": {"zoo": "cifar_like"},
    "small32": {"file": str(ROOT / "bench" / "scale_nets.py") + ":small32",
                "input_shape": [3, 32, 32], "train": {"epochs": 12, "lr": 0.003}},
    "large32": {"file": str(ROOT / "bench" / "scale_nets.py") + ":large32",
                "input_shape": [3, 32, 32], "train": {"epochs": 12, "lr": 0.003}},
}
RESOURCES = ("lut", "ff", "dsp", "bram")


def flow_for(net: str, part: str, fps: int) -> dict[str, Any]:
    """flows/cifar_like.yaml with this network, part and throughput target."""
    flow = yaml.safe_load(BASE_FLOW.read_text())
    flow["name"] = f"{net}-{part}-{fps}"
    flow["model"] = NETS[net]
    flow["dataset"] = "shapes32"
    flow["target"] = {"devices": [part]}
    flow["allocate"]["fps"] = fps
    return flow


def stage_seconds(run: dict[str, Any], stage: str | None = None) -> float:
    """Seconds a stage (every stage: None) took to compute over every point; a stage the
    run took from the flow's cache keeps the seconds it took when it was computed."""
    return round(sum(s.get("seconds") or 0.0 for s in run["stages"]
                     if stage is None or s["stage"] == stage), 1)


def row_of(net: str, part: str, fps: int, run: dict[str, Any], wall: float) -> dict[str, Any]:
    """The bench row of one finished flow run (run.json)."""
    from codesign.devices import get_device

    chosen = next((p for p in run["points"] if p["label"] == run.get("chosen")), None)
    est = (chosen or {}).get("cost") or {}
    synth = run.get("synth") or {}
    rtl = run.get("rtl") or {}
    sims = rtl.get("runs") or [{}]
    dev = get_device(part)
    interval = rtl.get("predicted_interval")
    row = {"net": net, "part": part, "fps": fps, "chosen": run.get("chosen"),
           "failed": run.get("failed") or run.get("no_choice"),
           "sensitivity_s": stage_seconds(run, "sensitivity"),
           "allocate_s": stage_seconds(run, "allocate"),
           "cost_s": stage_seconds(run, "cost"), "synth_s": stage_seconds(run, "synth"),
           "flow_s": stage_seconds(run), "wall_s": round(wall, 1),
           **{f"est_{k}": est.get(k) for k in RESOURCES},
           **{f"yosys_{k}": synth.get(k) for k in RESOURCES},
           "interval": interval,
           "interval_sim": (sims[0].get("measured_cycles") or {}).get("interval"),
           "bit_exact": sims[0].get("bit_exact"),
           "csim_ok": (run.get("hls") or {}).get("csim", {}).get("ok"),
           "val_accuracy": (chosen or {}).get("eval", {}).get("bit_accurate_val_accuracy"),
           "test_accuracy": (chosen or {}).get("eval", {}).get("bit_accurate_test_accuracy")}
    if synth.get("lut"):
        row["fits"] = all(synth.get(k, 0) <= getattr(dev, k) for k in RESOURCES)
        clock = (est.get("clock_mhz") or dev.default_clock_mhz) * 1e6
        if interval:
            row["img_s_per_klut"] = round(clock / interval / (synth["lut"] / 1000), 1)
    return row


def run_one(net: str, part: str, fps: int, runs: Path) -> dict[str, Any]:
    from codesign.flow.run import run_flow

    flows = runs / "flows"
    flows.mkdir(parents=True, exist_ok=True)
    path = flows / f"{net}-{part}-{fps}.yaml"
    path.write_text(yaml.safe_dump(flow_for(net, part, fps), sort_keys=False))
    start = time.perf_counter()
    try:
        result = run_flow(path, runs, quiet=True)
    except Exception as exc:  # a failed flow is a row that says so, not a lost bench
        return {"net": net, "part": part, "fps": fps, "failed": str(exc)}
    return row_of(net, part, fps, result.summary, time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="cifar_like,small32,large32")
    ap.add_argument("--parts", default="xc7z020,xczu3eg")
    ap.add_argument("--fps", default="5000,10000")
    ap.add_argument("--runs", default="runs/scale", help="the shared runs folder")
    ap.add_argument("--save", action="store_true",
                    help="record the rows in bench/results/scale.json")
    args = ap.parse_args()
    rows = []
    for net in args.nets.split(","):
        for part in args.parts.split(","):
            for fps in (int(f) for f in args.fps.split(",")):
                rows.append(run_one(net, part, fps, Path(args.runs)))
                print(json.dumps(rows[-1]), flush=True)
    cols = ["net", "part", "fps", "sensitivity_s", "allocate_s", "cost_s", "synth_s",
            "flow_s", "est_lut", "yosys_lut", "est_ff", "yosys_ff", "est_dsp", "yosys_dsp",
            "est_bram", "yosys_bram", "interval", "interval_sim", "bit_exact", "fits",
            "img_s_per_klut", "test_accuracy"]
    print("  ".join(cols))
    for r in rows:
        print("  ".join(str(r.get(c, "")) for c in cols))
    if args.save:
        print("recorded", record(RESULTS / "scale.json", vars(args), rows=rows))


if __name__ == "__main__":
    main()
