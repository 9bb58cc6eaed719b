"""From a run's summary (run.json) to the report's sections.

Each section reads only the summary, so a report can be rebuilt from run.json alone.
Sections appear only for the stages that ran; a failed stage shows its error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.report import plots
from codesign.report.blocks import Image, Para, Section, Table


def pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.2f}%"


def sections(s: dict[str, Any], run_dir: Path) -> list[Section]:
    out = [_overview(s), _accuracy(s)]
    for build in (_chosen, _verification, _sensitivity, _failures, _times):
        section = build(s, run_dir)
        if section is not None:
            out.append(section)
    return out


def _overview(s: dict[str, Any]) -> Section:
    m = s.get("model", {})
    verdict = "PASS" if s["ok"] else "FAIL"
    blocks = [
        Para(f"Verdict: {verdict}: " + ("a design was chosen and every verification that "
                                        "ran is bit-exact" if s["ok"] else
                                        "see the sections below for what failed"), s["ok"]),
        Table(["", ""], [
            ["flow", s["flow"]], ["flow file", s["flow_file"]], ["run directory", s["run_dir"]],
            ["started", s["started"]], ["wall time", f"{s['seconds']:.1f} s"],
            ["dataset", str(m.get("dataset", ""))],
            ["model", f"{m.get('layers', '?')} layers, {m.get('params', '?')} parameters, "
                      f"{m.get('macs', '?')} MACs per inference"],
            ["sweep points", f"{len(s['points'])} ({sum(p['error'] is None for p in s['points'])}"
                             " succeeded)"],
            ["chosen design", str(s.get("chosen"))],
        ]),
    ]
    return Section("overview", f"Run of flow {s['flow']}", blocks)


def _accuracy(s: dict[str, Any]) -> Section:
    m = s.get("model", {})
    sec = Section("accuracy", "Accuracy of every design point")
    sec.blocks.append(Para(
        f"Float model: validation {pct(m.get('float_val_accuracy'))}, test "
        f"{pct(m.get('float_test_accuracy'))}. Bit-accurate figures are the integers the "
        "hardware computes. The chosen point is selected on validation accuracy: "
        f"{s.get('select', {}).get('rule', '')} "
        f"({100 * s.get('select', {}).get('max_accuracy_drop', 0):.1f} points)."))
    rows = []
    for r in s["points"]:
        p, e = r["point"], r.get("eval") or {}
        rows.append([r["label"] + (" (chosen)" if r["label"] == s.get("chosen") else ""),
                     p["device"], p["method"], str(p["bits"]),
                     pct(e.get("bit_accurate_val_accuracy")),
                     pct(e.get("bit_accurate_test_accuracy")), str(e.get("weight_bits", "")),
                     "ok" if r["error"] is None else "FAILED"])
    sec.blocks.append(Table(["point", "device", "method", "bits", "bit-accurate val",
                             "bit-accurate test", "weight bits", "status"], rows))
    if any(r.get("eval") for r in s["points"]):
        sec.blocks.append(Image("frontier", plots.frontier(
            s["points"], s.get("chosen"), m.get("float_val_accuracy")),
            "Frontier: bit-accurate validation accuracy against total weight bits"))
    return sec


def _chosen_record(s: dict[str, Any]) -> dict[str, Any] | None:
    return next((r for r in s["points"] if r["label"] == s.get("chosen")), None)


def _chosen(s: dict[str, Any], run_dir: Path) -> Section | None:
    r = _chosen_record(s)
    if r is None:
        return Section("chosen", "Chosen design", [Para("No sweep point succeeded, so no "
                                                        "design was chosen.", False)])
    e = r["eval"]
    sec = Section("chosen", f"Chosen design: {r['label']}")
    sec.blocks.append(Para(
        f"Device {r['point']['device']}, method {r['point']['method']}, "
        f"{r['point']['bits']}-bit weights and activations; bit-accurate test accuracy "
        f"{pct(e['bit_accurate_test_accuracy'])}. Design file: "
        f"points/{r['label']}/quantize/design.yaml."))
    rows = [[L["name"], L["kind"], L.get("weight", ""), L["result"],
             str(L.get("accum_bits", "")), str(L.get("reuse", "")), L.get("multiplier", "")]
            for L in e["layers"]]
    sec.blocks.append(Table(["layer", "kind", "weight type", "result type", "accum bits",
                             "reuse (RF)", "multiplier"], rows))
    sec.blocks.append(Image("layer_bits", plots.layer_bits(e["layers"]),
                            "Weight and result bits per layer of the chosen design"))
    return sec


def _verification(s: dict[str, Any], run_dir: Path) -> Section | None:
    hls, rtl = s.get("hls"), s.get("rtl")
    if hls is None and rtl is None:
        return None
    sec = Section("verification", "Verification of the chosen design")
    if hls is not None:
        if "error" in hls:
            sec.blocks.append(Para(f"hls4ml: FAILED: {hls['error']}", False))
        elif "csim" in hls:
            c = hls["csim"]
            sec.blocks.append(Para(
                f"hls4ml C simulation vs bit-accurate model: {c['identical_samples']}/"
                f"{c['samples']} samples and {c['identical_outputs']}/{c['outputs']} outputs "
                f"bit-identical (project in stages/hls/hls, io_{hls['io']}, part "
                f"{hls['part']})." + (f" First mismatch: {c['first_mismatch']}"
                                      if c.get("first_mismatch") else ""), c["ok"]))
        else:
            sec.blocks.append(Para("hls4ml project written (C simulation not requested)."))
    if rtl is not None:
        if "error" in rtl:
            sec.blocks.append(Para(f"RTL: FAILED: {rtl['error']}", False))
        else:
            sec.blocks.append(Para(
                f"RTL: {len(rtl['engines'])} engines in stages/rtl/rtl; predicted latency "
                f"{rtl['predicted_latency']} cycles, interval {rtl['predicted_interval']} "
                "cycles."))
            rows = []
            for run in rtl.get("runs", []):
                p, m = run.get("predicted_cycles") or {}, run.get("measured_cycles") or {}
                rows.append([run["mode"], f"{run['bit_exact']}/{run['samples']}",
                             str(p.get("latency", "")), str(m.get("latency", "")),
                             str(p.get("interval", "")), str(m.get("interval", "")),
                             str(p.get("total", "")), str(m.get("total", "")),
                             {True: "equal", False: "DIFFERENT", None: "n/a"}[
                                 run["cycles_equal"]]])
            if rows:
                runs = rtl["runs"]
                exact = sum(r["bit_exact"] for r in runs)
                total = sum(r["samples"] for r in runs)
                cycles = [r["cycles_equal"] for r in runs if r["cycles_equal"] is not None]
                verdict = ("every transfer edge as predicted" if cycles and all(cycles) else
                           "cycles DIFFER from the prediction" if cycles else
                           "cycles not compared")
                sec.blocks.append(Para(
                    f"Verilator simulation vs bit-accurate model: {exact}/{total} samples "
                    f"bit-exact; {verdict}. Cycles predicted vs measured:", rtl.get("ok")))
                sec.blocks.append(Table(
                    ["mode", "bit-exact samples", "latency predicted", "latency measured",
                     "interval predicted", "interval measured", "total predicted",
                     "total measured", "cycles"], rows))
    return sec


def _sensitivity(s: dict[str, Any], run_dir: Path) -> Section | None:
    sens = s.get("sensitivity")
    if sens is None:
        return None
    sec = Section("sensitivity", f"Layer sensitivity ({sens['method']})")
    widths = ", ".join(map(str, sens["bits"]))
    sec.blocks.append(Para(f"Omega per layer per candidate width ({widths} bits); the table "
                           f"is {sens['folder']}/{sens['table']}."))
    png = run_dir / sens["folder"] / sens["plot"]
    if png.is_file():
        sec.blocks.append(Image("sensitivity", png.read_bytes(), "Sensitivity per layer"))
    return sec


def _failures(s: dict[str, Any], run_dir: Path) -> Section | None:
    failed = [r for r in s["points"] if r["error"] is not None]
    if not failed:
        return None
    return Section("failures", "Failed points", [
        Para(f"{len(failed)} point(s) failed; the sweep went on without them.", False),
        Table(["point", "error"], [[r["label"], r["error"]] for r in failed])])


def _times(s: dict[str, Any], run_dir: Path) -> Section:
    rows, bars = [], []
    for st in s["stages"]:
        name = st["stage"] + (f" [{st['point']}]" if st["point"] else "")
        rows.append([name, f"{st['seconds']:.2f}", "cached" if st["cached"] else "computed",
                     f"{st['wall']:.2f}"])
        bars.append((name, float(st["seconds"]), bool(st["cached"])))
    sec = Section("times", "Run time per stage", [
        Para(f"Whole run: {s['seconds']:.1f} s wall. 'seconds' is what the stage took when "
             "its result was computed; a cached stage costs this run only the lookup."),
        Table(["stage", "seconds", "this run", "wall this run (s)"], rows)])
    if bars:
        sec.blocks.append(Image("stage_times", plots.stage_times(bars), "Seconds per stage"))
    return sec
