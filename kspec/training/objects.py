"""Stage train: Keras objects from the train section (optimizer, compile arguments, the spec's callbacks).

Keras is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kspec import paths as data_paths
from kspec.compiler.functional import to_keras_config
from kspec.errors import SpecError, SpecErrors
from kspec.lang.loss_spec import LossSpec, reference
from kspec.lang.train_spec import CALLBACK_PATHS, TrainSpec, callback_path_keys, per_output
from kspec.training import atomic_callbacks


def _keras_error(path: tuple[str | int, ...], exc: Exception) -> SpecErrors:
    return SpecErrors([SpecError(" ".join(str(exc).split())[:400], path, "keras-rejected")])


def make_optimizer(spec: TrainSpec, value: Any = None, path: tuple[str | int, ...] | None = None) -> Any:
    """A fresh optimizer from the spec (or `value`), with the spec's schedule and gradient clipping."""
    import keras

    path = path or ("train", "optimizer")
    try:
        opt = keras.optimizers.get(to_keras_config(spec.optimizer if value is None else value))
        config = opt.get_config()
        for key in ("clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(spec, key) is not None:
                config[key] = getattr(spec, key)
        if spec.schedule is not None:
            config["learning_rate"] = keras.optimizers.schedules.deserialize(to_keras_config(spec.schedule))
        return type(opt).from_config(config)
    except (ValueError, TypeError) as exc:
        raise _keras_error(path, exc) from None


def make_loss(value: Any, path: tuple[str | int, ...], defined: Mapping[str, LossSpec] | None = None) -> Any:
    """A Keras loss from an identifier or `{type: ..., ...}`, or from a loss of the spec's `losses:` (`defined`)
    named so (`contrastive`, `{type: contrastive, margin: 2}`)."""
    import keras

    found = reference(value, defined or {})
    try:
        if found is not None:
            from kspec.compiler.spec_losses import FormulaLoss

            name, overrides = found
            loss = (defined or {})[name]
            return FormulaLoss(loss.formula, {**loss.params, **overrides}, name=name)
        return keras.losses.get(to_keras_config(value))
    except (ValueError, TypeError) as exc:
        raise _keras_error(path, exc) from None


def _metric(value: Any, defined: Mapping[str, LossSpec] | None, path: tuple[str | int, ...]) -> Any:
    """A metric for `Model.compile`: a name as given, a Keras metric object, or a fresh `FormulaMetric` for a loss of
    `losses:`."""
    found = reference(value, defined or {})
    if found is None:
        if not isinstance(value, dict):
            return value  # a name: `compile` resolves "accuracy" by the loss and the targets
        import keras

        # an object, not its config: `compile` reads a dict in its metrics list as {output name: metric}, so a config
        # with arguments (`{type: Precision, thresholds: 0.5}`) failed as "Could not interpret metric identifier: 0.5"
        try:
            return keras.metrics.get(to_keras_config(value))
        except (ValueError, TypeError) as exc:
            raise _keras_error(path, exc) from None
    from kspec.compiler.spec_losses import FormulaMetric

    name, overrides = found
    loss = (defined or {})[name]
    return FormulaMetric(loss.formula, {**loss.params, **overrides}, name=name)


def compile_args(
    spec: TrainSpec, outputs: list[str] | None = None, defined: Mapping[str, LossSpec] | None = None
) -> dict[str, Any]:
    """`optimizer`, `loss`, `metrics`, `loss_weights` for `Model.compile`; per-output losses and weights given by
    output name become lists in the model's output order (`outputs`, as the spec names them); with several outputs,
    every output is measured with each of the spec's metrics; `defined` are the spec's `losses:`."""
    weights: Any = spec.loss_weights
    if per_output(spec.loss) and reference(spec.loss, defined or {}) is None and outputs is not None:
        assert isinstance(spec.loss, dict)
        loss: Any = [make_loss(spec.loss[o], ("train", "loss", o), defined) for o in outputs]
    else:
        loss = make_loss(spec.loss, ("train", "loss"), defined)
    if isinstance(weights, dict) and outputs is not None:
        weights = [float(weights.get(o, 1.0)) for o in outputs]
    at = [("train", "metrics", i) for i in range(len(spec.metrics))]
    metrics: Any = [_metric(m, defined, p) for m, p in zip(spec.metrics, at, strict=True)]
    if metrics and outputs is not None and len(outputs) > 1:  # Keras wants them per output: each output gets all
        metrics = [[_metric(m, defined, p) for m, p in zip(spec.metrics, at, strict=True)] for _ in outputs]
    return {
        "optimizer": make_optimizer(spec),
        "loss": loss,
        "metrics": metrics,
        "loss_weights": weights,
    }


def user_callbacks(spec: TrainSpec, run_dir: Path, resuming: bool = False) -> list[Any]:
    """The spec's Keras callbacks; file arguments stay inside the run folder, and a resumed `CSVLogger` appends."""
    import keras

    out = []
    for i, entry in enumerate(spec.callbacks):
        kind, args = (entry, {}) if isinstance(entry, str) else (str(entry.get("type")), dict(entry))
        args.pop("type", None)
        if kind not in CALLBACK_PATHS:
            from kspec.errors import did_you_mean

            raise SpecErrors(
                [
                    SpecError(
                        f"'{kind}' is not a callback kspec can use",
                        ("train", "callbacks", i),
                        "unknown-object",
                        hint=did_you_mean(kind, CALLBACK_PATHS),
                    )
                ]
            )
        main = CALLBACK_PATHS[kind]
        for key in callback_path_keys(kind):
            if key != main and key not in args:
                continue
            value = args.get(key, kind.lower())
            try:
                if not isinstance(value, str):
                    raise data_paths.PathProblem(f"`{key}` must be a path", "use a path relative to the run folder")
                target = data_paths.resolve_inside(run_dir, value, allow_parent=False, where="the run folder")
            except data_paths.PathProblem as problem:
                raise SpecErrors(
                    [
                        SpecError(
                            f"{problem.message}; `{key}` must stay inside the run folder",
                            ("train", "callbacks", i, key),
                            "train-error",
                            hint=problem.hint,
                        )
                    ]
                ) from None
            args[key] = str(target)
        if kind == "CSVLogger" and resuming:
            args.setdefault("append", True)  # keep the rows of the epochs before the interruption
        try:
            out.append(atomic_callbacks.make(kind, args))
        except (ValueError, TypeError) as exc:
            raise _keras_error(("train", "callbacks", i), exc) from None
    if spec.lr_table:
        out.append(keras.callbacks.LearningRateScheduler(table_schedule(spec.lr_table)))
    return out


def table_schedule(table: dict[int, float]) -> Any:
    """`lr_table` as a LearningRateScheduler function: the rate of the last entry at or before the epoch (before the
    first entry, the optimizer's own rate)."""
    steps = sorted(table.items())

    def schedule(epoch: int, lr: float) -> float:
        rate = lr
        for start, value in steps:
            if epoch >= start:
                rate = value
        return float(rate)

    return schedule


#: Layer families for which `jit_compile: auto` leaves XLA off on a CPU, and why (measured by
#: benchmarks/bench_train.py: the ch4 CNN trained ~6x slower with XLA, from dropout's random numbers and convolution
#: gradients). Dense and recurrent models gain from XLA and keep it: the ch5 LSTM trains ~2x faster with it (at the
#: price of ~130 MiB more peak memory than the book's script: the compiled step's scratch buffer and the compiler's
#: state, benchmarks/README.md "Round five"; `jit_compile: false` trades that speed back for memory).
