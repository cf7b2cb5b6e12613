"""The command line's daily edges: default outputs, formats when things go wrong, closed pipes, help texts."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kspec.cli import commands, main, parser

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
kspec: 1
name: tiny
model:
  inputs: {x: {shape: [4]}}
  layers:
    - {type: Dense, name: hidden, units: 8, activation: relu}
    - {type: Dense, name: out, units: 2, activation: softmax}
"""

BAD = GOOD.replace("units: 8", "untis: 8")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_argument_has_help() -> None:
    missing = [
        f"{name} {a.option_strings or a.dest}"
        for name, sub in _subcommands().items()
        for a in sub._actions
        if not a.help
    ]
    assert missing == []


def test_a_command_is_parsed_alone_as_in_the_whole_parser(capsys: pytest.CaptureFixture[str]) -> None:
    """`main` sets up only the command it runs: its help, defaults and usage errors are those of the whole parser."""
    whole = _subcommands()
    for command in commands():
        alone = parser(command)
        (action,) = [a for a in alone._actions if isinstance(a, argparse._SubParsersAction)]
        assert list(action.choices) == [command.name]
        assert action.choices[command.name].format_help() == whole[command.name].format_help()
        for argv in ([command.name, "--no-such-option"], [command.name, "--help"]):
            outputs = []
            for p in (alone, parser()):
                with pytest.raises(SystemExit) as info:
                    p.parse_args(argv)
                outputs.append((info.value.code, *capsys.readouterr()))
            assert outputs[0] == outputs[1]
    assert [c.name for c in commands() if c.whole_parser] == ["completion"]  # it reads every command's options


def test_the_synthetic_budget_is_an_option_only_where_data_is_loaded_or_checked_for_it() -> None:
    having = {name for name, sub in _subcommands().items() if "--max-synthetic-values" in sub._option_string_actions}
    assert having == {"validate", "train", "evaluate"}


def test_draw_without_output_writes_an_svg_here_not_dot_on_the_terminal(
    write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(GOOD, "tiny_net.yaml")
    here = tmp_path / "elsewhere"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main(["draw", str(spec)]) == 0
    assert capsys.readouterr().out == "wrote tiny_net.svg\n"
    assert (here / "tiny_net.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    assert main(["draw", str(spec), "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("digraph")


def test_a_closed_pipe_ends_quietly(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(GOOD)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before kspec writes its first byte (`kspec draw ... | head -0`)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "kspec", "draw", str(spec), "-o", "-"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 141


def test_github_format_summarises_on_stderr_when_all_is_valid(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(GOOD)
    assert main(["validate", "--format", "github", str(spec), str(spec)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == "kspec: 2 spec file(s) valid\n"
    bad = write_spec(BAD, "bad.yaml")
    assert main(["validate", "--format", "github", str(spec), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"::error file={bad},line=") and err == "kspec: 1 of 2 spec file(s) invalid\n"


def test_a_missing_file_is_reported_in_the_format_asked_for(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(GOOD)
    assert main(["validate", "--format", "json", str(spec), "nope.yaml"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"] == {"files": 2, "invalid": 1}
    (missing,) = [f for f in doc["files"] if not f["valid"]]
    assert missing["file"] == "nope.yaml" and missing["diagnostics"][0]["code"] == "file-not-found"
    assert main(["validate", "--format", "github", str(spec), "no,pe.yaml"]) == 2
    out, err = capsys.readouterr()
    head = "::error title=kspec [file-not-found]::no such file or folder: no,pe.yaml"
    assert out == f"{head} (hint: paths are relative to the current folder)\n"
    assert err == "kspec: 1 of 2 spec file(s) invalid\n"
    assert main(["validate", str(spec), "nope.yaml"]) == 2
    out, err = capsys.readouterr()
    assert f"{spec}: ok" in out and "no such file or folder: nope.yaml" in err


def test_build_json_reports_an_invalid_spec_as_json(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_spec(BAD)
    assert main(["build", str(bad), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["files"][0]["file"] == str(bad) and doc["files"][0]["valid"] is False
    assert doc["files"][0]["diagnostics"][0]["code"] == "unknown-argument"
    assert main(["build", str(bad.parent / "missing.yaml"), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["files"][0]["diagnostics"][0]["code"] == "file-not-found"


def test_schema_outside_a_checkout_creates_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["schema"]) == 2
    assert "pass -o FILE" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main(["schema", "--print"]) == 0
    assert json.loads(capsys.readouterr().out)["title"]
    assert main(["schema", "-o", "out/k.json"]) == 0
    assert json.loads((tmp_path / "out" / "k.json").read_text())["title"]
