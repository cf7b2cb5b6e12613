"""Stage 4, check: the losses of `losses:` (formulas of allowed ops) and the `train.loss` entries that use them.

Each formula is read into op steps (`kspec.lang.formula`) and every step is checked like an `op:` entry: the op is on
the allow-list, its arguments are known, it gets the right number of tensors. Where the trained model's output
shape is known, the steps' shapes are inferred with the ops' shape rules (`y_pred` has the output's shape, `y_true`
its rank). Imports kspec only; never keras.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kspec import catalog
from kspec.analysis.losses import named_losses, trained_outputs
from kspec.analysis.shape_rules import OP_RULES, Shape, ShapeMismatch, Unsupported, constant_shape, fmt
from kspec.errors import Path, SpecError, did_you_mean
from kspec.lang.loss_spec import reference
from kspec.lang.spec import NAME_PATTERN

if TYPE_CHECKING:
    from kspec.analysis.graph import Resolved
    from kspec.analysis.shapes import ShapeReport
    from kspec.lang import formula as formulas

_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class Use:
    """One place `train.loss` (or a metric) names a defined loss: which output it is for (None: every output)."""

    loss: str
    overrides: dict[str, Any]
    output: str | None
    path: Path


def uses(res: Resolved) -> list[Use]:
    """The `train.loss` (and `train.metrics`) entries that name a loss of `losses:`."""
    train, defined = res.spec.train, res.spec.losses
    if train is None or train.loss is None:
        return []
    entries: list[tuple[Any, str | None, Path]] = [(train.loss, None, ("train", "loss"))]
    if named_losses(res):
        assert isinstance(train.loss, dict)
        entries = [(v, str(k), ("train", "loss", k)) for k, v in train.loss.items()]
    entries += [(m, None, ("train", "metrics", i)) for i, m in enumerate(train.metrics)]
    out = []
    for value, output, path in entries:
        found = reference(value, defined)
        if found is not None:
            out.append(Use(found[0], found[1], output, path))
    return out


def parsed(res: Resolved, name: str, overrides: dict[str, Any] | None = None) -> formulas.Formula | None:
    """Loss `name`'s formula with its params (and `overrides`) in place; None if it cannot be read."""
    from kspec.lang import formula as formulas  # `ast` is imported only for specs with `losses:`

    spec = res.spec.losses[name]
    try:
        return formulas.parse(spec.formula, {**spec.params, **(overrides or {})})
    except formulas.FormulaError:
        return None


def formula_error(err: formulas.FormulaError, path: Path) -> SpecError:
    where = f"`{err.text}` (column {err.column})" if err.text else f"column {err.column}"
    return SpecError(f"in the formula at {where}: {err.message}", path, err.code, hint=err.hint)


def check_defined(res: Resolved, ctx: Any) -> Iterator[SpecError]:
    """Every loss of `losses:` has a usable name, a formula of allowed ops with known arguments, and is used."""
    if not res.spec.losses:
        return
    from kspec.lang import formula as formulas

    keras_losses = set(catalog.object_names("loss"))
    used = {u.loss for u in uses(res)}
    for name, spec in res.spec.losses.items():
        at: Path = ("losses", name)
        if not _NAME.match(name):
            yield SpecError(f"'{name}' is not a usable loss name", at, "bad-name",
                            hint="start with an ASCII letter or _, then letters, digits, _ . or -")  # fmt: skip
        if name in keras_losses:
            yield SpecError(
                f"'{name}' is already a Keras loss",
                at,
                "duplicate-name",
                hint=f"name your loss differently (e.g. my_{name}), or use Keras's with `loss: {name}`",
            )
        for key in spec.params:
            if key in formulas.TENSORS or catalog.op_info(key) is not None:
                yield SpecError(
                    f"parameter '{key}' has the name of {'a tensor' if key in formulas.TENSORS else 'an op'}",
                    (*at, "params", key),
                    "bad-name",
                    hint="give the parameter another name",
                )
        try:
            parsed_formula = formulas.parse(spec.formula, dict(spec.params))
        except formulas.FormulaError as exc:
            yield formula_error(exc, (*at, "formula"))
            continue
        for step in parsed_formula.steps:
            for err in catalog.check_op(step.op, step.args, n_inputs=len(step.inputs)):
                yield _at_step(err, step, (*at, "formula"))
        if not trains(parsed_formula):
            yield SpecError(f"loss '{name}' gives no gradient: its value does not depend on y_pred, or only through "
                            "ops without one (argmax, round, comparisons, ...)", (*at, "formula"), "bad-value",
                            hint="a loss must change smoothly with y_pred, e.g. square(y_true - y_pred)")  # fmt: skip
        same = keras_equivalent(parsed_formula)
        if same is not None:
            yield SpecError(
                f"loss '{name}' is Keras's {same}",
                (*at, "formula"),
                "duplicate-name",
                severity="warning",
                hint=f"write `loss: {same}` and remove this entry (Keras's own is tested and faster)",
            )
        for key in spec.params:
            if key not in parsed_formula.used:
                yield SpecError(
                    f"parameter '{key}' is not used by the formula",
                    (*at, "params", key),
                    "unused-variable",
                    severity="warning",
                    hint="use it in the formula or remove it",
                )
        if name not in used:
            yield SpecError(f"loss '{name}' is never used", at, "unused-variable", severity="warning",
                            hint=f"train with it: `train: {{loss: {name}}}`")  # fmt: skip


#: Formulas that compute a Keras loss exactly (the same values per example): a formula equal to one of them, step by
#: step, is a warning naming the Keras loss to use instead.
KERAS_EQUIVALENTS: dict[str, str] = {
    "mean(square(y_true - y_pred), axis=-1)": "mean_squared_error",
    "mean(square(y_pred - y_true), axis=-1)": "mean_squared_error",
    "mean(abs(y_true - y_pred), axis=-1)": "mean_absolute_error",
    "mean(abs(y_pred - y_true), axis=-1)": "mean_absolute_error",
}


#: Ops whose output carries no gradient back to their tensors (and `where`'s condition, which selects only).
NO_GRADIENT = frozenset(
    """
    argmax argmin argsort ceil count_nonzero equal floor floor_divide full_like greater greater_equal isfinite isinf
    isnan less less_equal logical_and logical_not logical_or logical_xor not_equal one_hot ones_like round sign
    stop_gradient trunc zeros_like
""".split()
)


def trains(parsed_formula: formulas.Formula) -> bool:
    """Whether the formula's value depends on `y_pred` through ops that pass a gradient back (else training
    would get no gradient at all)."""
    live = {"y_pred"}
    for step in parsed_formula.steps:
        if step.op in NO_GRADIENT:
            continue
        carried = [
            i for i, p in zip(step.inputs, step.bind or [""] * len(step.inputs), strict=True) if p != "condition"
        ]
        if live.intersection(carried):
            live.add(step.name)
    return parsed_formula.result in live


def keras_equivalent(parsed_formula: formulas.Formula) -> str | None:
    """The Keras loss a formula computes exactly (`KERAS_EQUIVALENTS`), if any."""
    from kspec.lang import formula as formulas

    mine = [(s.op, s.inputs, s.args, s.bind) for s in parsed_formula.steps]
    for text, name in KERAS_EQUIVALENTS.items():
        if mine == [(s.op, s.inputs, s.args, s.bind) for s in formulas.parse(text, {}).steps]:
            return name
    return None


def _at_step(err: SpecError, step: formulas.Step, path: Path) -> SpecError:
    what = err.message.replace(f"op '{step.op}'", step.op)
    return replace(err, message=f"in the formula at `{step.text}` (column {step.column}): {what}", path=path)


def check_uses(res: Resolved, ctx: Any) -> Iterator[SpecError]:
    """`{type: NAME, param: value}` under `train.loss` or `train.metrics` sets parameters the loss has, to numbers."""
    for use in uses(res):
        params = res.spec.losses[use.loss].params
        for key, value in use.overrides.items():
            if key not in params:
                yield SpecError(
                    f"loss '{use.loss}' has no parameter '{key}'",
                    (*use.path, key),
                    "unknown-argument",
                    hint=did_you_mean(key, params) or f"its parameters: {', '.join(params) or 'none'}",
                )
            elif isinstance(value, bool) or not isinstance(value, int | float):
                yield SpecError(f"parameter '{key}' of loss '{use.loss}' must be a number", (*use.path, key),
                                "wrong-type")  # fmt: skip


def check_shapes(res: Resolved, report: ShapeReport) -> list[SpecError]:
    """Shapes through each used formula, with `y_pred` shaped like the output it trains (where that is known)."""
    found = trained_outputs(res)
    if found is None or found[0] not in report.models:
        return []
    model, names = found
    outputs = report.models[model].outputs
    errors: list[SpecError] = []
    for use in uses(res):
        targets = [use.output] if use.output is not None else names
        for output in targets:
            shape = outputs.get(output) if output is not None else None
            if not isinstance(shape, tuple):
                continue
            problem = _infer(res, use, shape)
            if problem is not None:
                errors.append(replace(problem, notes=[f"y_pred is output '{output}' of model '{model}', "
                                                      f"shaped {fmt(shape)}"]))  # fmt: skip
    return errors


def _infer(res: Resolved, use: Use, y_pred: Shape) -> SpecError | None:
    parsed_formula = parsed(res, use.loss, use.overrides)
    if parsed_formula is None:
        return None
    shapes: dict[str, Shape] = {"y_pred": y_pred, "y_true": (None,) * len(y_pred)}
    for step in parsed_formula.steps:
        info = catalog.op_info(step.op)
        rule = OP_RULES.get(step.op)
        if info is None or rule is None or any(i not in shapes for i in step.inputs):
            return None
        if info.variadic:
            operands = [shapes[i] for i in step.inputs]
        else:
            by_param = dict(zip(step.bind, (shapes[i] for i in step.inputs), strict=True))
            operands = [by_param[t] if t in by_param else constant_shape(step.args[t])
                        for t in info.tensors if t in by_param or t in step.args]  # fmt: skip
        try:
            shapes[step.name] = rule(step.op, step.args, operands)
        except ShapeMismatch as exc:
            return SpecError(f"in the formula at `{step.text}` (column {step.column}): {exc.message}",
                             ("losses", use.loss, "formula"), "shape-mismatch", hint=exc.hint)  # fmt: skip
        except Unsupported:
            return None
    return None
