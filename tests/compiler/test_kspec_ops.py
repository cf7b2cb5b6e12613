"""kspec's own ops: seeded noise shaped like a tensor, positions, and model-added losses, as real Keras layers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import kspec
from kspec import compiler

pytestmark = pytest.mark.keras

SPEC = """
kspec: 1
name: kspec_ops
model:
  inputs: {tokens: {shape: [5], dtype: int32}, x: {shape: [3]}}
  layers:
    - {op: positions, name: pos, inputs: [tokens]}
    - {op: random_normal, name: eps, inputs: [x], stddev: 2.0}
    - {op: random_uniform, name: u, inputs: [x], minval: -1.0, maxval: 1.0}
    - {op: square, name: sq, inputs: [x]}
    - {op: add_loss, name: with_loss, inputs: [eps, sq], weight: 0.5}
  outputs: [pos, with_loss, u]
train: {optimizer: adam, loss: mse, seed: 7}
"""


def _build(write_spec: Callable[..., Path], text: str = SPEC) -> object:
    return compiler.build(kspec.load(write_spec(text))).model


def test_positions_noise_and_added_loss(write_spec: Callable[..., Path]) -> None:
    model = _build(write_spec)
    tokens, x = np.zeros((4, 5), "int32"), np.ones((4, 3), "float32")
    pos, eps, u = model([tokens, x])  # type: ignore[operator]
    np.testing.assert_array_equal(np.asarray(pos), np.tile(np.arange(5), (4, 1)))
    assert np.asarray(pos).dtype == np.int32
    assert np.asarray(eps).shape == (4, 3) and np.asarray(u).shape == (4, 3)
    assert -1.0 <= float(np.min(u)) and float(np.max(u)) < 1.0
    (loss,) = model.losses  # type: ignore[attr-defined]
    assert float(loss) == pytest.approx(0.5 * 1.0)  # weight * mean(x ** 2) with x = 1


def test_noise_is_seeded_by_the_spec(write_spec: Callable[..., Path]) -> None:
    x = [np.zeros((64, 5), "int32"), np.ones((64, 3), "float32")]
    first = np.asarray(_build(write_spec)(x)[1])  # type: ignore[operator]
    again = np.asarray(_build(write_spec)(x)[1])  # type: ignore[operator]
    np.testing.assert_array_equal(first, again)  # same spec seed, same draws
    assert abs(float(first.std()) - 2.0) < 0.4
    other = np.asarray(_build(write_spec, SPEC.replace("seed: 7", "seed: 8"))(x)[1])  # type: ignore[operator]
    assert not np.array_equal(first, other)


def test_model_with_kspec_ops_saves_and_loads(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    import keras

    import kspec.compiler.kspec_layers  # noqa: F401

    model = _build(write_spec)
    model.save(tmp_path / "m.keras")  # type: ignore[attr-defined]
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert [type(op).__name__ for op in loaded.operations] == [type(op).__name__ for op in model.operations]  # type: ignore[attr-defined]
    tokens = np.zeros((2, 5), "int32")
    np.testing.assert_array_equal(np.asarray(loaded([tokens, np.ones((2, 3))])[0]), np.tile(np.arange(5), (2, 1)))


def test_a_constant_first_operand_binds_by_name(write_spec: Callable[..., Path]) -> None:
    """`{op: subtract, x1: 1.0, inputs: [x]}` is 1 - x (the tensor fills x2), as `validate` and the shapes read it."""
    text = """
        kspec: 1
        name: one_minus
        model:
          inputs: {x: {shape: [3]}}
          layers:
            - {op: subtract, name: one_minus, x1: 1.0, inputs: [x]}
            - {op: where, name: picked, condition: 1, inputs: [one_minus, x]}
          outputs: [picked]
    """
    kspec.validate(write_spec(text))
    model = _build(write_spec, text)
    x = np.array([[0.25, 2.0, -1.0]], "float32")
    np.testing.assert_allclose(np.asarray(model(x)), 1.0 - x)  # type: ignore[operator]
