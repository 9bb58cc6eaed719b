"""Entry point: `codesign COMMAND ...`. Each command lives in its own module here."""

from __future__ import annotations

import argparse
import importlib
import sys

from codesign.errors import CodesignError

# Each module defines NAME, HELP, add_arguments(parser) and run(args) -> int.
COMMANDS = [
    "codesign.cli.cmd_zoo",
    "codesign.cli.cmd_train",
    "codesign.cli.cmd_graph",
    "codesign.cli.cmd_quantize",
    "codesign.cli.cmd_eval",
    "codesign.cli.cmd_emit",
    "codesign.cli.cmd_rtl",
    "codesign.cli.cmd_sensitivity",
    "codesign.cli.cmd_cost",
    "codesign.cli.cmd_synth",
    "codesign.cli.cmd_run",
]


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(
        prog="codesign",
        description="Hardware co-design for quantized CNNs: trace, quantize, evaluate, "
                    "emit HLS and RTL that match the bit-accurate model.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    runners = {}
    for path in COMMANDS:
        module = importlib.import_module(path)
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        runners[module.NAME] = module.run
    return parser, runners


def main(argv: list[str] | None = None) -> int:
    parser, runners = build_parser()
    args = parser.parse_args(argv)  # usage errors exit 2 here
    try:
        return int(runners[args.command](args) or 0)
    except CodesignError as exc:
        print(f"codesign {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
