"""Outputs appear whole or not at all: a command that fails half way leaves nothing
half-written and gives back what was there; an output path of the wrong kind (a file
for a directory, a directory for a file) is a named error before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codesign.errors import CodesignError
from codesign.outputs import output_dir, output_file
from tests.robust.conftest import QUICKSTART_FLOW, assert_named_error, cli


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_output_dir_failure_removes_a_new_directory_and_its_parents(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), output_dir(tmp_path / "a" / "b") as out:
        (out / "half.txt").write_text("half")
        raise RuntimeError("tool crashed")
    assert list(tmp_path.iterdir()) == []


def test_output_dir_failure_restores_the_earlier_contents(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    (out / "mine.txt").write_text("the user's")
    with pytest.raises(KeyboardInterrupt), output_dir(out) as o:
        assert list(o.iterdir()) == []  # writes start in an empty directory
        (o / "old.txt").write_text("new, half")
        raise KeyboardInterrupt
    assert _tree(out) == {"old.txt": "old", "mine.txt": "the user's"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no backup left


@pytest.mark.parametrize("keep_old", [True, False])
def test_output_dir_success_replaces_and_keeps_the_rest(tmp_path: Path, keep_old: bool
                                                         ) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    (out / "mine.txt").write_text("the user's")
    with output_dir(out, keep_old=keep_old) as o:
        (o / "old.txt").write_text("new")
    expected = {"old.txt": "new"} | ({"mine.txt": "the user's"} if keep_old else {})
    assert _tree(out) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_output_file_is_renamed_on_success_and_removed_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "t.yaml"
    target.write_text("old")
    with pytest.raises(RuntimeError), output_file(target) as tmp:
        assert tmp.suffix == ".yaml" and tmp.parent == tmp_path
        tmp.write_text("half")
        raise RuntimeError
    assert _tree(tmp_path) == {"t.yaml": "old"}
    with output_file(target) as tmp:
        tmp.write_text("new")
    assert _tree(tmp_path) == {"t.yaml": "new"}


def test_wrong_kind_of_path_is_named(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(CodesignError, match="is a file, not a directory"), \
            output_dir(tmp_path / "f"):
        pass
    with pytest.raises(CodesignError, match="is a directory, not a file"), \
            output_file(tmp_path):
        pass


# --out (or --runs-dir, --testbench) naming an existing file of the user's: a named error,
# one JSON object under --json, and the file untouched
def _file_outs(design: Path) -> dict[str, list]:
    return {
        "quantize": ["quantize", "digits_cnn", "--uniform", "8", "--out", "{F}"],
        "emit": ["emit", design, "--out", "{F}"],
        "rtl": ["rtl", design, "--out", "{F}"],
        "rtl --testbench": ["rtl", design, "--testbench", "{F}"],
        "synth": ["synth", design, "--out", "{F}"],
        "allocate": ["allocate", "digits_cnn", "--sensitivity", "{F}", "--device",
                     "xc7a100t", "--budget", "lut=0.5", "--out", "{F}"],
        "run": ["run", QUICKSTART_FLOW, "--runs-dir", "{F}"],
    }


@pytest.mark.parametrize("command", list(_file_outs(Path())))
def test_out_naming_a_file_is_a_named_error(capsys, tmp_path: Path, saved_design8: Path,
                                            command: str) -> None:
    mine = tmp_path / "notes.txt"
    mine.write_text("the user's file")
    argv = [str(mine) if a == "{F}" else a for a in _file_outs(saved_design8)[command]]
    message = assert_named_error(cli(capsys, *argv, "--json"), json_mode=True)
    assert str(mine) in message and "not a directory" in message
    assert _tree(tmp_path) == {"notes.txt": "the user's file"}


def test_sensitivity_out_naming_a_directory_is_refused_before_work(capsys, tmp_path: Path
                                                                   ) -> None:
    outcome = cli(capsys, "sensitivity", "digits_cnn", "--method", "joint", "--bits", "4,8",
                  "--out", tmp_path, "--force", "--json")
    message = assert_named_error(outcome, json_mode=True)
    assert "is a directory, not a file" in message
    assert list(tmp_path.iterdir()) == []


def test_failed_synth_leaves_nothing(capsys, tmp_path: Path, saved_design8: Path) -> None:
    """A missing liberty file is found after the RTL was generated under --out/rtl."""
    outcome = cli(capsys, "synth", saved_design8, "--out", tmp_path / "syn", "--asic",
                  "--liberty", tmp_path / "missing.lib", "--json")
    assert_named_error(outcome, json_mode=True)
    assert list(tmp_path.iterdir()) == []


def test_failed_emit_gives_back_the_earlier_project(capsys, tmp_path: Path,
                                                   saved_design8: Path, monkeypatch) -> None:
    """emit replaces its own earlier project without --force; one that fails half way
    must leave the earlier one exactly as it was."""
    out = tmp_path / "hls"
    assert cli(capsys, "emit", saved_design8, "--out", out).code == 0
    before = _tree(out)

    def crash(*args, **kwargs):
        raise CodesignError("hls4ml refused the part")

    import codesign.hls.project as hls

    monkeypatch.setattr(hls, "exact_results_bench", crash)  # after hls4ml has written
    assert_named_error(cli(capsys, "emit", saved_design8, "--out", out, "--json"),
                       json_mode=True)
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hls"]


def test_quantize_refuses_an_existing_design_before_quantizing(capsys, tmp_path: Path,
                                                              monkeypatch) -> None:
    """Not after minutes of QAT: the refusal comes first."""
    import codesign.cli.cmd_quantize as cmd

    def never(*args, **kwargs):
        raise AssertionError("quantized before refusing to overwrite")

    monkeypatch.setattr(cmd, "run_method", never)
    (tmp_path / "design.yaml").write_text("mine")
    outcome = cli(capsys, "quantize", "digits_cnn", "--uniform", "4", "--out", tmp_path)
    assert "already exists" in assert_named_error(outcome, json_mode=False)
    assert _tree(tmp_path) == {"design.yaml": "mine"}


def test_failed_quantize_leaves_nothing(capsys, tmp_path: Path, monkeypatch) -> None:
    """A failure while the design is being written (here: the weights file) leaves no
    design.yaml without its weights, or the reverse."""
    import codesign.qnet as qnet

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(qnet.np, "savez_compressed", crash)
    outcome = cli(capsys, "quantize", "digits_cnn", "--uniform", "8", "--out", tmp_path / "q",
                  "--json")
    assert "No space left on device" in assert_named_error(outcome, json_mode=True)
    assert list(tmp_path.iterdir()) == []


def test_failed_report_rebuild_keeps_the_earlier_report(tmp_path: Path, monkeypatch) -> None:
    import codesign.report as rep
    from codesign.report.blocks import Para, Section

    monkeypatch.setattr(rep, "sections", lambda summary, run_dir: [
        Section("a", "A", [Para(f"flow {summary['flow']}")])])
    (tmp_path / "run.json").write_text(json.dumps({"flow": "f"}))
    rep.rebuild_report(tmp_path)
    before = _tree(tmp_path)
    assert {"report.html", "report.md"} <= set(before)

    def crash(*args, **kwargs):
        raise RuntimeError("a plot failed")

    monkeypatch.setattr(rep, "to_markdown", crash)
    (tmp_path / "run.json").write_text(json.dumps({"flow": "g"}))
    with pytest.raises(RuntimeError):
        rep.rebuild_report(tmp_path)
    assert _tree(tmp_path) == before | {"run.json": json.dumps({"flow": "g"})}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md",
                                                          "report_files", "run.json"]


def test_output_dir_in_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    """`--out .` cannot be moved aside: a failure removes only what was new."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.txt").write_text("the user's")
    with pytest.raises(RuntimeError), output_dir(Path(".")) as out:
        (out / "design.yaml").write_text("half")
        (out / "sub").mkdir()
        raise RuntimeError
    assert _tree(tmp_path) == {"mine.txt": "the user's"} and Path.cwd() == tmp_path
    with output_dir(Path(".")) as out:
        (out / "design.yaml").write_text("whole")
    assert _tree(tmp_path) == {"mine.txt": "the user's", "design.yaml": "whole"}


def test_output_dir_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "old.txt").write_text("old")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(RuntimeError), output_dir(tmp_path / "link") as out:
        (out / "old.txt").write_text("half")
        raise RuntimeError
    assert (tmp_path / "link").is_symlink() and _tree(tmp_path / "real") == {"old.txt": "old"}
    with output_dir(tmp_path / "link") as out:
        (out / "new.txt").write_text("new")
    assert (tmp_path / "link").is_symlink()
    assert _tree(tmp_path / "real") == {"old.txt": "old", "new.txt": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]
