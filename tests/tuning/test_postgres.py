"""Two `kspec tune` processes, as on two machines, share one study in a real PostgreSQL server (`--storage URL`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

pytestmark = pytest.mark.keras

ROOT = Path(__file__).resolve().parents[2]


def test_two_processes_share_a_study_in_postgresql(
    postgres: str, tmp_path: Path, make_tiny: Callable[..., Path]
) -> None:
    spec = make_tiny(tmp_path, trials=6, epochs=1)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    machines = [tmp_path / "machine_a", tmp_path / "machine_b"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "kspec", "tune", str(spec), "--storage", postgres, "--out", str(m), "--no-plots"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for m in machines
    ]
    outs = [p.communicate(timeout=400)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs

    study = optuna.load_study(study_name="tiny_tune", storage=postgres)
    trials = study.get_trials()
    assert sorted(t.number for t in trials) == list(range(6))  # exactly search.trials, none twice
    assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
    workers = {t.user_attrs["kspec_worker"] for t in trials}
    assert len(workers) == 2, workers  # both processes ran trials of the one study
    for machine in machines:  # each keeps its own trials' run folders, and lists the whole study
        listed = json.loads((machine / "trials.json").read_text())
        assert len(listed) == 6
        mine = [t for t in listed if t["run"] is not None]
        assert 0 < len(mine) < 6
        assert all((machine / t["run"] / "spec.yaml").is_file() for t in mine)
    assert not (machines[0] / "study.db").exists()  # no embedded storage when a URL is given
