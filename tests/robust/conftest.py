"""Shared helpers of the robustness tests: run the CLI in-process and check its output
contract (a result, or one named error; under --json exactly one JSON object)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from codesign.cli.main import main

QUICKSTART_FLOW = Path(__file__).parents[2] / "flows" / "digits.yaml"


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        """The one JSON object on stdout (asserts there is exactly one)."""
        lines = [line for line in self.out.splitlines() if line.strip()]
        assert len(lines) == 1, f"stdout is not one JSON object:\n{self.out}\n{self.err}"
        return json.loads(lines[0], parse_constant=_not_json)


def _not_json(name: str) -> None:
    raise AssertionError(f"stdout holds {name}, which is not JSON (RFC 8259)")


def cli(capsys, *argv: str) -> Outcome:
    """main(argv) in this process; a traceback fails the test by propagating."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own exits (--help)
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return Outcome(code, out, err)


def assert_named_error(outcome: Outcome, *, json_mode: bool, code: int = 1) -> str:
    """The command failed with a message (not a traceback): exit `code`, the message on
    stderr, and with --json one {"error", "exit_code"} object on stdout. Returns it."""
    assert outcome.code == code, (outcome.code, outcome.err)
    assert "Traceback" not in outcome.err
    assert "error:" in outcome.err
    if json_mode:
        obj = outcome.json()
        assert obj["exit_code"] == code and obj["error"]
        return obj["error"]
    return outcome.err


@pytest.fixture(scope="session")
def saved_design8(tmp_path_factory, digits_qnet8) -> Path:
    """digits_qnet8 saved once; copy it before changing anything in it."""
    out = tmp_path_factory.mktemp("robust_d8")
    return digits_qnet8.save(out)
