"""`codesign graph MODEL`: the network as the hardware sees it.

Layers, shapes, parameter counts and MACs depend on the architecture only, so a zoo model
is shown untrained: no dataset and no training are needed (--weights still loads and
checks a state_dict)."""

from __future__ import annotations

import argparse

from codesign.cli.common import add_json_arg, add_model_args, model_from_args, report, table

NAME = "graph"
HELP = "print the traced graph: layers, shapes, parameters, MACs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    add_json_arg(p)


def run(args: argparse.Namespace) -> int:
    model = model_from_args(args, trained=False)
    rows = model.graph().summary()
    result = {
        "model": args.model,
        "input_shape": list(model.input_shape),
        "layers": rows,
        "params": sum(r["params"] for r in rows),
        "macs": sum(r["macs"] for r in rows),
    }

    def text(r: dict) -> str:
        shown = [{**row, "inputs": ",".join(row["inputs"]),
                  "out_shape": "x".join(map(str, row["out_shape"]))} for row in r["layers"]]
        return (table(shown, ["name", "kind", "inputs", "out_shape", "params", "macs", "source"])
                + f"\ntotal: {r['params']} parameters, {r['macs']} MACs per inference")

    report(args, result, text)
    return 0
