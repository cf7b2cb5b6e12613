"""Per-output losses and loss weights by output name compile to Keras's lists in output order; the gan recipe
uses `train.loss`."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import kspec
from kspec import compiler
from kspec.training.objects import compile_args

pytestmark = pytest.mark.keras

SPEC = """
kspec: 1
name: two_heads
model:
  inputs: {x: {shape: [4]}}
  layers:
    - {type: Dense, name: value, units: 2, inputs: [x]}
    - {type: Dense, name: flag, units: 1, activation: sigmoid, inputs: [x]}
  outputs: [value, flag]
train:
  loss: {flag: binary_crossentropy, value: mse}
  loss_weights: {value: 2.0, flag: 0.5}
"""


def test_losses_by_output_name(write_spec: Callable[..., Path]) -> None:
    import keras

    resolved = kspec.load(write_spec(SPEC))
    compiled = compiler.build(resolved)
    assert resolved.spec.train is not None
    args = compile_args(resolved.spec.train, compiled.outputs[compiled.main])
    assert args["loss_weights"] == [2.0, 0.5]
    model = compiled.model
    model.compile(**args)
    rng = np.random.default_rng(0)
    x, y_value, y_flag = rng.random((8, 4)), rng.random((8, 2)), (rng.random((8, 1)) > 0.5).astype("float32")
    total = model.evaluate(x, [y_value, y_flag], verbose=0, return_dict=True)["loss"]
    p_value, p_flag = model.predict(x, verbose=0)
    mse = float(keras.losses.MeanSquaredError()(y_value, p_value))
    bce = float(keras.losses.BinaryCrossentropy()(y_flag, p_flag))
    assert total == pytest.approx(2.0 * mse + 0.5 * bce, rel=1e-4)


def test_lr_table_sets_the_rate_per_epoch(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    from kspec.training import trainer

    spec = write_spec("""
        kspec: 1
        name: table
        model:
          inputs: {x: {shape: [4]}}
          layers: [{type: Dense, units: 1}]
        data: {source: {type: synthetic, samples: 32}}
        train:
          optimizer: {type: SGD, learning_rate: 0.5}
          loss: mse
          epochs: 4
          batch_size: 8
          verbose: 0
          plots: none
          lr_table: {1: 0.1, 3: 0.01}
    """)
    result = trainer.train(kspec.load(spec), out=tmp_path / "run")
    assert result.history["learning_rate"] == pytest.approx([0.5, 0.1, 0.1, 0.01])


FORMULAS = """
losses:
  contrastive:
    params: {margin: 1.0}
    formula: (1 - y_true) * square(y_pred) + y_true * square(maximum(margin - y_pred, 0))
  my_mae: {formula: "mean(abs(y_true - y_pred), axis=-1)"}
"""


def test_formula_losses_by_output_name(write_spec: Callable[..., Path]) -> None:
    text = SPEC.replace("loss: {flag: binary_crossentropy, value: mse}",
                        "loss: {flag: {type: contrastive, margin: 0.5}, value: my_mae}") + FORMULAS  # fmt: skip
    resolved = kspec.load(write_spec(text))
    kspec.check(resolved)
    compiled = compiler.build(resolved)
    assert resolved.spec.train is not None
    model = compiled.model
    model.compile(**compile_args(resolved.spec.train, compiled.outputs[compiled.main], compiled.losses))
    rng = np.random.default_rng(0)
    x, y_value, y_flag = rng.random((8, 4)), rng.random((8, 2)), (rng.random((8, 1)) > 0.5).astype("float32")
    total = model.evaluate(x, [y_value, y_flag], verbose=0, return_dict=True)["loss"]
    p_value, p_flag = model.predict(x, verbose=0)
    mae = np.mean(np.abs(y_value - p_value))
    contrastive = np.mean((1 - y_flag) * p_flag**2 + y_flag * np.maximum(0.5 - p_flag, 0) ** 2)
    assert total == pytest.approx(2.0 * mae + 0.5 * contrastive, rel=1e-4)


def test_a_formula_loss_trains_saves_evaluates_and_resumes(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    """A loss of `losses:` (with a parameter override) trains; `kspec evaluate` loads the run's model with its loss
    and gets the run's test loss; `--resume` with more epochs continues the run."""
    import json
    import zipfile

    from kspec.training import trainer

    spec = write_spec(
        """
        kspec: 1
        name: formula_run
        model:
          inputs: {x: {shape: [4]}}
          layers: [{type: Dense, units: 1, activation: sigmoid}]
        data: {source: {type: synthetic, samples: 48}}
        train:
          loss: {type: contrastive, margin: 0.5}
          metrics: [{type: contrastive, margin: 0.5}, my_mae]
          epochs: 1
          batch_size: 8
          verbose: 0
          plots: none
    """
        + textwrap.indent(FORMULAS, "        ")
    )
    run = tmp_path / "run"
    resolved = kspec.load(spec)
    kspec.check(resolved)
    result = trainer.train(resolved, out=run)
    assert all(np.isfinite(v) for v in result.history["loss"])
    tested = json.loads((run / "metrics.json").read_text())
    again = trainer.evaluate(kspec.load(spec), run / "model.keras")
    assert again["loss"] == pytest.approx(tested["loss"], rel=1e-5)
    assert again["contrastive"] == pytest.approx(tested["contrastive"], rel=1e-5)  # the metric: the loss's mean
    assert tested["contrastive"] == pytest.approx(tested["loss"], rel=1e-5) and "my_mae" in tested
    saved = json.loads(zipfile.ZipFile(run / "model.keras").read("config.json"))["compile_config"]["loss"]
    assert saved["registered_name"] == "kspec>FormulaLoss" and saved["config"]["params"] == {"margin": 0.5}
    longer = trainer.train(kspec.load(spec, ["train.epochs=2"]), resume=run)
    assert len(longer.history["loss"]) == 2
