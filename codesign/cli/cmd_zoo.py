"""`codesign zoo`: the built-in models and the device table."""

from __future__ import annotations

import argparse

from codesign import devices
from codesign.cli.common import add_device_file_arg, add_json_arg, load_device_files, report, table
from codesign.zoo import ZOO

NAME = "zoo"
HELP = "list the built-in models and target devices"
DEVICE_COLUMNS = ["part", "family", "lut", "ff", "dsp", "bram", "lut_inputs", "dsp_shape",
                  "bram_kbits", "clock_mhz"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_device_file_arg(p)
    add_json_arg(p)


def run(args: argparse.Namespace) -> int:
    load_device_files(args)
    models = [{"name": e.name, "input_shape": ",".join(map(str, e.input_shape)),
               "dataset": e.dataset, "description": e.description} for e in ZOO.values()]
    rows = [d.to_dict() for d in devices.DEVICES.values()]
    report(args, {"models": models, "devices": rows},
           lambda r: table(r["models"], ["name", "input_shape", "dataset", "description"])
           + "\n\n" + table(r["devices"], DEVICE_COLUMNS))
    return 0
