"""From a run's summary (run.json) to the report's sections.

Each section reads only the summary, so a report can be rebuilt from run.json alone.
Sections appear only for the stages that ran; a failed stage shows its error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.cost.bands import band_summary
from codesign.report import plots
from codesign.report.answer import answer_section
from codesign.report.blocks import Image, Para, Row, Section, Table


def pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.2f}%"


def sections(s: dict[str, Any], run_dir: Path) -> list[Section]:
    """The answers first (answer.py), then the figures to read them by, then the detail."""
    out = [sec for sec in (answer_section(s, run_dir), _figures(s, run_dir)) if sec]
    out += [_overview(s), _accuracy(s)]
    for build in (_compare, _chosen, _resources, _verification, _sensitivity, _allocate,
                  _failures, _times):
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
            ["chosen design", str(s.get("chosen") or f"none: {s.get('no_choice', '')}")],
            *([["synthesis", timed_out_text(s["synth"])]]
              if (s.get("synth") or {}).get("timed_out") else []),
        ]),
    ]
    return Section("overview", f"Run of flow {s['flow']}", blocks)


def timed_out_text(syn: dict[str, Any]) -> str:
    """'timed out after N s' and how far the tools got."""
    return (f"Yosys synthesis timed out after {syn['timeout_s']:g} s (synth.timeout_s); it "
            f"reached: {syn['reached']}")


def _accuracy(s: dict[str, Any]) -> Section:
    m = s.get("model", {})
    sec = Section("accuracy", "Accuracy of every design point")  # the plot: _figures
    sec.blocks.append(Para(
        f"Float model: validation {pct(m.get('float_val_accuracy'))}, test "
        f"{pct(m.get('float_test_accuracy'))}. Bit-accurate figures are the integers the "
        "hardware computes. The chosen point is selected on validation accuracy: "
        f"{s.get('select', {}).get('rule', '')} "
        f"({100 * s.get('select', {}).get('max_accuracy_drop', 0):.1f} points)."))
    with_cost = any(r.get("cost") for r in s["points"])
    rows = []
    for r in s["points"]:
        p, e, c = r["point"], r.get("eval") or {}, r.get("cost") or {}
        row = [r["label"] + (" (chosen)" if r["label"] == s.get("chosen") else ""),
               p["device"], p["method"], _bits(p), pct(e.get("bit_accurate_val_accuracy")),
               pct(e.get("bit_accurate_test_accuracy")), str(e.get("weight_bits", ""))]
        if with_cost:
            row += [str(c.get(k, "")) for k in ("lut", "ff", "dsp", "bram", "latency")]
            row.append("" if not c else "yes" if c["fits"] else "NO")
        rows.append(row + ["ok" if r["error"] is None else "FAILED"])
    cols = ["point", "device", "method", "bits", "bit-accurate val", "bit-accurate test",
            "weight bits"]
    if with_cost:
        cols += ["LUT (est.)", "FF (est.)", "DSP (est.)", "BRAM (est.)", "latency (cycles)",
                 "fits"]
    sec.blocks.append(Table(cols + ["status"], rows))
    return sec


def frontier_image(s: dict[str, Any]) -> Image | None:
    """Every evaluated point of every method on one plot (estimated LUTs when costed)."""
    if not any(r.get("eval") for r in s["points"]):
        return None
    float_acc = s.get("model", {}).get("float_val_accuracy")
    if any(r.get("cost") for r in s["points"]):
        points = [{**r, "eval": {**r["eval"], "lut": r["cost"]["lut"]}}
                  for r in s["points"] if r.get("eval") and r.get("cost")]
        png = plots.frontier(points, s.get("chosen"), float_acc, x_key="lut",
                             x_label="estimated LUTs")
        alt = "Frontier: bit-accurate validation accuracy against estimated LUTs"
    else:
        png = plots.frontier(s["points"], s.get("chosen"), float_acc)
        alt = "Frontier: bit-accurate validation accuracy against total weight bits"
    return Image("frontier", png, alt)


def _figures(s: dict[str, Any], run_dir: Path) -> Section | None:
    """The frontier of all methods, then the chosen design's per-layer widths beside the
    sensitivity they were allocated against."""
    sec = Section("figures", "Frontier and allocation")
    front = frontier_image(s)
    if front is not None:
        sec.blocks.append(front)
    pair = [img for img in (_bits_image(s), _sensitivity_image(s, run_dir)) if img]
    if pair:
        sec.blocks.append(Row(pair))
    return sec if sec.blocks else None


def _bits_image(s: dict[str, Any]) -> Image | None:
    r = _chosen_record(s)
    if r is None or not r.get("eval"):
        return None
    return Image("layer_bits", plots.layer_bits(r["eval"]["layers"]),
                 f"Weight and result bits per layer of the chosen design ({r['label']})")


def _sensitivity_image(s: dict[str, Any], run_dir: Path) -> Image | None:
    sens = s.get("sensitivity")
    png = run_dir / sens["folder"] / sens["plot"] if sens else None
    if png is None or not png.is_file():
        return None
    return Image("sensitivity", png.read_bytes(),
                 f"Sensitivity per layer ({sens['method']}): Omega at each width")


def _compare(s: dict[str, Any], run_dir: Path) -> Section | None:
    """This run and the flow's report.compare runs on one frontier plot."""
    if not s.get("compare"):
        return None
    from codesign.report.compare import compare_runs, compare_section, run_name

    return compare_section([(run_name(s, run_dir), s), *compare_runs(s["compare"])])


def _chosen_record(s: dict[str, Any]) -> dict[str, Any] | None:
    return next((r for r in s["points"] if r["label"] == s.get("chosen")), None)


def _chosen(s: dict[str, Any], run_dir: Path) -> Section | None:
    r = _chosen_record(s)
    if r is None:
        ok = [p for p in s["points"] if p["error"] is None]
        why = ("No sweep point succeeded, so no design was chosen." if not ok else
               "No point fits its device by the cost estimate (see the fits column): choose "
               "a larger part, or set cost.fit_only: false to choose among all points.")
        return Section("chosen", "Chosen design", [Para(why, False)])
    e = r["eval"]
    sec = Section("chosen", f"Chosen design: {r['label']}")
    sec.blocks.append(Para(
        f"Device {r['point']['device']}, method {r['point']['method']}, "
        f"{_widths_text(r['point'])}; bit-accurate test accuracy "
        f"{pct(e['bit_accurate_test_accuracy'])}. Design file: "
        f"points/{r['label']}/quantize/design.yaml."))
    rows = [[L["name"], L["kind"], L.get("weight", ""), L["result"],
             str(L.get("accum_bits", "")), str(L.get("reuse", "")), L.get("multiplier", "")]
            for L in e["layers"]]
    sec.blocks.append(Table(["layer", "kind", "weight type", "result type", "accum bits",
                             "reuse (RF)", "multiplier"], rows))
    return sec


RESOURCES = ("lut", "ff", "dsp", "bram")
# per-layer rows of each cost model's estimate: field -> column heading
FAST_COLUMNS = {"layer": "layer", "kind": "kind", "w_bits": "weight bits",
                "x_bits": "input bits", "out_bits": "result bits", "reuse": "reuse",
                "multiplier": "multiplier", "lut": "LUT", "ff": "FF", "dsp": "DSP",
                "bram": "BRAM", "latency": "latency", "interval": "interval"}
STRUCTURAL_COLUMNS = {"layer": "layers", "module": "engine module", "reuse": "reuse",
                      "lut": "LUT", "ff": "FF", "dsp": "DSP", "bram": "BRAM",
                      "carry": "carry", "srl": "SRL", "interval": "interval"}


def _resources(s: dict[str, Any], run_dir: Path) -> Section | None:
    r = _chosen_record(s)
    est, syn = (r or {}).get("cost"), s.get("synth")
    if est is None and syn is None:
        return None
    sec = Section("resources", "Resources of the chosen design")
    if est is not None:
        fit = est.get("fit") or {}
        fitted = (f"constants fitted with Yosys {fit['yosys']} on {fit.get('date')}"
                  if fit.get("yosys") not in (None, "none")
                  else "default constants, not fitted against Yosys")
        sec.blocks.append(Para(
            f"Estimated by the {est.get('model', 'fast')} cost model on {est['device']} "
            f"({fitted}); latency "
            f"{est['latency']} cycles, interval {est['interval']} cycles." +
            "".join(f" Warning: {w}." for w in est["warnings"]),
            None if est["fits"] else False))
        if est.get("band"):
            sec.blocks.append(Para(band_summary(est["band"]) + "."))
    if syn is not None and "error" in syn:
        sec.blocks.append(Para(f"Yosys synthesis FAILED: {syn['error']}", False))
        syn = None
    if syn is not None and syn.get("timed_out"):
        sec.blocks.append(Para(timed_out_text(syn) + (
            "; the synthesized column holds Yosys's figures." if "lut" in syn else
            "; no synthesized figures. Raise synth.timeout_s (or remove it) for them.")))
        if "lut" not in syn:
            syn = None
    rows = []
    # the structural estimate also counts carry cells and SRLs, which Yosys reports
    counted = [k for k in ("carry", "srl") if est is not None and est.get(k) is not None]
    for k in (*RESOURCES, *counted):
        share = (est or {}).get("utilization", {}).get(k)
        row = [k.upper(), "" if est is None else str(est[k]),
               "" if share is None else f"{share:.1f}%"]
        if syn is not None:
            got = syn.get(k)
            err = ("" if est is None or not got else
                   f"{100 * (est[k] - got) / got:+.1f}%")
            row += [str(got), err]
        rows.append(row)
    cols = ["resource", "estimated", "% of device"]
    if syn is not None:
        cols += [f"synthesized (Yosys {syn.get('yosys', '')})".replace(" (Yosys )", ""),
                 "estimate error"]
        extra = [f"{k.upper()} {syn[k]}" for k in ("carry", "srl", "lutram")
                 if syn.get(k) and k not in counted]
        fmax = syn.get("fmax_mhz")
        sec.blocks.append(Para(
            "Synthesized with Yosys" + (" (cached)" if syn.get("cached") else "") +
            (f"; also {', '.join(extra)}" if extra else "") +
            (f"; Fmax {fmax} MHz (nextpnr)" if fmax else "") +
            ". Files: stages/synth/synth.", True))
    sec.blocks.append(Table(cols, rows))
    if est is not None:
        columns = STRUCTURAL_COLUMNS if est.get("model") == "structural" else FAST_COLUMNS
        layer_rows = [[str(L.get(k, "") if L.get(k) is not None else "") for k in columns]
                      for L in est["layers"]]
        sec.blocks.append(Table(list(columns.values()), layer_rows))
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
                           f"is {sens['folder']}/{sens['table']}; its chart is under "
                           "Frontier and allocation."))
    return sec


def _bits(point: dict[str, Any]) -> str:
    if point.get("alloc") is None:
        return str(point["bits"])
    return f"{point.get('alloc_method') or 'alloc'} #{point['alloc']}"


def _widths_text(point: dict[str, Any]) -> str:
    if point.get("alloc") is None:
        return f"{point['bits']}-bit weights and activations"
    return (f"per-layer widths of frontier point {point['alloc']} of the "
            f"{point.get('alloc_method') or 'exact'} allocator")


def _allocate(s: dict[str, Any], run_dir: Path) -> Section | None:
    """The allocator's frontier per device: its estimate and Omega of every design."""
    alloc = s.get("allocate")
    if alloc is None:
        return None
    methods = ", ".join(alloc.get("methods") or [alloc["method"]])  # older run.json: one
    sec = Section("allocate", f"Hardware-aware allocation ({methods})")
    for device, d in alloc["devices"].items():
        sec.blocks.append(Para(f"{device}: budget {d['budget']}, objective {d['objective']}, "
                               f"{len(d['points'])} design(s) along {d['axis']}; the table "
                               f"is {alloc['folder']}/{d['csv']}."))
        for method, why in d.get("infeasible", {}).items():
            sec.blocks.append(Para(f"{method}: {why}; it adds no point.", False))
        for note in d.get("budget_notes", []):
            sec.blocks.append(Para(note + "."))
        check = d.get("synth_check")
        if check is not None:  # the ground truth, when the flow asked Yosys
            sec.blocks.append(Para(f"Synthesis check ({len(check['iterations'])} "
                                   f"iteration(s)): {check['claim']}.", check["fits"]))
        rows = [[r["method"], str(r["point"]), f"{r['omega']:.4g}",
                 *(f"{r[k]:g}" for k in ("lut", "ff", "dsp", "latency")),
                 r.get("binding", "")]
                for r in d["points"]]
        sec.blocks.append(Table(["method", "point", "Omega", "LUT (est.)", "FF (est.)",
                                 "DSP (est.)", "latency (cycles)", "binding limit"], rows))
        png = run_dir / alloc["folder"] / d["plot"]
        if png.is_file():
            sec.blocks.append(Image(f"allocate_{device}", png.read_bytes(),
                                    f"The allocator's frontier on {device}"))
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
        how = ("cached" if st["cached"] else
               f"timed out (limit {st['outputs']['timeout_s']:g} s)" if st.get("timed_out")
               else "computed")
        rows.append([name, f"{st['seconds']:.2f}", how, f"{st['wall']:.2f}"])
        bars.append((name, float(st["seconds"]),
                     "timed out" if st.get("timed_out") else
                     "cached" if st["cached"] else "computed"))
    sec = Section("times", "Run time per stage", [
        Para(f"Whole run: {s['seconds']:.1f} s wall. 'seconds' is what the stage took when "
             "its result was computed; a cached stage costs this run only the lookup."),
        Table(["stage", "seconds", "this run", "wall this run (s)"], rows)])
    if bars:
        sec.blocks.append(Image("stage_times", plots.stage_times(bars), "Seconds per stage"))
    return sec
