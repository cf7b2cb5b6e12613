"""The `train:` section's model: defaults, Keras-style objects, recipe rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kspec.spec_train import TrainSpec


def test_book_ch2_settings() -> None:
    spec = TrainSpec.model_validate({"optimizer": "adam", "loss": "categorical_crossentropy",
                                     "metrics": ["accuracy"], "epochs": 5, "batch_size": 100,
                                     "validation_split": 0.2})
    assert spec.recipe == "fit" and spec.jit_compile == "auto" and spec.steps_per_execution == "auto"
    assert spec.seed == 0 and spec.distribute == "none"


def test_objects_as_type_mappings() -> None:
    spec = TrainSpec.model_validate({
        "optimizer": {"type": "SGD", "learning_rate": 0.0005, "momentum": 0.9, "nesterov": True},
        "loss": "mse", "callbacks": [{"type": "EarlyStopping", "patience": 3}],
        "schedule": {"type": "ExponentialDecay", "initial_learning_rate": 0.01, "decay_steps": 10, "decay_rate": 0.9},
        "class_weight": {0: 1.0, 1: 2.0}, "clipnorm": 1.0})
    assert isinstance(spec.optimizer, dict) and spec.optimizer["type"] == "SGD"
    assert spec.class_weight == {0: 1.0, 1: 2.0}


def test_gan_defaults() -> None:
    spec = TrainSpec.model_validate({"recipe": "gan", "gan": {"g_steps": 5}})
    assert spec.gan_settings.g_steps == 5 and spec.gan_settings.d_steps == 1
    assert TrainSpec.model_validate({"recipe": "gan"}).gan_settings.generator == "generator"


@pytest.mark.parametrize(
    "data",
    [
        {"recipe": "fit"},  # no loss
        {"loss": "mse", "gan": {}},  # gan settings without the gan recipe
        {"loss": "mse", "validation_split": 0.2, "validation_data": "test"},
        {"loss": "mse", "recipe": "dqn"},
        {"loss": "mse", "epochs": 0},
        {"loss": "mse", "jit_compile": "yes"},
        {"loss": "mse", "plots": ["histry"]},
        {"loss": "mse", "epoch": 3},
    ],
)
def test_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TrainSpec.model_validate(data)
