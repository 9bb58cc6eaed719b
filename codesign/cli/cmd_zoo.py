"""`codesign zoo`: the built-in models and devices."""

from __future__ import annotations

import argparse

from codesign.cli.common import add_json_arg, report, table
from codesign.devices import DEVICES
from codesign.zoo import ZOO

NAME = "zoo"
HELP = "list the built-in models and target devices"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_json_arg(p)


def run(args: argparse.Namespace) -> int:
    models = [{"name": e.name, "input_shape": ",".join(map(str, e.input_shape)),
               "dataset": e.dataset, "description": e.description} for e in ZOO.values()]
    devices = [{"part": d.part, "family": d.family, "lut": d.lut, "ff": d.ff, "dsp": d.dsp,
                "bram": d.bram} for d in DEVICES.values()]
    report(args, {"models": models, "devices": devices},
           lambda r: table(r["models"], ["name", "input_shape", "dataset", "description"])
           + "\n\n" + table(r["devices"], ["part", "family", "lut", "ff", "dsp", "bram"]))
    return 0
