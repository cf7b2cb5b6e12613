"""TensorFlow's start-up lines: each native library prints them while it loads; kspec shows each line once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.keras

pytest.importorskip("tensorflow")

ROOT = Path(__file__).resolve().parents[2]


def test_build_prints_tensorflows_start_up_lines_once() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "kspec", "build", "specs/ch02_ann_digits.yaml", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert not [line for line in lines if "before absl::InitializeLog" in line]
    assert len([line for line in lines if "oneDNN custom operations" in line]) <= 1
    assert '"models"' in done.stdout


def test_the_program_ends_without_tearing_tensorflow_down(tmp_path: Path) -> None:
    """After a command that loaded TensorFlow, `kspec` flushes its output, runs the atexit handlers and ends the
    process at once: the interpreter's teardown (1 to 3 s of TensorFlow's modules and threads) is skipped."""
    script = f"""
import atexit, sys
from pathlib import Path
atexit.register(lambda: Path({str(tmp_path / "atexit")!r}).write_text("ran"))
class Teardown:
    def __del__(self):
        Path({str(tmp_path / "teardown")!r}).write_text("ran")
kept = Teardown()
sys.argv = ["kspec", "build", "specs/ch02_ann_digits.yaml", "--json", "-o", {str(tmp_path / "m.keras")!r}]
from kspec.cli import run
run()
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["models"]  # the whole output, flushed
    assert (tmp_path / "m.keras").stat().st_size > 0
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not (tmp_path / "teardown").exists()  # the interpreter's teardown did not run
    failed = subprocess.run(
        [sys.executable, "-m", "kspec", "build", "specs/ch02_ann_digits.yaml", "--set", "train.epochs=0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert failed.returncode == 1 and "train.epochs" in failed.stdout  # the exit status is main's
