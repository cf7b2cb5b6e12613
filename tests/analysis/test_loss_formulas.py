"""`validate` checks the losses of `losses:` and the `train.loss` entries that use them, without Keras: allowed ops,
known names, the number of tensors each op takes, parameter overrides and shapes against the trained output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import kspec
from kspec.errors import SpecErrors

SIAMESE_HEAD = """
kspec: 1
name: head
model:
  inputs: {left: {shape: [10]}, right: {shape: [10]}}
  layers:
    - {op: subtract, name: diff, inputs: [left, right]}
    - {op: square}
    - {op: sum, axis: 1, keepdims: true}
    - {op: sqrt, name: distance}
    - {type: Dense, name: similar, units: 1, activation: sigmoid}
    - {type: Dense, name: kind, units: 3, activation: softmax, inputs: [distance]}
  outputs: [similar, kind]
losses:
  contrastive:
    params: {margin: 1.0}
    formula: (1 - y_true) * square(y_pred) + y_true * square(maximum(margin - y_pred, 0))
  per_row:
    formula: mean(0.5 * square(y_true - y_pred), axis=AXIS)
"""


def _problems(write_spec: Callable[..., Path], text: str) -> list[tuple[str, str, str]]:
    try:
        found = kspec.validate(write_spec(text))
    except SpecErrors as exc:
        found = exc.errors
    return [(e.code, ".".join(map(str, e.path)), e.message) for e in found]


def test_losses_by_name_per_output_and_with_parameters(write_spec: Callable[..., Path]) -> None:
    text = SIAMESE_HEAD.replace("AXIS", "-1")
    ok = text + "train: {loss: {similar: {type: contrastive, margin: 0.5}, kind: per_row}}\n"
    assert _problems(write_spec, ok) == []
    unused = text + "train: {loss: {similar: contrastive, kind: categorical_crossentropy}}\n"
    assert _problems(write_spec, unused) == [("unused-variable", "losses.per_row", "loss 'per_row' is never used")]


def test_shapes_follow_the_output_each_loss_trains(write_spec: Callable[..., Path]) -> None:
    text = SIAMESE_HEAD.replace("AXIS", "2") + "train: {loss: {similar: contrastive, kind: per_row}}\n"
    with pytest.raises(SpecErrors) as info:
        kspec.validate(write_spec(text))
    (err,) = info.value.errors
    assert (err.code, err.path, err.line) == ("shape-mismatch", ("losses", "per_row", "formula"), 18)
    assert "`mean(0.5 * square(y_true - y_pred), axis=2)`" in err.message and "out of range" in err.message
    assert err.notes == ["y_pred is output 'kind' of model 'head', shaped (None, 3)"]


def test_overrides_must_be_parameters_and_numbers(write_spec: Callable[..., Path]) -> None:
    text = SIAMESE_HEAD.replace("AXIS", "-1")
    bad = text + "train: {loss: {similar: {type: contrastive, margn: 2}, kind: {type: per_row, axis: 1}}}\n"
    assert _problems(write_spec, bad) == [
        ("unknown-argument", "train.loss.similar.margn", "loss 'contrastive' has no parameter 'margn'"),
        ("unknown-argument", "train.loss.kind.axis", "loss 'per_row' has no parameter 'axis'"),
    ]
    metric = text + "train: {loss: {similar: contrastive, kind: per_row}, metrics: [{type: per_row, axs: 1}]}\n"
    assert _problems(write_spec, metric) == [
        ("unknown-argument", "train.metrics.0.axs", "loss 'per_row' has no parameter 'axs'"),
    ]
    word = text + "train: {loss: {similar: {type: contrastive, margin: wide}, kind: per_row}}\n"
    assert [p[0] for p in _problems(write_spec, word)] == ["wrong-type"]


def test_names_and_parameters_of_defined_losses(write_spec: Callable[..., Path]) -> None:
    text = """
        kspec: 1
        name: one
        model:
          inputs: {x: {shape: [4]}}
          layers: [{type: Dense, units: 1}]
        losses:
          mse: {formula: square(y_true - y_pred)}
          mine:
            params: {y_pred: 1, square: 2, spare: 3}
            formula: maximum(y_true, y_pred)
        train: {loss: mine}
    """
    assert sorted(_problems(write_spec, text)) == [
        ("bad-name", "losses.mine.params.square", "parameter 'square' has the name of an op"),
        ("bad-name", "losses.mine.params.y_pred", "parameter 'y_pred' has the name of a tensor"),
        ("duplicate-name", "losses.mse", "'mse' is already a Keras loss"),
        ("unused-variable", "losses.mine.params.spare", "parameter 'spare' is not used by the formula"),
        ("unused-variable", "losses.mine.params.square", "parameter 'square' is not used by the formula"),
        ("unused-variable", "losses.mine.params.y_pred", "parameter 'y_pred' is not used by the formula"),
        ("unused-variable", "losses.mse", "loss 'mse' is never used"),
    ]


def test_a_formula_loss_is_no_keras_object_and_validate_imports_no_keras(write_spec: Callable[..., Path]) -> None:
    import subprocess
    import sys

    path = write_spec(SIAMESE_HEAD.replace("AXIS", "-1") + "train: {loss: {similar: contrastive, kind: per_row}}\n")
    code = f"import sys, kspec; kspec.validate({str(path)!r}); assert 'keras' not in sys.modules, 'keras'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_formula_that_is_a_keras_loss_is_named(write_spec: Callable[..., Path]) -> None:
    text = """
        kspec: 1
        name: one
        model:
          inputs: {x: {shape: [4]}}
          layers: [{type: Dense, units: 2}]
        losses:
          my_mse:
            formula: mean(square(y_pred - y_true), axis=-1)
        train: {loss: my_mse}
    """
    assert _problems(write_spec, text) == [("duplicate-name", "losses.my_mse.formula",
                                            "loss 'my_mse' is Keras's mean_squared_error")]  # fmt: skip
    assert _problems(write_spec, text.replace("axis=-1", "axis=0")) == []


@pytest.mark.parametrize(
    ("formula", "trains"),
    [
        ("square(y_true)", False),
        ("abs(argmax(y_pred, axis=-1) - y_true)", False),
        ("where(greater(y_pred, 0.5), y_true, 1 - y_true)", False),
        ("round(y_pred) * y_true", False),
        ("where(greater(y_pred, 0.5), y_pred, 0)", True),
        ("y_pred", True),
        ("mean(concatenate([y_true, y_pred], axis=-1), axis=-1)", True),
    ],
)
def test_a_loss_must_give_a_gradient(write_spec: Callable[..., Path], formula: str, trains: bool) -> None:
    text = f"""
        kspec: 1
        name: one
        model:
          inputs: {{x: {{shape: [4]}}}}
          layers: [{{type: Dense, units: 2}}]
        losses:
          mine:
            formula: "{formula}"
        train: {{loss: mine}}
    """
    found = _problems(write_spec, text)
    assert found == ([] if trains else [("bad-value", "losses.mine.formula", found[0][2])])
    assert trains or "gives no gradient" in found[0][2]
