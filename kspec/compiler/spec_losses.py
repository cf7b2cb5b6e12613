"""The losses of a spec's `losses:` section as Keras losses (`FormulaLoss`) and metrics (`FormulaMetric`).

Imports keras. Both are registered as serializable (package `kspec`); a config is the formula text and its
parameters, so a `model.keras` compiled with them loads with `keras.saving.load_model` after `import
kspec.compiler.kspec_layers` (which imports this module). Loading reads the formula again through
`kspec.lang.formula`: only allow-listed `keras.ops` functions are ever called, never code from the file.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from kspec import catalog
from kspec.lang import formula as formulas


def same_rank(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    """Drop a trailing axis of size 1 from whichever tensor has one axis more, as Keras does for its own losses
    (labels shaped `(batch,)` against predictions shaped `(batch, 1)`)."""
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    if true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    elif pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
        y_pred = ops.squeeze(y_pred, axis=-1)
    return y_true, y_pred


def evaluate(parsed: formulas.Formula, tensors: dict[str, Any]) -> Any:
    """Run a formula's steps on `tensors` (`y_true`, `y_pred`): each step calls its `keras.ops` function by keyword."""
    values = dict(tensors)
    for step in parsed.steps:
        info = catalog.op_info(step.op)
        if info is None or step.op not in catalog.op_names():
            raise ValueError(f"'{step.op}' is not an allowed keras.ops function")
        fn = getattr(ops, step.op)
        inputs = [values[name] for name in step.inputs]
        if info.variadic:
            values[step.name] = fn(inputs, **step.args)
        else:
            values[step.name] = fn(**step.args, **dict(zip(step.bind, inputs, strict=True)))
    return values[parsed.result]


@keras.saving.register_keras_serializable(package="kspec")
class FormulaLoss(keras.losses.Loss):  # type: ignore[misc]
    """A loss from a formula of allowed ops over `y_true` and `y_pred`; Keras reduces its values (by default the
    mean over the batch and every other axis, as for its built-in losses)."""

    def __init__(
        self,
        formula: str,
        params: dict[str, float] | None = None,
        name: str = "formula_loss",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.formula, self.params = formula, dict(params or {})
        self.parsed = formulas.parse(formula, self.params)  # FormulaError (a ValueError) for a formula kspec refuses

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true, y_pred = same_rank(y_true, y_pred)
        return evaluate(self.parsed, {"y_true": y_true, "y_pred": y_pred})

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "formula": self.formula, "params": self.params}


@keras.saving.register_keras_serializable(package="kspec")
class FormulaMetric(keras.metrics.Mean):  # type: ignore[misc]
    """A formula of `losses:` named under `train.metrics`: the mean of its values over the examples seen (as Keras
    reports a loss function used as a metric, e.g. `mse`)."""

    def __init__(
        self, formula: str, params: dict[str, float] | None = None, name: str = "formula_metric", dtype: Any = None
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self.formula, self.params = formula, dict(params or {})
        self.parsed = formulas.parse(formula, self.params)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        y_true = ops.convert_to_tensor(y_true, dtype=self.dtype)
        y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
        y_true, y_pred = same_rank(y_true, y_pred)
        values = evaluate(self.parsed, {"y_true": y_true, "y_pred": y_pred})
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "formula": self.formula, "params": self.params}
