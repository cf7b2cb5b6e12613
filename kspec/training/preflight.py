"""Stage train, before the first step: process-wide switches (seeds, mixed precision, determinism, distribution)
and the checks of prepared data against the model, each failure a located `train-error` or `data-mismatch`.
Keras and TensorFlow are imported inside the functions."""

from __future__ import annotations

import contextlib
import importlib.util
from typing import TYPE_CHECKING, Any, NoReturn

from kspec.data import named
from kspec.data.registry import ModelShapes, Splits
from kspec.errors import SpecError, SpecErrors
from kspec.lang.data_names import FedNames
from kspec.lang.train_spec import TrainSpec, per_output
from kspec.training.feeding import check_side, fits, in_model_order

if TYPE_CHECKING:
    import keras

_SPARSE_LOSSES = ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy")
_CATEGORICAL_LOSSES = ("categorical_crossentropy", "CategoricalCrossentropy")


def fail(message: str, path: tuple[str | int, ...], code: str = "train-error", hint: str | None = None) -> NoReturn:
    raise SpecErrors([SpecError(message, path, code, hint=hint)])


def setup(spec: TrainSpec) -> tuple[Any, bool]:
    """Distribution strategy, seeds, determinism, precision policy.

    Returns:
        The strategy's scope (or a null context), and whether this process is the chief (writes the run folder):
        always, except the workers other than worker 0 (or the `chief` task) under `multi_worker`.
    """
    import keras
    import tensorflow as tf

    scope: Any = contextlib.nullcontext()
    chief = True
    if spec.logical_devices:  # before any op: the runtime's devices are fixed once it starts
        cpu, parts = tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()]
        try:
            tf.config.set_logical_device_configuration(cpu, parts * spec.logical_devices)
        except RuntimeError:  # this process's runtime has started: only the same split can be kept
            if len(tf.config.list_logical_devices("CPU")) != spec.logical_devices:
                fail(
                    "`logical_devices` cannot change once TensorFlow has started in this process",
                    ("train", "logical_devices"),
                    hint="train in a new process (`kspec train`)",
                )
    if spec.distribute == "multi_worker":  # first: the strategy configures the runtime's collective ops
        from kspec.training.cluster import make_strategy

        strategy = make_strategy(spec.distribute_timeout)
        scope = StrategyScope(strategy)
        resolver = strategy.cluster_resolver
        kind, index = getattr(resolver, "task_type", None), getattr(resolver, "task_id", None)
        has_chief = resolver is not None and "chief" in resolver.cluster_spec().as_dict()
        chief = kind is None or kind == "chief" or (kind == "worker" and index == 0 and not has_chief)
    if spec.seed is not None:
        keras.utils.set_random_seed(spec.seed)
    if spec.deterministic:
        tf.config.experimental.enable_op_determinism()
    else:  # switched back, as the precision policy is: an in-process run follows its own spec only
        _disable_op_determinism()
    keras.mixed_precision.set_global_policy("mixed_float16" if spec.mixed_precision else "float32")
    if spec.distribute == "mirrored":
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")] if spec.logical_devices else None
        gpus = spec.logical_devices and tf.config.list_logical_devices("GPU")
        scope = tf.distribute.MirroredStrategy(None if gpus else cpus).scope()
    return scope, chief


class StrategyScope:
    """`strategy.scope()` that can be entered more than once (TensorFlow's is a one-use context manager)."""

    def __init__(self, strategy: Any) -> None:
        self.strategy = strategy
        self._open: list[Any] = []

    def __enter__(self) -> Any:
        self._open.append(self.strategy.scope())
        return self._open[-1].__enter__()

    def __exit__(self, *exc: object) -> Any:
        return self._open.pop().__exit__(*exc)


def _disable_op_determinism() -> None:
    """Undo an earlier run's `enable_op_determinism` (TensorFlow 2.21 has no public call for it)."""
    from tensorflow.python.framework import config as tf_config

    if getattr(tf_config, "is_op_determinism_enabled", lambda: False)():
        getattr(tf_config, "disable_op_determinism", lambda: None)()


def check_tensorboard(spec: TrainSpec) -> None:
    """`tensorboard: true` needs the tensorboard package, which tensorflow-cpu does not install."""
    if spec.tensorboard and importlib.util.find_spec("tensorboard") is None:
        fail(
            "`tensorboard: true` needs the tensorboard package, which is not installed",
            ("train", "tensorboard"),
            hint='pip install "kspec[tensorboard]", or remove `tensorboard: true`',
        )


def shapes_of(model: keras.Model, outputs: list[str] | None = None) -> ModelShapes:
    """The model's first input and output shapes, and its input and output names (`outputs`: as the spec writes
    them, when it names as many as the model has)."""

    def dims(t: Any) -> tuple[int, ...]:
        return tuple(int(d) if d is not None else 1 for d in t.shape[1:])

    names = outputs if outputs is not None and len(outputs) == len(model.outputs) else list(model.output_names)
    inputs = tuple(str(t.name) for t in model.inputs)
    shapes = ModelShapes(
        dims(model.inputs[0]), dims(model.outputs[0]), str(model.inputs[0].dtype), inputs, tuple(names)
    )
    shapes.input_shapes = {n: (dims(t), str(t.dtype)) for n, t in zip(inputs, model.inputs, strict=True)}
    shapes.output_shapes = {n: dims(t) for n, t in zip(names, model.outputs, strict=True)}
    return shapes


def _loss_name(spec: TrainSpec) -> str:
    loss = spec.loss
    return str(loss.get("type", "")) if isinstance(loss, dict) else str(loss or "")


def _fits(data: tuple[int, ...], model: tuple[int | None, ...]) -> bool:
    return fits(data, model)


def _sparse_fits(y_shape: tuple[int, ...], want: tuple[int | None, ...]) -> bool:
    """Class ids per position (a segmentation mask): the output without its class axis, with or without a 1."""
    return _fits(y_shape, want[:-1]) or _fits(y_shape, (*want[:-1], 1))


def _target_fits(loss: str, y_shape: tuple[int, ...], want: tuple[int | None, ...]) -> bool:
    return (
        _fits(y_shape, want)
        or (loss in _SPARSE_LOSSES and (y_shape in ((), (1,)) or _sparse_fits(y_shape, want)))
        or (y_shape == () and want == (1,))
    )


def check_shapes(
    spec: TrainSpec,
    splits: Splits,
    model: keras.Model,
    name: str,
    outputs: list[str] | None = None,
    fed: FedNames | None = None,
) -> None:
    """Data against the model's inputs and outputs before any training step; one-hot on the fly if needed.

    One array feeds a model with one input (one target array, one output); named arrays feed inputs and outputs by
    name (`outputs`: the model's output names as the spec writes them; default Keras's). Afterwards every split
    holds its arrays in the model's order (`feeding.in_model_order`). `fed` locates named arrays in the document.
    """
    in_names = [str(t.name) for t in model.inputs]
    out_names = outputs if outputs is not None and len(outputs) == len(model.outputs) else list(model.output_names)
    train = splits.train
    fed = fed or FedNames(x_at=("data",), y_at=("data",))
    if not named.is_named(train.x) and len(in_names) == 1:
        errors = _single_input(train, model, name)
    else:
        want_x = {n: tuple(t.shape[1:]) for n, t in zip(in_names, model.inputs, strict=True)}
        errors = check_side(train.x, want_x, side="inputs", model=name, where=fed.x, at=fed.x_at)
    if spec.recipe != "gan" and train.y is not None:
        if not named.is_named(train.y) and len(out_names) == 1:
            errors += _single_target(spec, splits, model, name)
        else:
            want_y = {n: tuple(t.shape[1:]) for n, t in zip(out_names, model.outputs, strict=True)}
            errors += check_side(
                train.y, want_y, side="targets", model=name, where=fed.y, at=fed.y_at, fits_one=_named_target(spec)
            )
            if spec.class_weight and not errors:
                errors.append(SpecError(f"`class_weight` weighs the examples of one output, but model '{name}' has "
                                        f"{len(out_names)}", ("train", "class_weight"), "train-error",
                                        hint="remove class_weight"))  # fmt: skip
    if errors:
        raise SpecErrors(errors)
    in_model_order(splits, in_names, out_names)


def _named_target(spec: TrainSpec) -> Any:
    def fits_one(output: str, y_shape: tuple[int, ...], want: tuple[int | None, ...]) -> bool:
        loss = spec.loss.get(output) if per_output(spec.loss) and isinstance(spec.loss, dict) else spec.loss
        name = str(loss.get("type", "")) if isinstance(loss, dict) else str(loss or "")
        return _target_fits(name, y_shape, want)

    return fits_one


def _single_input(train: Any, model: keras.Model, name: str) -> list[SpecError]:
    x_shape = tuple(train.x.shape[1:])
    want_x = tuple(model.inputs[0].shape[1:])
    if _fits(x_shape, want_x):
        return []
    return [
        SpecError(
            f"the data's inputs have shape {list(x_shape)} per example, but model '{name}' takes {list(want_x)}",
            ("data",),
            "data-mismatch",
            hint="add a preprocessing step (flatten, reshape, add_channel, ...)",
        )
    ]


def _single_target(spec: TrainSpec, splits: Splits, model: keras.Model, name: str) -> list[SpecError]:
    want_y = tuple(model.outputs[0].shape[1:])
    y = splits.train.y
    assert y is not None
    y_shape = (splits.one_hot,) if splits.one_hot else tuple(y.shape[1:])
    loss = _loss_name(spec)
    integer = y.dtype.kind in "iu" and y_shape in ((), (1,))
    if integer and loss in _CATEGORICAL_LOSSES and want_y[-1:] != (1,) and not splits.one_hot:
        splits.one_hot = int(want_y[-1] or 0)  # the loss wants one-hot rows: encode per batch, no stored copy
    elif splits.one_hot and loss in _SPARSE_LOSSES:
        splits.one_hot = None
    elif not _target_fits(loss, y_shape, want_y):
        return [
            SpecError(
                f"the data's targets have shape {list(y_shape)} per example, but model '{name}' outputs {list(want_y)}",
                ("data",),
                "data-mismatch",
                hint="one_hot or sparse labels, or a loss that fits the targets",
            )
        ]
    return []


def prepare_targets(spec: TrainSpec, splits: Splits) -> None:
    """The autoencoder recipe trains on inputs as targets; validation_split carves the end of the training split."""
    if spec.recipe == "autoencoder":
        for part in splits.named().values():
            part.y = part.x
        splits.one_hot = None
    if spec.validation_split and splits.validation is None:
        from kspec.data.registry import Arrays

        cut = len(splits.train) - max(1, round(len(splits.train) * spec.validation_split))
        tr = splits.train
        same = tr.y is tr.x

        def rows_of(rows: slice, copy: bool) -> Arrays:
            x = named.apply(named.rows(tr.x, rows), lambda a: a.copy() if copy else a)
            y = x if same else named.apply(named.rows(tr.y, rows), lambda a: a.copy() if copy else a)
            return Arrays(x, y)

        # the (small) validation part is copied, so the full arrays can be freed once training holds its tensors
        splits.validation = rows_of(slice(cut, None), copy=True)
        splits.train = rows_of(slice(None, cut), copy=False)
    elif spec.validation_split:
        fail(
            "the data already has a validation split (a `split` step)",
            ("train", "validation_split"),
            hint="remove one of them",
        )
    if spec.validation_data == "test":
        splits.validation = splits.test
    elif spec.validation_data == "none":
        splits.validation = None
