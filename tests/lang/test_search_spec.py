"""The `search:` section: invalid spaces are located errors from `kspec validate`, which never imports Optuna."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import kspec
from kspec.errors import SpecErrors

ROOT = Path(__file__).resolve().parents[2]

BASE = """\
kspec: 1
name: searched
vars: {dropout: 0.1, hidden: 16}
model:
  inputs: {x: {shape: [64]}}
  layers:
    - {type: Dense, units: "${hidden}", activation: relu}
    - {type: Dropout, rate: "${dropout}"}
    - {type: Dense, units: 10, activation: softmax}
data: {source: digits, preprocess: [{type: one_hot, classes: 10}]}
train:
  optimizer: {type: Adam, learning_rate: 0.001}
  loss: categorical_crossentropy
  metrics: [accuracy]
  validation_split: 0.2
search:
  metric: val_accuracy
"""


def _errors(write_spec: Callable[..., Path], search: str) -> list[tuple[int, str, str]]:
    path = write_spec(BASE + search)
    with pytest.raises(SpecErrors) as info:
        kspec.validate(path)
    return [(e.line or 0, e.code, e.message) for e in info.value.errors]


def test_a_valid_search_section_validates(write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        BASE
        + """\
  trials: 5
  timeout: 10m
  sampler: random
  pruner: {type: median, startup_trials: 1, warmup_epochs: 1}
  space:
    vars.dropout: {float: [0.0, 0.5]}
    train.optimizer.learning_rate: {float: [1.0e-4, 1.0e-2], log: true}
    model.layers[0].units: {int: [8, 64], step: 8}
    train.optimizer.type: {choice: [Adam, SGD]}
    train.optimizer.momentum: {float: [0.0, 0.9], when: {train.optimizer.type: SGD}}
"""
    )
    assert [e for e in kspec.validate(path) if e.severity == "error"] == []
    search = kspec.load(path).spec.search
    assert search is not None and search.goal == "maximize" and search.timeout_seconds == 600


def test_unknown_paths_are_located_with_a_suggestion(write_spec: Callable[..., Path]) -> None:
    found = _errors(
        write_spec,
        """\
  space:
    vars.dropuot: {float: [0.0, 0.5]}
    train.optimiser.learning_rate: {float: [0.001, 0.1]}
    model.layers[7].units: {choice: [8, 16]}
    train.epoch: {int: [1, 3]}
""",
    )
    assert [(line, code) for line, code, _ in found] == [(19, "unknown-path"), (20, "unknown-path")] + [
        (21, "unknown-path"),
        (22, "unknown-path"),
    ]
    assert "vars.dropuot" in found[0][2] and "model.layers[7]" in found[2][2]


def test_unknown_path_hints(write_spec: Callable[..., Path]) -> None:
    path = write_spec(BASE + "  space:\n    train.optimiser.learning_rate: {float: [0.001, 0.1]}\n")
    with pytest.raises(SpecErrors) as info:
        kspec.validate(path)
    (err,) = info.value.errors
    assert err.hint == "did you mean 'optimizer'?" and err.path == ("search", "space", "train.optimiser.learning_rate")


def test_empty_ranges_are_located(write_spec: Callable[..., Path]) -> None:
    found = _errors(
        write_spec,
        """\
  space:
    vars.dropout: {float: [0.5, 0.5]}
    train.batch_size: {int: [64, 8]}
    train.optimizer.learning_rate: {float: [0.0, 0.1], log: true}
    model.layers[0].units: {choice: []}
""",
    )
    assert [(line, code) for line, code, _ in found] == [
        (19, "empty-range"),
        (20, "empty-range"),
        (21, "empty-range"),
        (22, "wrong-type"),
    ]


def test_values_the_field_refuses_are_located_at_the_value(write_spec: Callable[..., Path]) -> None:
    found = _errors(
        write_spec,
        """\
  space:
    vars.dropout: {float: [0.0, 1.5]}
    train.epochs: {float: [1, 3]}
    model.layers[0].units: {choice: [16, big]}
    train.optimizer.type: {choice: [Adam, Adamm]}
""",
    )
    lines = [(line, code) for line, code, _ in found]
    assert lines == [(19, "bad-search"), (20, "bad-search"), (20, "bad-search"), (21, "bad-search"), (22, "bad-search")]
    assert "vars.dropout = 1.5" in found[0][2] and "model.layers[1].rate" in found[0][2]
    assert "expected an integer" in found[1][2]
    assert "'big'" in found[3][2] and "'Adamm'" in found[4][2]


def test_conditions_and_metric_are_checked(write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        (BASE + "  space:\n").replace("metric: val_accuracy", "metric: val_acuracy")
        + "    train.optimizer.type: {choice: [Adam, SGD]}\n"
        + "    train.optimizer.momentum: {float: [0.0, 0.9], when: {train.optimizer.type: RMSprop}}\n"
        + "    vars.dropout: {float: [0.0, 0.5], when: {vars.hidden: 16}}\n"
    )
    with pytest.raises(SpecErrors) as info:
        kspec.validate(path)
    found = {(e.code, e.path[-1]) for e in info.value.errors}
    assert found == {("bad-search", "train.optimizer.type"), ("unknown-path", "vars.hidden"), ("bad-search", "metric")}
    metric = next(e for e in info.value.errors if e.path[-1] == "metric")
    assert metric.hint == "did you mean 'val_accuracy'?"


def test_pruner_arguments_belong_to_the_pruner(write_spec: Callable[..., Path]) -> None:
    found = _errors(write_spec, "  pruner: {type: median, lower: 0.5}\n  space: {vars.dropout: {float: [0.0, 0.5]}}\n")
    assert found == [(18, "wrong-type", "pruner `median` takes no `lower`")]


def test_validate_checks_search_without_importing_optuna(write_spec: Callable[..., Path]) -> None:
    path = write_spec(BASE + "  space:\n    vars.dropout: {float: [0.0, 1.5]}\n")
    code = (
        "import sys; sys.modules['optuna'] = None\n"  # as if Optuna were not installed
        "from kspec.cli import main\n"
        "rc = main(['validate', sys.argv[1]])\n"
        "assert 'optuna' not in [m.split('.')[0] for m in sys.modules if sys.modules[m] is not None], 'imported'\n"
        "rc2 = main(['tune', sys.argv[1]])\n"
        "sys.exit(rc * 10 + rc2)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 11, proc.stderr
    assert "vars.dropout = 1.5" in proc.stdout
    assert 'pip install "kspec[tune]"' in proc.stderr
