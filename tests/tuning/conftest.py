"""Small specs for the `kspec tune` tests: a DNN on scikit-learn's digits (offline, a second per epoch)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

TINY = """\
kspec: 1
name: tiny_tune
vars: {{lr: 0.01, hidden: 8}}
model:
  inputs: {{x: {{shape: [64]}}}}
  layers:
    - {{type: Dense, units: "${{hidden}}", activation: relu}}
    - {{type: Dense, units: 10, activation: softmax}}
data:
  source: {{type: digits, test_split: 0.2, seed: 0}}
  preprocess: [{{type: scale, divide: 16}}, {{type: one_hot, classes: 10}}]
train:
  optimizer: {{type: Adam, learning_rate: "${{lr}}"}}
  loss: categorical_crossentropy
  metrics: [accuracy]
  epochs: {epochs}
  batch_size: 64
  validation_split: 0.2
  plots: none
  jit_compile: false
search:
  metric: val_accuracy
  trials: {trials}
  sampler: {{type: random, seed: 0}}
  pruner: {{type: threshold, lower: 0.3}}      # a trial below 30 % validation accuracy after an epoch stops there
  space:
    vars.lr: {{choice: [0.03, 1.0e-7]}}       # 1e-7 learns nothing in an epoch: those trials are pruned
    vars.hidden: {{int: [4, 16]}}
"""


def tiny_spec(folder: Path, *, trials: int = 4, epochs: int = 2) -> Path:
    path = folder / "tiny_tune.yaml"
    path.write_text(TINY.format(trials=trials, epochs=epochs), encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return tiny_spec(tmp_path)


@pytest.fixture
def make_tiny() -> Callable[..., Path]:
    return tiny_spec
