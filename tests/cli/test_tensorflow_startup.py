"""TensorFlow's start-up lines: each native library prints them while it loads; kspec shows each line once."""

from __future__ import annotations

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
