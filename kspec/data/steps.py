"""Stage data: `DataSpec` -> prepared splits. NumPy; behind the import wall.

`prepare` loads the source and runs the preprocessing steps in order (one function per step name, registered with
`@_step`, see `kspec.data.step_registry`); statistics of fitted steps come from the training split only.
`kspec.data.pipeline` turns the splits into batches.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kspec.data import named
from kspec.data import pair_steps as _pair_steps  # noqa: F401  (registers `pairs`)
from kspec.data.registry import Arrays, Context, DataUnavailableError, ModelShapes, Splits
from kspec.data.sources import load
from kspec.data.step_registry import (
    STEP_FUNCTIONS,
    fitted,
    labels,
    map_arrays,
    single,
    subset,
)
from kspec.data.step_registry import (
    step as _step,
)
from kspec.errors import SpecError, SpecErrors
from kspec.lang import data_steps as sd
from kspec.lang.data_spec import DataSpec

if TYPE_CHECKING:
    pass

__all__ = ["Arrays", "DataUnavailableError", "ModelShapes", "Splits", "prepare"]


def prepare(spec: DataSpec, folder: Path, shapes: ModelShapes | None = None, env: sd.StepEnv | None = None) -> Splits:
    """Load `spec.source` and apply `spec.preprocess` in order.

    Args:
        spec: the `data:` section.
        folder: the spec file's folder; relative paths resolve against it and must stay inside it.
        shapes: the main model's per-example input/output shapes (for `synthetic`).
        env: defaults steps take from the spec beyond `data:` (`train.seed`, the model's input names for `pairs`).

    Returns:
        NumPy splits (float inputs as float32) and the per-batch work for the pipeline.

    Raises:
        SpecErrors: a step or source does not fit the data, at the step's document path.
        DataUnavailableError: a Keras dataset is missing from the cache and cannot be downloaded.
    """
    splits = load(spec.source, Context(folder, shapes))
    env = env or sd.StepEnv()
    for i, written in enumerate(spec.preprocess):
        path = ("data", "preprocess", i)
        step = written.resolved(env)
        _check_on(step, splits, path)
        try:
            splits = STEP_FUNCTIONS[step.type](step, splits, path)
        except (ValueError, IndexError, TypeError) as exc:
            raise SpecErrors([SpecError(f"step `{step.type}` failed on the data: {exc}", path, "data-error")]) from None
    for part in splits.named().values():
        if any(a.dtype == object for a in named.leaves(part.x)):
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
        same = part.y is part.x
        part.x = named.apply(part.x, _narrow)
        part.y = part.x if same else named.apply(part.y, _narrow)
    return splits


def _check_on(step: Any, splits: Splits, path: tuple[str | int, ...]) -> None:
    """A step's `on: [names]` names arrays the data has by name, on either side."""
    on = getattr(step, "on", None)
    if not isinstance(on, list):
        return
    from kspec.errors import did_you_mean

    train = splits.train
    have = [name for side in (train.x, train.y) if isinstance(side, dict) for name in side]
    for j, name in enumerate(on):
        if name not in have:
            what = f"named arrays {', '.join(have)}" if have else "no named arrays (one input and one target array)"
            raise SpecErrors(
                [
                    SpecError(
                        f"step `{step.type}` names the array '{name}', but the data has {what}",
                        (*path, "on", j),
                        "data-mismatch",
                        hint=did_you_mean(name, have) or ("use on: x, y or both" if not have else None),
                    )
                ]
            )


def _narrow(a: Any) -> Any:
    """No float64 copies reach TensorFlow; int64 labels become int32."""
    if a is None or a.dtype == object:
        return a
    if a.dtype == np.float64:
        return a.astype(np.float32)
    if a.dtype == np.int64:
        return a.astype(np.int32)
    return a


def _axis(a: Any, mode: str) -> tuple[int, ...] | None:
    return None if mode == "all" else (0,)


@_step("scale")
def _scale(step: sd.Scale, splits: Splits, path: Any) -> Splits:
    if step.range:
        lo, hi = step.range
        return map_arrays(splits, step.on, lambda a: (a.astype(np.float32) / 255.0 * (hi - lo) + lo).astype(np.float32))

    def scale(a: Any) -> Any:
        out = np.array(a, dtype=np.float32)  # one float32 copy, then in place: no full-size temporaries
        out /= step.divide
        if step.multiply != 1:
            out *= step.multiply
        if step.offset:
            out += step.offset
        return out

    return map_arrays(splits, step.on, scale)


@_step("standardize")
def _standardize(step: sd.Standardize, splits: Splits, path: Any) -> Splits:
    return fitted(splits, step.on, lambda a: (a.mean(axis=_axis(a, step.axis)), a.std(axis=_axis(a, step.axis))))


@_step("minmax")
def _minmax(step: sd.MinMax, splits: Splits, path: Any) -> Splits:
    def stats(a: Any) -> tuple[Any, Any]:
        lo = a.min(axis=_axis(a, step.axis))
        return lo, a.max(axis=_axis(a, step.axis)) - lo

    return fitted(splits, step.on, stats)


@_step("reshape")
def _reshape(step: sd.Reshape, splits: Splits, path: Any) -> Splits:
    return map_arrays(splits, step.on, lambda a: a.reshape(len(a), *step.shape))


@_step("flatten")
def _flatten(step: sd.Flatten, splits: Splits, path: Any) -> Splits:
    return map_arrays(splits, step.on, lambda a: a.reshape(len(a), -1))


@_step("add_channel")
def _add_channel(step: sd.AddChannel, splits: Splits, path: Any) -> Splits:
    return map_arrays(splits, step.on, lambda a: a[..., np.newaxis])


@_step("cast")
def _cast(step: sd.Cast, splits: Splits, path: Any) -> Splits:
    return map_arrays(splits, step.on, lambda a: a.astype(step.dtype))


@_step("one_hot")
def _one_hot(step: sd.OneHot, splits: Splits, path: Any) -> Splits:
    single(splits, path, "y", "give each output its labels as they are and a sparse loss (sparse_categorical_"
            "crossentropy), or store one-hot targets in the file")  # fmt: skip
    ys = labels(splits, path)
    if any(y.ndim > 1 and y.shape[-1] > 1 for y in ys):
        raise SpecErrors([SpecError("the labels are already one-hot", path, "data-error", hint="remove this step")])
    splits = map_arrays(splits, "y", lambda a: a.reshape(len(a)).astype(np.int32))
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
    labels(splits, path)
    splits.one_hot = None
    return map_arrays(
        splits, "y", lambda a: (a.argmax(-1) if a.ndim > 1 and a.shape[-1] > 1 else a.reshape(len(a))).astype(np.int32)
    )


@_step("pad_sequences")
def _pad(step: sd.PadSequences, splits: Splits, path: Any) -> Splits:
    from keras.utils import pad_sequences

    return map_arrays(
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
    return map_arrays(splits, step.on, lambda a: (a.astype(np.float32) @ luma)[..., np.newaxis])


@_step("noise")
def _noise(step: sd.Noise, splits: Splits, path: Any) -> Splits:
    rng = np.random.default_rng(step.seed)

    def noisy(a: Any) -> Any:
        out = (a + rng.normal(step.mean, step.stddev, a.shape)).astype(np.float32)
        return np.clip(out, step.clip[0], step.clip[1]) if step.clip else out

    return map_arrays(splits, step.on, noisy)


@_step("channels")
def _channels(step: sd.Channels, splits: Splits, path: Any) -> Splits:
    return map_arrays(splits, step.on, lambda a: a[..., step.keep])


@_step("preprocess_input")
def _preprocess_input(step: sd.PreprocessInput, splits: Splits, path: Any) -> Splits:
    from keras.applications import imagenet_utils

    return map_arrays(
        splits,
        step.on,
        lambda a: np.asarray(imagenet_utils.preprocess_input(a.astype(np.float32), mode=step.mode), dtype=np.float32),
    )


@_step("window")
def _window(step: sd.Window, splits: Splits, path: Any) -> Splits:
    single(splits, path, "x", "windows are cut from one series; read it as one array")

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
        setattr(splits, name, subset(part, index))
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
    splits.train = subset(part, train)
    if n_val:
        splits.validation = subset(part, val)
    if step.test or step.replace_test:
        splits.test = subset(part, test) if n_test else None
    return splits


@_step("augment")
def _augment(step: sd.Augment, splits: Splits, path: Any) -> Splits:
    from kspec.data.pipeline import augmentation_layers

    single(splits, path, "x", "augmentation layers take one image array")
    augmentation_layers(step.layers, path)  # build once now so a bad layer is reported at its path
    splits.augment.extend(step.layers)
    return splits
