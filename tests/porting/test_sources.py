"""Sources `kspec import` refuses before importing TensorFlow, and the `init:` path checks of `validate`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kspec.cli import main

SPEC = """
kspec: 1
name: tiny
init: {weights: WEIGHTS}
model:
  inputs: {x: {shape: [4]}}
  layers:
    - {type: Dense, units: 2}
"""


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("keras.applications.ResNet5", "did you mean 'ResNet50'"),
        ("missing.keras", "no such file"),
        ("model.h5", "neither a .keras file nor keras.applications.NAME"),
    ],
)
def test_bad_sources_are_usage_errors(
    source: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", source, "-o", str(tmp_path / "x.yaml")]) == 2
    assert message in capsys.readouterr().err


def test_not_a_zip_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    assert main(["import", str(bad), "-o", str(tmp_path / "x.yaml")]) == 2
    assert "not a readable .keras archive" in capsys.readouterr().err


def test_refusals_do_not_import_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys; from kspec.cli import main; "
        f"main(['import', 'keras.applications.Nope', '-o', {str(tmp_path / 'x.yaml')!r}]); "
        "print('keras' in sys.modules or 'tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ("../outside.weights.h5", "leaves the spec's folder"),
        ("/etc/passwd.weights.h5", "is absolute"),
        ("weights.txt", "is not a Keras weights file"),
        ("missing.weights.h5", "no file"),
        ("folder.weights.h5", "is a folder, not a file"),
    ],
)
def test_init_weights_path_is_checked_by_validate(
    weights: str, message: str, write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_spec(SPEC.replace("WEIGHTS", weights))
    (path.parent / "folder.weights.h5").mkdir(exist_ok=True)
    (path.parent.parent / "outside.weights.h5").write_bytes(b"")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "[weights-error]" in out and message in out and "at init.weights" in out
