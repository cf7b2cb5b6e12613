"""Stage 6, train: the recipes (`fit`, `autoencoder`, `tape`, `gan`), one function each in `RECIPES`. Imports keras.

A recipe takes a `Session` (spec, models, prepared data, run folder) and returns the Keras-style history
(`{"loss": [...], "val_loss": [...], ...}`), complete across `--resume`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import data_paths, runs
from .compiler import to_keras_config
from .data import Arrays, Splits, augmentation_layers, pipeline
from .errors import SpecError, SpecErrors
from .spec_train import CALLBACK_PATHS, TrainSpec

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from .compiler import Compiled

Recipe = Callable[["Session"], dict[str, list[float]]]
RECIPES: dict[str, Recipe] = {}


def _recipe(name: str) -> Callable[[Recipe], Recipe]:
    def deco(fn: Recipe) -> Recipe:
        RECIPES[name] = fn
        return fn

    return deco


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


def compile_args(spec: TrainSpec) -> dict[str, Any]:
    """`optimizer`, `loss`, `metrics`, `loss_weights` for `Model.compile`."""
    import keras

    try:
        loss = keras.losses.get(to_keras_config(spec.loss))
    except (ValueError, TypeError) as exc:
        raise _keras_error(("train", "loss"), exc) from None
    return {
        "optimizer": make_optimizer(spec),
        "loss": loss,
        "metrics": [to_keras_config(m) for m in spec.metrics],
        "loss_weights": spec.loss_weights,
    }


def user_callbacks(spec: TrainSpec, run_dir: Path) -> list[Any]:
    import keras

    out = []
    for i, entry in enumerate(spec.callbacks):
        kind, args = (entry, {}) if isinstance(entry, str) else (str(entry.get("type")), dict(entry))
        args.pop("type", None)
        if kind not in CALLBACK_PATHS:
            from .errors import did_you_mean

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
        key = CALLBACK_PATHS[kind]
        if key:
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
        try:
            out.append(getattr(keras.callbacks, kind)(**args))
        except (ValueError, TypeError) as exc:
            raise _keras_error(("train", "callbacks", i), exc) from None
    return out


@dataclass
class Session:
    """Everything a recipe needs; helpers for the parts recipes share."""

    spec: TrainSpec
    compiled: Compiled
    name: str
    splits: Splits
    run_dir: Path
    resuming: bool
    history: dict[str, list[float]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    @property
    def model(self) -> keras.Model:
        return self.compiled.models[self.name]

    def dataset(self, part: Arrays | None, training: bool = False) -> tf.data.Dataset | None:
        if part is None:
            return None
        augment = augmentation_layers(self.splits.augment) if training and self.splits.augment else None
        ds = pipeline(
            part,
            batch_size=self.spec.batch_size,
            shuffle=training and self.spec.shuffle,
            seed=self.spec.seed,
            one_hot=self.splits.one_hot,
            augment=augment,
        )
        if training and (self.spec.steps_per_epoch or 0) > self.steps():
            ds = ds.repeat()  # the book's generator-fed fit: more steps per epoch than one pass holds
        return ds

    def steps(self) -> int:
        return math.ceil(len(self.splits.train) / self.spec.batch_size)

    def steps_per_execution(self) -> int:
        if self.spec.steps_per_execution != "auto":
            return int(self.spec.steps_per_execution)
        if self.spec.distribute != "none":  # Keras 3.15's multi-step loop fails to trace under tf.distribute
            return 1
        if self.spec.steps_per_epoch:  # a call must not run past the epoch's end: take a divisor of it
            n = self.spec.steps_per_epoch
            return max(d for d in range(1, min(n, 64) + 1) if n % d == 0)
        return max(1, min(self.steps(), 64))  # one compiled call covers up to 64 batches

    def jit(self, model: keras.Model) -> bool:
        if self.spec.jit_compile != "auto":
            return bool(self.spec.jit_compile)
        from keras.src.trainers.trainer import model_supports_jit

        if self.spec.distribute != "none":
            self.notice("XLA (jit_compile) is off under tf.distribute (as Keras does)")
            return False
        ok = bool(model_supports_jit(model))
        if not ok:
            self.notice("XLA (jit_compile) is off: a layer of this model or op determinism does not support it")
        return ok

    def notice(self, text: str) -> None:
        self.notices.append(text)
        print(f"kspec: {text}", file=sys.stderr)

    def verbose(self) -> Any:
        return "auto" if self.spec.verbose == "auto" else self.spec.verbose

    def previous_history(self) -> dict[str, list[float]]:
        path = self.run_dir / "history.json"
        return runs.read_json(path) if self.resuming and path.exists() else {}

    def log_epoch(self, logs: dict[str, Any]) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        runs.write_history(self.run_dir, self.history)

    def test_metrics(self) -> dict[str, float]:
        test = self.splits.test
        if test is None or self.spec.recipe == "gan" or test.y is None:
            return {}
        result = self.model.evaluate(self.dataset(test), verbose=0, return_dict=True)
        return {k: float(v) for k, v in result.items()}

    def save_models(self) -> None:
        names = [self.name] if self.spec.recipe != "gan" else list(self.compiled.models)
        for name in names:
            target = self.run_dir / ("model.keras" if name == self.name else f"{name}.keras")
            with runs.atomic_path(target, ".keras") as tmp:
                self.compiled.models[name].save(tmp)


class _EpochLog:
    """A Keras callback writing history.json/history.csv atomically after every epoch."""

    def __new__(cls, session: Session) -> Any:
        import keras

        class EpochLog(keras.callbacks.Callback):  # type: ignore[misc]
            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                session.log_epoch(logs or {})

        return EpochLog()


def _xla_failure(exc: Exception) -> bool:
    text = str(exc)
    return any(k in text for k in ("XLA", "xla", "jit_compile", "JIT", "not supported by XLA", "Unimplemented"))


@_recipe("fit")
@_recipe("autoencoder")
def fit(s: Session) -> dict[str, list[float]]:
    """`Model.compile` + `Model.fit` on tf.data, with XLA and steps_per_execution by default."""
    import keras

    backup = s.run_dir / "checkpoint"
    meta = backup / "training_metadata.json"
    epochs_done = int(runs.read_json(meta)["epoch"]) if s.resuming and meta.exists() else 0
    s.history = {k: v[:epochs_done] for k, v in s.previous_history().items()}
    with s.compiled.freezing(s.name) as model:
        start_weights = model.get_weights()
        jit = s.jit(model)
        while True:
            model.compile(**compile_args(s.spec), jit_compile=jit, steps_per_execution=s.steps_per_execution())
            # history first, then the backup: a kill between them leaves history one epoch ahead, which resume trims
            callbacks = [
                _EpochLog(s),
                keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True),
                *user_callbacks(s.spec, s.run_dir),
            ]
            if s.spec.tensorboard:
                callbacks.append(keras.callbacks.TensorBoard(str(s.run_dir / "tensorboard")))
            try:
                model.fit(
                    s.dataset(s.splits.train, training=True),
                    validation_data=s.dataset(s.splits.validation),
                    epochs=s.spec.epochs,
                    steps_per_epoch=s.spec.steps_per_epoch,
                    shuffle=False,
                    class_weight=s.spec.class_weight,
                    callbacks=callbacks,
                    verbose=s.verbose(),
                )
                return s.history
            except Exception as exc:  # XLA may refuse an op only when it compiles the first step
                if not jit or not _xla_failure(exc) or len(s.history.get("loss", [])) > epochs_done:
                    raise
                s.notice(f"XLA could not compile this model ({type(exc).__name__}); training without jit_compile")
                jit = False
                model.set_weights(start_weights)


from . import loops as _loops  # noqa: E402,F401  (registers the `tape` and `gan` recipes)
