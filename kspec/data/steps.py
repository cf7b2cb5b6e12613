"""Stage data: `DataSpec` -> prepared splits. NumPy; behind the import wall.

`prepare` loads the source and runs the preprocessing steps in order (one function per step name, registered with
`@_step`); statistics of fitted steps come from the training split only. `kspec.data.pipeline` turns the splits into
batches.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kspec.data.registry import Arrays, Context, DataUnavailableError, ModelShapes, Splits
from kspec.data.sources import load
from kspec.errors import SpecError, SpecErrors
from kspec.lang import data_steps as sd
from kspec.lang.data_spec import DataSpec

if TYPE_CHECKING:
    pass

__all__ = ["Arrays", "DataUnavailableError", "ModelShapes", "Splits", "prepare"]

StepFn = Callable[[Any, Splits, tuple[str | int, ...]], Splits]
STEP_FUNCTIONS: dict[str, StepFn] = {}


def _step(name: str) -> Callable[[StepFn], StepFn]:
    def deco(fn: StepFn) -> StepFn:
        STEP_FUNCTIONS[name] = fn
        return fn

    return deco


def prepare(spec: DataSpec, folder: Path, shapes: ModelShapes | None = None) -> Splits:
    """Load `spec.source` and apply `spec.preprocess` in order.

    Args:
        spec: the `data:` section.
        folder: the spec file's folder; relative paths resolve against it and must stay inside it.
        shapes: the main model's per-example input/output shapes (for `synthetic`).

    Returns:
        NumPy splits (float inputs as float32) and the per-batch work for the pipeline.

    Raises:
        SpecErrors: a step or source does not fit the data, at the step's document path.
        DataUnavailableError: a Keras dataset is missing from the cache and cannot be downloaded.
    """
    splits = load(spec.source, Context(folder, shapes))
    for i, step in enumerate(spec.preprocess):
        path = ("data", "preprocess", i)
        try:
            splits = STEP_FUNCTIONS[step.type](step, splits, path)
        except (ValueError, IndexError, TypeError) as exc:
            raise SpecErrors([SpecError(f"step `{step.type}` failed on the data: {exc}", path, "data-error")]) from None
    for part in splits.named().values():
        if part.x.dtype == object:
            raise SpecErrors(
                [
                    SpecError(
                        "the inputs are sequences of different lengths",
                        ("data", "preprocess"),
                        "data-mismatch",
                        hint="add a step {type: pad_sequences, maxlen: 80}",
                    )
                ]
            )
        part.x = _narrow(part.x)
        part.y = part.x if part.y is part.x else _narrow(part.y)
    return splits


def _narrow(a: Any) -> Any:
    """No float64 copies reach TensorFlow; int64 labels become int32."""
    if a is None or a.dtype == object:
        return a
    if a.dtype == np.float64:
        return a.astype(np.float32)
    if a.dtype == np.int64:
        return a.astype(np.int32)
    return a


def _map(splits: Splits, on: str, fn: Callable[[Any], Any]) -> Splits:
    """Apply `fn` to the inputs and/or targets of every split."""
    for part in splits.named().values():
        same = part.y is part.x
        old_x = part.x
        if on in ("x", "both"):
            part.x = fn(part.x)
        if same:  # targets copied from the inputs: `x` steps leave them as they were
            part.y = part.x if on == "both" else fn(old_x) if on == "y" else old_x
        elif on in ("y", "both") and part.y is not None:
            part.y = fn(part.y)
    return splits


def _fitted(splits: Splits, on: str, stats: Callable[[Any], tuple[Any, Any]]) -> Splits:
    """A step whose (shift, divisor) come from the training split only: the inputs' for the inputs, the targets'
    for the targets (`on: both` fits each on its own)."""

    def fit(ref: Any) -> Callable[[Any], Any]:
        shift, div = stats(np.asarray(ref, dtype=np.float64))
        div = np.where(div == 0, 1.0, div)
        return lambda a: ((a - shift) / div).astype(np.float32)

    train = splits.train
    if on == "both" and train.y is not None and train.y is not train.x:
        on_x, on_y = fit(train.x), fit(train.y)
        return _map(_map(splits, "x", on_x), "y", on_y)
    return _map(splits, on, fit(train.x if on != "y" else train.y))


def _axis(a: Any, mode: str) -> tuple[int, ...] | None:
    return None if mode == "all" else (0,)


@_step("scale")
def _scale(step: sd.Scale, splits: Splits, path: Any) -> Splits:
    if step.range:
        lo, hi = step.range
        return _map(splits, step.on, lambda a: (a.astype(np.float32) / 255.0 * (hi - lo) + lo).astype(np.float32))

    def scale(a: Any) -> Any:
        out = np.array(a, dtype=np.float32)  # one float32 copy, then in place: no full-size temporaries
        out /= step.divide
        if step.multiply != 1:
            out *= step.multiply
        if step.offset:
            out += step.offset
        return out

    return _map(splits, step.on, scale)


@_step("standardize")
def _standardize(step: sd.Standardize, splits: Splits, path: Any) -> Splits:
    return _fitted(splits, step.on, lambda a: (a.mean(axis=_axis(a, step.axis)), a.std(axis=_axis(a, step.axis))))


@_step("minmax")
def _minmax(step: sd.MinMax, splits: Splits, path: Any) -> Splits:
    def stats(a: Any) -> tuple[Any, Any]:
        lo = a.min(axis=_axis(a, step.axis))
        return lo, a.max(axis=_axis(a, step.axis)) - lo

    return _fitted(splits, step.on, stats)


@_step("reshape")
def _reshape(step: sd.Reshape, splits: Splits, path: Any) -> Splits:
    return _map(splits, step.on, lambda a: a.reshape(len(a), *step.shape))


@_step("flatten")
def _flatten(step: sd.Flatten, splits: Splits, path: Any) -> Splits:
    return _map(splits, step.on, lambda a: a.reshape(len(a), -1))


@_step("add_channel")
def _add_channel(step: sd.AddChannel, splits: Splits, path: Any) -> Splits:
    return _map(splits, step.on, lambda a: a[..., np.newaxis])


@_step("cast")
def _cast(step: sd.Cast, splits: Splits, path: Any) -> Splits:
    return _map(splits, step.on, lambda a: a.astype(step.dtype))


def _labels(splits: Splits, path: Any) -> list[Any]:
    ys = [p.y for p in splits.named().values() if p.y is not None and p.y is not p.x]
    if not ys:
        raise SpecErrors([SpecError("this step needs labels, but the data has no targets", path, "data-error")])
    return ys


@_step("one_hot")
def _one_hot(step: sd.OneHot, splits: Splits, path: Any) -> Splits:
    ys = _labels(splits, path)
    if any(y.ndim > 1 and y.shape[-1] > 1 for y in ys):
        raise SpecErrors([SpecError("the labels are already one-hot", path, "data-error", hint="remove this step")])
    splits = _map(splits, "y", lambda a: a.reshape(len(a)).astype(np.int32))
    classes = step.classes or int(max(int(y.max()) for y in ys)) + 1
    top = max(int(y.max()) for y in ys)
    if top >= classes:
        raise SpecErrors(
            [
                SpecError(
                    f"a label is {top}, but `classes` is {classes}",
                    (*path, "classes"),
                    "data-error",
                    hint=f"use classes: {top + 1}",
                )
            ]
        )
    splits.one_hot = classes  # encoded per batch in the pipeline: no stored one-hot copy
    return splits


@_step("sparse")
def _sparse(step: sd.Sparse, splits: Splits, path: Any) -> Splits:
    _labels(splits, path)
    splits.one_hot = None
    return _map(
        splits, "y", lambda a: (a.argmax(-1) if a.ndim > 1 and a.shape[-1] > 1 else a.reshape(len(a))).astype(np.int32)
    )


@_step("pad_sequences")
def _pad(step: sd.PadSequences, splits: Splits, path: Any) -> Splits:
    from keras.utils import pad_sequences

    return _map(
        splits,
        "x",
        lambda a: pad_sequences(
            list(a), maxlen=step.maxlen, padding=step.padding, truncating=step.truncating, value=step.value
        ).astype(np.int32),
    )


@_step("input_as_target")
def _input_as_target(step: sd.InputAsTarget, splits: Splits, path: Any) -> Splits:
    for part in splits.named().values():
        part.y = part.x
    splits.one_hot = None
    return splits


@_step("rgb_to_gray")
def _gray(step: sd.RgbToGray, splits: Splits, path: Any) -> Splits:
    luma = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return _map(splits, step.on, lambda a: (a.astype(np.float32) @ luma)[..., np.newaxis])


@_step("noise")
def _noise(step: sd.Noise, splits: Splits, path: Any) -> Splits:
    rng = np.random.default_rng(step.seed)

    def noisy(a: Any) -> Any:
        out = (a + rng.normal(step.mean, step.stddev, a.shape)).astype(np.float32)
        return np.clip(out, step.clip[0], step.clip[1]) if step.clip else out

    return _map(splits, step.on, noisy)


@_step("channels")
def _channels(step: sd.Channels, splits: Splits, path: Any) -> Splits:
    return _map(splits, step.on, lambda a: a[..., step.keep])


@_step("preprocess_input")
def _preprocess_input(step: sd.PreprocessInput, splits: Splits, path: Any) -> Splits:
    from keras.applications import imagenet_utils

    return _map(
        splits,
        step.on,
        lambda a: np.asarray(imagenet_utils.preprocess_input(a.astype(np.float32), mode=step.mode), dtype=np.float32),
    )


@_step("window")
def _window(step: sd.Window, splits: Splits, path: Any) -> Splits:
    def windows(part: Arrays) -> Arrays:
        series = part.x.reshape(len(part.x), -1)
        n = len(series) - step.size - step.horizon + 1
        if n < 1:
            raise ValueError(f"the series has {len(series)} points, too few for windows of {step.size}")
        x = np.stack([series[i : i + step.size] for i in range(n)])
        y = series[step.size + step.horizon - 1 : step.size + step.horizon - 1 + n, step.column]
        return Arrays(x.astype(np.float32), y.astype(np.float32))

    splits.train = windows(splits.train)
    splits.validation = windows(splits.validation) if splits.validation else None
    splits.test = windows(splits.test) if splits.test else None
    return splits


def _subset(part: Arrays, index: Any) -> Arrays:
    x = part.x[index]
    return Arrays(x, x if part.y is part.x else None if part.y is None else part.y[index])


@_step("take")
def _take(step: sd.Take, splits: Splits, path: Any) -> Splits:
    names = list(splits.named()) if step.split == "all" else [step.split]
    for name in names:
        part = getattr(splits, name)
        if part is None:
            raise SpecErrors([SpecError(f"there is no {name} split to take from", (*path, "split"), "data-error")])
        count = step.count or max(1, round(len(part) * (step.fraction or 1)))
        index = (
            np.arange(min(count, len(part)))
            if step.seed is None
            else np.sort(np.random.default_rng(step.seed).permutation(len(part))[:count])
        )
        setattr(splits, name, _subset(part, index))
    return splits


@_step("split")
def _split(step: sd.Split, splits: Splits, path: Any) -> Splits:
    if step.test and splits.test is not None and not step.replace_test:
        raise SpecErrors(
            [
                SpecError(
                    "the source already has a test split",
                    (*path, "test"),
                    "data-error",
                    hint="add `replace_test: true` to discard it, or drop `test:`",
                )
            ]
        )
    part = splits.train
    order = np.random.default_rng(step.seed).permutation(len(part))
    n_val, n_test = round(len(part) * step.validation), round(len(part) * step.test)
    if len(part) - n_val - n_test < 1:
        raise ValueError("no training examples would be left")
    val, test, train = order[:n_val], order[n_val : n_val + n_test], order[n_val + n_test :]
    splits.train = _subset(part, train)
    if n_val:
        splits.validation = _subset(part, val)
    if step.test or step.replace_test:
        splits.test = _subset(part, test) if n_test else None
    return splits


@_step("augment")
def _augment(step: sd.Augment, splits: Splits, path: Any) -> Splits:
    from kspec.data.pipeline import augmentation_layers

    augmentation_layers(step.layers, path)  # build once now so a bad layer is reported at its path
    splits.augment.extend(step.layers)
    return splits
