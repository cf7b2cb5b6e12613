"""The command line: exit codes, output formats, overrides (no Keras needed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kspec.cli import main

GOOD = """
kspec: 1
name: tiny
model:
  inputs: {x: {shape: [4]}}
  layers:
    - {type: Dense, name: hidden, units: 8, activation: relu}
    - {type: Dense, name: out, units: 2, activation: softmax}
"""

BAD = """
kspec: 1
name: tiny
model:
  inputs: {x: {shape: [4]}}
  layers:
    - {type: Dense, name: hidden, untis: 8}
    - {type: Dense, name: out, units: 2, inputs: [hiden]}
"""


def test_validate_ok_exit_0(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(GOOD)
    assert main(["validate", str(path)]) == 0
    assert f"{path}: ok" in capsys.readouterr().out


def test_validate_reports_all_errors_exit_1(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_spec(BAD)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:6:34: error: Dense has no argument 'untis'" in out or "untis" in out
    assert "[unknown-argument]" in out and "[unknown-input]" in out
    assert "did you mean 'hidden'?" in out
    assert "Traceback" not in out


def test_validate_json_is_stable(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(BAD)
    main(["validate", "--format", "json", str(path)])
    first = capsys.readouterr().out
    main(["validate", "--format", "json", str(path)])
    assert capsys.readouterr().out == first
    doc = json.loads(first)
    assert doc["version"] == 1
    (entry,) = doc["files"]
    assert entry["valid"] is False and entry["error"] == 2
    keys = {"message", "path", "code", "hint", "file", "line", "column", "severity", "notes"}
    assert all(set(d) == keys for d in entry["diagnostics"])


def test_validate_github_annotations(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(BAD)
    assert main(["validate", "--format", "github", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith(("::error file=", "::warning file=")) for line in lines)
    assert sum(line.startswith("::error file=") for line in lines) == 2


def test_missing_file_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/spec.yaml"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_bad_flag_is_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate", "--nope", "x"])
    assert info.value.code == 2


def test_set_override_is_validated(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(GOOD)
    assert main(["validate", str(path), "--set", "model.layers[0].units=16"]) == 0
    assert main(["validate", str(path), "--set", "model.layers[0].units=abc"]) == 1
    assert main(["validate", str(path), "--set", "modle.x=1"]) == 1
    assert "bad-override" in capsys.readouterr().out


TRAINED = (
    GOOD
    + """
vars: {units: 8, unused: 1}
data: {source: iris}
train: {loss: sparse_categorical_crossentropy, epochs: 3}
"""
)


def test_set_errors_are_located_at_the_override(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_spec(TRAINED)
    assert main(["validate", str(path), "--set", "train.epochs=abc"]) == 1
    out = capsys.readouterr().out
    # not at the file's `epochs: 3` line, which the user never touched; the value is echoed
    assert out.startswith("<--set>: error: expected an integer [wrong-type]\n    at train.epochs\n")
    assert "note: from --set 'train.epochs=abc'" in out and f"{path}:" not in out.split("\n")[0]


def test_a_failing_set_does_not_hide_the_specs_own_errors(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_spec(TRAINED.replace("train:", "trian:"))
    assert main(["validate", str(path), "--set", "train.epochs=1", "--set", "vars.unit=4"]) == 1
    out = capsys.readouterr().out
    assert f"{path}:11:1: error: unknown field 'trian' [unknown-field]" in out
    assert "the spec has nothing at 'train'" in out and "hint: did you mean 'trian'?" in out
    assert "the spec has no variable 'unit' [bad-override]" in out and "did you mean 'units'?" in out


def test_unused_variable_is_a_warning(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(TRAINED.replace("units: 8, activation", 'units: "${units}", activation'))
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: variable 'unused' is defined but never used [unused-variable]" in out
    assert "variable 'units'" not in out


def test_validate_folder(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    good = write_spec(GOOD, "a.yaml")
    write_spec(BAD, "b.yaml")
    assert main(["validate", str(good.parent)]) == 1
    out = capsys.readouterr().out
    assert "a.yaml: ok" in out and "b.yaml: 2 error(s)" in out


def test_draw_options_and_errors(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_spec(GOOD)
    out = path.parent / "d.dot"
    assert main(["draw", str(path), "-o", str(out)]) == 0
    assert "→" in out.read_text() and "params" in out.read_text()
    assert main(["draw", str(path), "-o", str(out), "--no-shapes", "--no-params", "--no-legend"]) == 0
    text = out.read_text()
    assert "→" not in text and "params" not in text and "hidden" in text
    assert main(["draw", str(path), "--model", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_unexpected_failures_are_one_line(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import kspec

    def boom(*args: object, **kwargs: object) -> None:
        raise ValueError("Attempt to convert a value (PerReplica:{\n  0: <tf.Tensor ...>})")

    monkeypatch.setattr(kspec, "validate", boom)
    assert main(["validate", str(write_spec(GOOD))]) == 1
    err = capsys.readouterr().err
    assert "kspec: error: ValueError: Attempt to convert a value (PerReplica:{" in err
    assert "Traceback" not in err and "tf.Tensor" not in err
    monkeypatch.setenv("KSPEC_DEBUG", "1")
    with pytest.raises(ValueError):
        main(["validate", str(write_spec(GOOD))])
