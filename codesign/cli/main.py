"""Entry point: `codesign COMMAND ...`. Each command lives in its own module here."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from codesign.errors import CodesignError, UnknownDeviceError
from codesign.rtl.solver_settings import use_solver

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
    "codesign.cli.cmd_allocate",
    "codesign.cli.cmd_cost",
    "codesign.cli.cmd_synth",
    "codesign.cli.cmd_run",
    "codesign.cli.cmd_report",
]


class UsageError(Exception):
    """A command line argparse rejects; main() reports it (exit status 2)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so --json can report usage errors too
    (subcommand parsers are made with this class as well)."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(self, message)


def _fail(wants_json: bool, command: str, message: str, code: int) -> int:
    """Report an error: the message on stderr and, with --json, one JSON object on stdout."""
    print(f"codesign {command}: error: {message}".replace("codesign : ", "codesign: "),
          file=sys.stderr)
    if wants_json:
        print(json.dumps({"error": message, "exit_code": code}))
    return code


def _message(exc: CodesignError, args: argparse.Namespace) -> str:
    """The error's message; for an unknown part, how this command can be given one."""
    if not isinstance(exc, UnknownDeviceError):
        return str(exc)
    if hasattr(args, "device_file"):
        return f"{exc}: pass it with --device-file FILE.yaml"
    return (f"{exc}; `codesign {args.command}` knows only the parts listed (`codesign cost`, "
            "`synth` and `zoo` read a device file with --device-file FILE.yaml)")


def _json_in(argv: list[str]) -> bool:
    """--json, or an abbreviation argparse accepts (--js), before any `--`: for errors
    found before the command line is parsed."""
    words = argv[:argv.index("--")] if "--" in argv else argv
    return any(len(w) >= 4 and "--json".startswith(w) for w in words)


def _os_message(exc: OSError) -> str:
    where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    return (f"{where}: {exc.strerror or exc}" if where else str(exc)) + \
        "; nothing was left half-written, fix that and run the command again"


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = _Parser(
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
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, runners = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        exc.parser.print_usage(sys.stderr)  # then exit 2, as argparse itself would
        raise SystemExit(_fail(_json_in(argv), exc.parser.prog.removeprefix("codesign").strip(),
                               str(exc), 2)) from None
    wants_json = bool(getattr(args, "json", False))
    try:
        with use_solver(getattr(args, "solver", "auto")):  # --solver of rtl, cost, synth
            return int(runners[args.command](args) or 0)
    except CodesignError as exc:
        return _fail(wants_json, args.command, _message(exc, args), 1)
    except OSError as exc:  # the environment's (a full disk, a file removed meanwhile)
        return _fail(wants_json, args.command, _os_message(exc), 1)
    except KeyboardInterrupt:
        return _fail(wants_json, args.command, "interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
