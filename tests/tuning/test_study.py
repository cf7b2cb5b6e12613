"""`kspec tune` without training: invalid combinations are failed trials (nothing trains, TensorFlow is never
imported), and the storage re-runs a trial whose worker died, once, with the same values."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from kspec.lang.search_spec import SearchSpec
from kspec.tuning import report, storage, trial, worker

ROOT = Path(__file__).resolve().parents[2]

CONV = """\
kspec: 1
name: tune_conv
vars: {k1: 3, k2: 3}
model:
  inputs: {x: {shape: [64]}}
  layers:
    - {type: Reshape, target_shape: [8, 8, 1]}
    - {type: Conv2D, filters: 2, kernel_size: "${k1}"}
    - {type: Conv2D, filters: 2, kernel_size: "${k2}"}
    - {type: Flatten}
    - {type: Dense, units: 10, activation: softmax}
data:
  source: {type: digits, test_split: 0.2, seed: 0}
  preprocess: [{type: scale, divide: 16}, {type: one_hot, classes: 10}]
train: {loss: categorical_crossentropy, metrics: [accuracy], epochs: 1, validation_split: 0.2}
search:
  metric: val_accuracy
  trials: 2
  space:                      # each 5 fits with the other kernel at 3; two 5x5 kernels leave nothing of an 8x8 image
    vars.k1: {choice: [5]}
    vars.k2: {choice: [5]}
"""


def test_an_invalid_combination_is_a_failed_trial_with_located_errors(tmp_path: Path) -> None:
    spec = tmp_path / "conv.yaml"
    spec.write_text(CONV, encoding="utf-8")
    study = tmp_path / "study"
    code = (
        "import sys\nfrom kspec.cli import main\n"
        "rc = main(['validate', sys.argv[1]]) * 10 + main(['tune', sys.argv[1], '--out', sys.argv[2]])\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'trained'\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(spec), str(study)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # validate: ok (0); tune: no trial completed (1)
    assert "no trial completed" in proc.stderr
    trials = json.loads((study / "trials.json").read_text())
    assert [t["status"] for t in trials] == ["invalid", "invalid"]
    for t in trials:
        assert t["values"] == {"vars.k1": 5, "vars.k2": 5} and t["run"] is None
        assert f"{spec}:9:34: error:" in t["errors"][0] and "[shape-mismatch]" in t["errors"][0]
    assert "invalid" in proc.stdout and "shape-mismatch" in proc.stdout  # the live table shows the error
    assert not (study / "trials").exists() and not (study / "best.yaml").exists()


def _search() -> SearchSpec:
    return SearchSpec.model_validate({"metric": "val_loss", "trials": 3, "space": {"vars.a": {"float": [0.0, 1.0]}}})


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_a_trial_whose_worker_died_is_marked_and_run_again_once(tmp_path: Path) -> None:
    url = storage.storage_url(tmp_path, None)
    study = worker.open_study(url, "s", _search(), "spec text")
    first = study.ask()
    value = first.suggest_float("vars.a", 0.0, 1.0)
    first.set_user_attr(storage.WORKER, f"{socket.gethostname()}:{_dead_pid()}")
    alive = study.ask()
    alive.suggest_float("vars.a", 0.0, 1.0)
    alive.set_user_attr(storage.WORKER, storage.worker_id())  # this process: running, not interrupted
    assert storage.taken(study) == 2

    other = worker.open_study(url, "s", _search(), "spec text")  # a second `kspec tune` on the same study
    assert storage.recover(other) == [first.number]
    assert storage.recover(other) == []  # found once: no second re-run
    trials = other.get_trials()
    assert trials[0].state == TrialState.FAIL and report.status(trials[0]) == "interrupted"
    assert not storage.counted(trials[0]) and storage.taken(other) == 1
    (queued,) = [t for t in trials if t.state == TrialState.WAITING]
    assert queued.user_attrs[storage.RETRY_OF] == first.number

    again = other.ask()  # the queued re-run comes first, with the interrupted trial's value
    assert again.number == queued.number and again.suggest_float("vars.a", 0.0, 1.0) == value


def test_a_study_refuses_another_spec(tmp_path: Path) -> None:
    url = storage.storage_url(tmp_path, None)
    worker.open_study(url, "s", _search(), "spec text")
    try:
        worker.open_study(url, "s", _search(), "another spec")
    except storage.StudyMismatchError as exc:
        assert "--restart" in str(exc)
    else:
        raise AssertionError("a study started with another spec was continued")
    restarted = worker.open_study(url, "s", _search(), "another spec", restart=True)
    assert restarted.user_attrs[worker.SPEC_HASH] == worker.spec_hash("another spec")
    assert optuna.get_all_study_names(url) == ["s"]


def test_conditional_paths_are_drawn_only_when_their_condition_holds() -> None:
    search = SearchSpec.model_validate(
        {
            "metric": "val_loss",
            "space": {
                "train.optimizer.type": {"choice": ["Adam", "SGD"]},
                "train.optimizer.momentum": {"float": [0.0, 0.9], "when": {"train.optimizer.type": "SGD"}},
                "train.batch_size": {"int": [16, 64], "step": 16},
                "train.optimizer.learning_rate": {"float": [1e-4, 1e-2], "log": True},
            },
        }
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(12):
        values = trial.suggest(study.ask(), search)
        kind = values["train.optimizer.type"]
        seen.add(kind)
        assert ("train.optimizer.momentum" in values) == (kind == "SGD")
        assert values["train.batch_size"] in (16, 32, 48, 64)
        assert 1e-4 <= values["train.optimizer.learning_rate"] <= 1e-2
    assert seen == {"Adam", "SGD"}


def test_pruner_settings_map_to_optunas_pruners() -> None:
    def make(pruner: object) -> optuna.pruners.BasePruner:
        spec = {"metric": "val_loss", "pruner": pruner, "space": {"vars.a": {"float": [0.0, 1.0]}}}
        return worker.pruner(SearchSpec.model_validate(spec))

    assert isinstance(make("none"), optuna.pruners.NopPruner)
    median = make({"type": "median", "startup_trials": 2, "warmup_epochs": 3})
    assert isinstance(median, optuna.pruners.MedianPruner)
    assert (median._n_startup_trials, median._n_warmup_steps) == (2, 3)
    threshold = make({"type": "threshold", "lower": 0.5})
    assert isinstance(threshold, optuna.pruners.ThresholdPruner) and threshold._lower == 0.5
    assert isinstance(make({"type": "hyperband", "min_epochs": 1}), optuna.pruners.HyperbandPruner)


def test_a_trial_killed_before_kspec_wrote_to_it_is_recovered_after_the_grace_period(tmp_path: Path) -> None:
    url = storage.storage_url(tmp_path, None)
    study = worker.open_study(url, "s", _search(), "spec text")
    orphan = study.ask()  # no owner recorded, no heartbeat: a worker killed right after asking
    assert storage.recover(study) == []  # too recent: it may be another worker about to write its name
    from sqlalchemy import create_engine, text

    with create_engine(url).begin() as db:  # the trial started long ago
        db.execute(
            text("UPDATE trials SET datetime_start = '2000-01-01 00:00:00' WHERE number = :n"), {"n": orphan.number}
        )
    assert storage.recover(study) == [orphan.number]
    assert storage.taken(study) == 0


def test_the_time_budget_stops_starting_trials(tmp_path: Path) -> None:
    from kspec import tuning

    spec = tmp_path / "conv.yaml"
    spec.write_text(CONV.replace("trials: 2", "trials: 100000\n  timeout: 2s"), encoding="utf-8")
    start = time.monotonic()
    result = tuning.tune(spec, folder=tmp_path / "study", plots=False, out=io.StringIO())
    assert time.monotonic() - start < 60
    assert 1 <= result.ran < 100000 and result.counted == result.ran and result.best is None
