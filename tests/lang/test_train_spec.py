"""The `train:` section's model: defaults, Keras-style objects, recipe rules."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from kspec.errors import SpecError
from kspec.lang.train_spec import ARGUMENT_RANGES, CALLBACK_PATHS, TrainSpec, check_train


def test_book_ch2_settings() -> None:
    spec = TrainSpec.model_validate(
        {
            "optimizer": "adam",
            "loss": "categorical_crossentropy",
            "metrics": ["accuracy"],
            "epochs": 5,
            "batch_size": 100,
            "validation_split": 0.2,
        }
    )
    assert spec.recipe == "fit" and spec.jit_compile == "auto" and spec.steps_per_execution == "auto"
    assert spec.seed == 0 and spec.distribute == "none"


def test_objects_as_type_mappings() -> None:
    spec = TrainSpec.model_validate(
        {
            "optimizer": {"type": "SGD", "learning_rate": 0.0005, "momentum": 0.9, "nesterov": True},
            "loss": "mse",
            "callbacks": [{"type": "EarlyStopping", "patience": 3}],
            "schedule": {
                "type": "ExponentialDecay",
                "initial_learning_rate": 0.01,
                "decay_steps": 10,
                "decay_rate": 0.9,
            },
            "class_weight": {0: 1.0, 1: 2.0},
            "clipnorm": 1.0,
        }
    )
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


@pytest.mark.parametrize(
    ("data", "kind", "at"),
    [
        ({"recipe": "fit"}, "missing_field", ()),
        ({"loss": "mse", "gan": {"d_steps": 2}}, "wrong_type", ("gan",)),
        ({"loss": "mse", "validation_split": 0.2, "validation_data": "test"}, "wrong_type", ("validation_data",)),
    ],
)
def test_recipe_rules_name_their_code_and_field(data: dict[str, Any], kind: str, at: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        TrainSpec.model_validate(data)
    [err] = info.value.errors()
    assert err["type"] == kind and tuple(err.get("ctx", {}).get("at", ())) == at and err["ctx"]["hint"]


@pytest.mark.parametrize(
    "data",
    [{"clipnorm": math.inf}, {"clipvalue": math.nan}, {"loss_weights": [math.nan]}, {"class_weight": {0: -math.inf}}],
)
def test_non_finite_numbers_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        TrainSpec.model_validate({"loss": "mse", **data})
    assert [e["type"] for e in info.value.errors()] == ["finite_number"]


# ------------------------------------------------------------------------------------------------- check_train

ONE = {"net": 1}


def _check(outputs: dict[str, int] | None = None, **train: Any) -> list[SpecError]:
    spec = TrainSpec.model_validate({"loss": "mse", **train})
    return list(check_train(spec, ONE if outputs is None else outputs))


def _found(errors: list[SpecError]) -> list[tuple[Any, str]]:
    return [(e.path, e.code) for e in errors]


def test_no_train_section_nothing_to_check() -> None:
    assert list(check_train(None, ONE)) == []


def test_book_settings_pass() -> None:
    assert (
        _check(
            optimizer={"type": "SGD", "learning_rate": 0.01, "momentum": 0.9, "nesterov": True},
            schedule={"type": "ExponentialDecay", "initial_learning_rate": 0.01, "decay_steps": 100, "decay_rate": 0.9},
            callbacks=[
                "EarlyStopping",
                {"type": "ModelCheckpoint", "filepath": "ckpt/model-{epoch:02d}.keras"},
                {"type": "CSVLogger", "filename": "log.csv"},
                {"type": "TensorBoard", "log_dir": "./logs"},
            ],
            loss_weights=[1.0],
        )
        == []
    )


@pytest.mark.parametrize(
    ("where", "value", "arg"),
    [
        ("optimizer", {"type": "Adam", "learning_rate": -0.001}, "learning_rate"),
        ("optimizer", {"type": "Adam", "learning_rate": 0}, "learning_rate"),
        ("optimizer", {"type": "SGD", "momentum": -0.9}, "momentum"),
        ("optimizer", {"type": "SGD", "momentum": 1.5}, "momentum"),
        ("optimizer", {"type": "RMSprop", "rho": 1.0}, "rho"),
        ("optimizer", {"type": "Adam", "beta_1": -0.1}, "beta_1"),
        ("optimizer", {"type": "Adam", "beta_2": 1}, "beta_2"),
        ("optimizer", {"type": "Adam", "epsilon": 0.0}, "epsilon"),
        ("optimizer", {"type": "Adam", "learning_rate": math.inf}, "learning_rate"),
        (
            "schedule",
            {"type": "ExponentialDecay", "initial_learning_rate": -0.1, "decay_steps": 1},
            "initial_learning_rate",
        ),
        ("schedule", {"type": "ExponentialDecay", "initial_learning_rate": 0.1, "decay_steps": 0}, "decay_steps"),
        (
            "schedule",
            {"type": "ExponentialDecay", "initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": -1},
            "decay_rate",
        ),
    ],
)
def test_argument_out_of_range(where: str, value: dict[str, Any], arg: str) -> None:
    [err] = _check(**{where: value})
    assert (err.path, err.code) == (("train", where, arg), "bad-value") and f"`{arg}`" in err.message


def test_ranges_reach_nested_schedules_and_gan_optimizers() -> None:
    nested = {"type": "SGD", "learning_rate": {"type": "CosineDecay", "initial_learning_rate": -1.0, "decay_steps": 9}}
    assert _found(_check(optimizer=nested)) == [
        (("train", "optimizer", "learning_rate", "initial_learning_rate"), "bad-value")
    ]
    errors = _check(
        {"generator": 1, "discriminator": 1},
        recipe="gan",
        gan={"d_optimizer": {"type": "Adam", "beta_1": 2.0}, "g_optimizer": "adam"},
    )
    assert _found(errors) == [(("train", "gan", "d_optimizer", "beta_1"), "bad-value")]


def test_ranges_ignore_what_is_not_a_number() -> None:
    assert _check(optimizer={"type": "SGD", "learning_rate": "${lr}", "nesterov": True, "momentum": True}) == []
    assert (
        _check(
            schedule={
                "type": "CosineDecay",
                "initial_learning_rate": 0.0,
                "decay_steps": 9,
                "warmup_target": 0.1,
                "warmup_steps": 5,
            }
        )
        == []
    )


def test_range_table_is_well_formed() -> None:
    for name, allowed in ARGUMENT_RANGES.items():
        assert allowed.describe(), name
        assert allowed.low is None or allowed.high is None or allowed.low < allowed.high


@pytest.mark.parametrize(
    ("outputs", "train", "found"),
    [
        ({"net": 1}, {"loss_weights": [1.0, 0.5]}, [(("train", "loss_weights"), "train-error")]),
        ({"net": 2}, {"loss_weights": [1.0, 0.5]}, []),
        ({"a": 2, "b": 1}, {"loss_weights": [1.0, 0.5]}, [(("train", "loss_weights"), "train-error")]),  # trains b
        ({"a": 2, "b": 1}, {"loss_weights": [1.0, 0.5], "model": "a"}, []),
        ({"a": 2}, {"loss_weights": [1.0], "model": "b"}, [(("train", "model"), "unknown-model")]),
    ],
)
def test_loss_weights_one_per_output(outputs: dict[str, int], train: dict[str, Any], found: list[Any]) -> None:
    assert _found(_check(outputs, **train)) == found


@pytest.mark.parametrize(
    "value",
    [
        "../../../home/user/.bashrc",
        "logs/../../x",
        "/etc/cron.d/job",
        "https://example.com/x",
        "gs://bucket/ckpt",
        "~/.bashrc",
        "C:\\Windows\\x",
        "",
        3,
    ],
)
@pytest.mark.parametrize("kind", sorted(k for k, v in CALLBACK_PATHS.items() if v))
def test_callback_files_stay_in_the_run_folder(kind: str, value: Any) -> None:
    key = CALLBACK_PATHS[kind]
    errors = _check(callbacks=["EarlyStopping", {"type": kind, key: value}])
    assert _found(errors) == [(("train", "callbacks", 1, key), "train-error")]
    assert "run folder" in errors[0].message


def test_gan_recipe_needs_its_models() -> None:
    errors = _check({"net": 1}, recipe="gan")
    assert _found(errors) == [(("train", "recipe"), "unknown-model")]
    assert "'generator' or 'discriminator'" in errors[0].message
    assert _check({"generator": 1, "discriminator": 1}, recipe="gan") == []
    errors = _check({"g": 1, "discriminator": 1}, recipe="gan", gan={"generator": "gen", "d_steps": 2})
    assert _found(errors) == [(("train", "gan", "generator"), "unknown-model")] and errors[0].hint is None
    errors = _check({"g": 1, "d": 1}, recipe="gan", gan={"generator": "g", "combined": "gd"})
    assert _found(errors) == [(("train", "gan", "combined"), "unknown-model"), (("train", "gan"), "unknown-model")]
    errors = _check({"g": 1}, recipe="gan", gan={"generator": "g", "discriminator": "g"})
    assert _found(errors) == [(("train", "gan", "discriminator"), "train-error")]


def test_unknown_train_model_suggests() -> None:
    [err] = _check({"classifier": 1}, model="clasifier")
    assert (err.path, err.code, err.hint) == (("train", "model"), "unknown-model", "did you mean 'classifier'?")


def test_distribute_timeout_is_a_positive_number_of_seconds() -> None:
    spec = TrainSpec.model_validate({"loss": "mse", "distribute": "multi_worker", "distribute_timeout": 30})
    assert spec.distribute_timeout == 30
    for bad in (0, -1, 10**6, "soon"):
        with pytest.raises(ValidationError):
            TrainSpec.model_validate({"loss": "mse", "distribute": "multi_worker", "distribute_timeout": bad})
