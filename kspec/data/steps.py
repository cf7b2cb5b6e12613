"""Stage 4, build: `DataSpec` -> prepared splits -> `tf.data` pipelines. Behind the import wall (numpy, tensorflow).

`prepare` loads the source and runs the preprocessing steps in order (one function per step name, registered with
`@_step`); statistics of fitted steps come from the training split only. `pipeline` turns a split into a batched,
shuffled, prefetched `tf.data.Dataset` that gathers whole batches by index (no per-example Python or tf.data work),
one-hot encodes labels and applies augmentation per batch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kspec.data.sources import Arrays, Context, DataUnavailableError, ModelShapes, Splits, load
from kspec.errors import SpecError, SpecErrors
from kspec.lang import data_spec as sd

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["Arrays", "DataUnavailableError", "ModelShapes", "Splits", "pipeline", "prepare"]

StepFn = Callable[[Any, Splits, tuple[str | int, ...]], Splits]
STEP_FUNCTIONS: dict[str, StepFn] = {}


def _step(name: str) -> Callable[[StepFn], StepFn]:
    def deco(fn: StepFn) -> StepFn:
        STEP_FUNCTIONS[name] = fn
        return fn

    return deco


def prepare(spec: sd.DataSpec, folder: Path, shapes: ModelShapes | None = None) -> Splits:
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
    """A step whose (shift, divisor) come from the training split only."""
    ref = splits.train.x if on != "y" else splits.train.y
    shift, div = stats(np.asarray(ref, dtype=np.float64))
    div = np.where(div == 0, 1.0, div)
    return _map(splits, on, lambda a: ((a - shift) / div).astype(np.float32))


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
    augmentation_layers(step.layers, path)  # build once now so a bad layer is reported at its path
    splits.augment.extend(step.layers)
    return splits


# ------------------------------------------------------------------------------------------------- pipeline


def augmentation_layers(
    configs: list[dict[str, Any]], path: tuple[str | int, ...] = ("data", "preprocess")
) -> list[Any]:
    """Keras layers from `{type: RandomRotation, factor: 0.03}` entries (through the compiler's layer factory)."""
    from kspec.compiler.functional import make_layer
    from kspec.errors import did_you_mean

    layers = []
    for j, config in enumerate(configs):
        kind = str(config.get("type", ""))
        if not sd.is_augmentation_layer(kind):
            raise SpecErrors(
                [
                    SpecError(
                        f"'{kind}' is not an augmentation layer",
                        (*path, "layers", j, "type"),
                        "data-error",
                        hint=did_you_mean(
                            kind,
                            (
                                "RandomFlip",
                                "RandomRotation",
                                "RandomZoom",
                                "RandomTranslation",
                                "RandomContrast",
                                "RandomCrop",
                            ),
                        ),
                    )
                ]
            )
        try:
            layers.append(make_layer(kind, {k: v for k, v in config.items() if k != "type"}, None))
        except (ValueError, TypeError) as exc:
            raise SpecErrors(
                [SpecError(" ".join(str(exc).split())[:300], (*path, "layers", j), "keras-rejected")]
            ) from None
    return layers


def permutation(n: int, *, shuffle: bool, seed: int | None, epoch: Any) -> tf.Tensor:
    """The order of `n` training examples in one epoch (int64): drawn from (seed, epoch), or 0..n-1 unshuffled."""
    import tensorflow as tf

    idx = tf.range(n, dtype=tf.int64)
    if not shuffle:
        return idx
    r = tf.cast(epoch, tf.int64)
    return tf.random.experimental.stateless_shuffle(idx, seed=tf.stack([r, tf.constant(seed or 0, tf.int64)]))


def pipeline(
    part: Arrays,
    *,
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
    one_hot: int | None = None,
    augment: list[Any] | None = None,
    chunk: int = 16,
    epoch: Any = None,
    passes_from: int | None = None,
) -> tf.data.Dataset:
    """A batched `tf.data.Dataset` of `(x, y)` (or `x` alone when there are no targets).

    The examples are held once as tensors. Each epoch draws one seeded permutation (a new one every epoch, the same
    sequence for the same seed), and gathers `chunk` batches with one gather, so tf.data does a few hundred cheap
    element operations per epoch instead of one per example; the last, smaller batch is kept as `fit` keeps it.

    Training passes `epoch` (an int64 `tf.Variable` it sets as each epoch begins): the permutation is then drawn from
    (seed, epoch), so a resumed run sees the same order as an uninterrupted one. `passes_from=k` instead gives an
    endless stream of passes numbered k, k+1, ... (for more steps per epoch than one pass holds).
    """
    import tensorflow as tf

    n, bs = len(part), batch_size
    x = tf.convert_to_tensor(part.x)
    same = part.y is part.x
    y = None if part.y is None or same else tf.convert_to_tensor(part.y)
    full = n // bs

    def take(i: tf.Tensor) -> Any:
        xb = tf.gather(x, i)
        if same:
            return xb, xb
        if y is None:
            return xb
        yb = tf.gather(y, i)
        return xb, (tf.one_hot(yb, one_hot, dtype=tf.float32) if one_hot else yb)

    def order(r: tf.Tensor) -> tf.Tensor:
        return permutation(n, shuffle=shuffle, seed=seed, epoch=r)

    def batches(perm: tf.Tensor) -> tf.data.Dataset:
        rows = tf.data.Dataset.from_tensor_slices(tf.reshape(perm[: full * bs], [full, bs])).batch(chunk)
        out = rows.flat_map(lambda i: tf.data.Dataset.from_tensor_slices(take(i)))
        if n > full * bs:
            out = out.concatenate(tf.data.Dataset.from_tensors(perm[full * bs :]).map(take))
        return out

    steps = full + (1 if n > full * bs else 0)
    if passes_from is not None:
        ds = tf.data.Dataset.range(passes_from, 2**62).map(order).flat_map(batches)
    else:
        if epoch is not None:
            draws = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).map(lambda _: tf.cast(epoch, tf.int64))
        else:
            draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        ds = draws.map(order).flat_map(batches).apply(tf.data.experimental.assert_cardinality(steps))
    layers = augment or []
    if layers:

        def augmented(xb: tf.Tensor, *rest: tf.Tensor) -> Any:
            for layer in layers:
                xb = layer(xb, training=True)
            return (xb, *rest) if rest else xb

        ds = ds.map(augmented, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def example_shapes(part: Arrays, one_hot: int | None) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """Per-example input and target shapes as the pipeline yields them."""
    x_shape = tuple(part.x.shape[1:])
    if part.y is None:
        return x_shape, None
    y_shape = tuple(part.y.shape[1:])
    return x_shape, ((one_hot,) if one_hot else y_shape)
