"""Under --json every failure is still exactly one JSON object on stdout, however the
flag is spelled and whatever stopped the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robust.conftest import assert_named_error, cli


@pytest.mark.parametrize("flag", ["--json", "--js", "--jso"])
def test_abbreviated_json_flag_still_reports_errors_as_json(capsys, flag: str) -> None:
    outcome = cli(capsys, "graph", "no_such_model", flag)
    assert "unknown model" in assert_named_error(outcome, json_mode=True)


def test_usage_error_with_abbreviated_json_flag(capsys) -> None:
    outcome = cli(capsys, "graph", "digits_cnn", "--js", "--no-such-option")
    assert "unrecognized" in assert_named_error(outcome, json_mode=True, code=2)


def test_os_error_is_named_not_a_traceback(capsys, tmp_path: Path, saved_design8: Path,
                                           monkeypatch) -> None:
    import codesign.cli.cmd_cost as cmd

    def gone(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(saved_design8))

    monkeypatch.setattr(cmd.QuantizedNet, "load", gone)
    message = assert_named_error(cli(capsys, "cost", saved_design8, "--json"), json_mode=True)
    assert str(saved_design8) in message and "Permission denied" in message


def test_interrupt_under_json_is_one_object(capsys, saved_design8: Path, monkeypatch) -> None:
    import codesign.cli.cmd_cost as cmd

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cmd.QuantizedNet, "load", interrupt)
    outcome = cli(capsys, "cost", saved_design8, "--json")
    assert outcome.code == 130
    assert outcome.json() == {"error": "interrupted", "exit_code": 130}
