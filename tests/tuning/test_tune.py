"""`kspec tune` for real (Optuna, Keras, SQLite): pruning, best.yaml, a SIGKILL mid-trial, two worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kspec.cli import main

pytestmark = pytest.mark.keras

ROOT = Path(__file__).resolve().parents[2]


def _trials(study: Path) -> list[dict[str, Any]]:
    return list(json.loads((study / "trials.json").read_text()))


def _tune(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "kspec", "tune", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_small_tune_prunes_bad_trials_and_best_yaml_trains(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = tiny.parent / "study"
    tiny.write_text(tiny.read_text().replace("trials: 4", "trials: 3"))
    assert main(["tune", str(tiny), "--out", str(study)]) == 0
    table = capsys.readouterr().out
    trials = _trials(study)
    assert [t["number"] for t in trials] == [0, 1, 2]
    for t in trials:  # the sampler is seeded; whatever it drew, a trial that cannot learn stops after one epoch
        lr = t["values"]["vars.lr"]
        assert (t["status"], t["epochs"]) == (("pruned", 1) if lr < 1e-3 else ("complete", 2)), t
        assert (study / t["run"] / "history.json").is_file()  # every trial is a run folder
    assert {t["status"] for t in trials} == {"pruned", "complete"}
    complete = [t for t in trials if t["status"] == "complete"]
    assert all(t["value"] > 0.3 for t in complete)
    assert (study / trials[0]["run"] / "spec.yaml").read_text().count("learning_rate") == 1
    assert "pruned" in table and "complete" in table
    assert {p.name for p in (study / "plots").iterdir()} == {
        "history.png",
        "importances.png",
        "parallel_coordinates.png",
    }
    csv = (study / "trials.csv").read_text().splitlines()
    assert csv[0].startswith("number,status,val_accuracy,vars.lr,vars.hidden") and len(csv) == 4

    best = study / "best.yaml"
    text = best.read_text()
    top = max(complete, key=lambda t: t["value"])
    assert f"trial {top['number']}" in text and "search:" not in text
    assert f"hidden: {top['values']['vars.hidden']}" in text
    run = tiny.parent / "best_run"
    assert main(["train", str(best), "--out", str(run), "--set", "train.epochs=1"]) == 0
    assert json.loads((run / "metrics.json").read_text())["accuracy"] > 0.3


def test_a_killed_tune_continues_without_losing_or_repeating_a_trial(
    tmp_path: Path, make_tiny: Callable[..., Path]
) -> None:
    spec = make_tiny(tmp_path, trials=3, epochs=6)
    study = tmp_path / "study"
    proc = _tune(str(spec), "--out", str(study), "--no-plots")
    deadline = time.monotonic() + 240
    running = None
    while time.monotonic() < deadline and proc.poll() is None:
        # kill a trial that trains for six epochs (lr 0.03) once two epochs of it are saved, before it ends; a trial
        # past its second epoch was not pruned after the first (a 1e-7 trial with one epoch saved may be pruned
        # before the kill lands, and would not be interrupted)
        for trial in sorted(study.glob("trials/*/history.json")):
            epochs = len(json.loads(trial.read_text() or "{}").get("loss", []))
            if 2 <= epochs < 6 and not (trial.parent / "manifest.json").exists():
                running = int(trial.parent.name)
        if running is not None and running >= 1:
            break
        time.sleep(0.1)
    assert running is not None and proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    again = _tune(str(spec), "--out", str(study), "--no-plots")
    out = again.communicate(timeout=300)[0]
    assert again.returncode == 0, out
    trials = _trials(study)
    by_number = {t["number"]: t for t in trials}
    killed = by_number[running]
    assert killed["status"] == "interrupted" and killed["state"] == "fail"
    (rerun,) = [t for t in trials if t["retry_of"] == running]
    assert rerun["values"] == killed["values"] and rerun["status"] == "complete" and rerun["epochs"] == 6
    assert "re-run of" in out
    finished = [t for t in trials if t["status"] in ("complete", "pruned", "invalid", "failed")]
    assert len(finished) == 3  # exactly search.trials counted: none lost, none twice
    assert [t["number"] for t in trials] == list(range(len(trials))) and len(trials) == 4
    assert all(t["status"] != "running" for t in trials)


def test_two_worker_processes_share_a_sqlite_study(tmp_path: Path, make_tiny: Callable[..., Path]) -> None:
    spec = make_tiny(tmp_path, trials=6, epochs=1)
    study = tmp_path / "study"
    proc = _tune(str(spec), "--out", str(study), "--workers", "2", "--no-plots")
    out = proc.communicate(timeout=400)[0]
    assert proc.returncode == 0, out
    trials = _trials(study)
    assert len(trials) == 6 and {t["status"] for t in trials} <= {"complete", "pruned"}
    assert len({t["worker"] for t in trials}) == 2, trials  # both workers ran trials
    assert sorted(t["number"] for t in trials) == list(range(6))
    assert out.count("\n") >= 6 + 2  # the live table shows every trial, from both workers
