"""Stage train: the `Session` a recipe trains in (spec, models, prepared data, run folder) and its shared helpers.

Recipes (`kspec.training.recipes`) take a `Session` and return the Keras-style history (`{"loss": [...], ...}`),
complete across `--resume`. Keras and TensorFlow are imported inside the methods.
"""

from __future__ import annotations

import contextvars
import itertools
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kspec.data.pipeline import augmentation_layers, pipeline
from kspec.data.registry import Arrays, Splits
from kspec.errors import SpecError, SpecErrors
from kspec.lang.train_spec import TrainSpec
from kspec.training import memory, runs
from kspec.training.class_weights import class_table

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from kspec.compiler.functional import Compiled

#: called after each saved epoch with the epoch's number (from 1) and logs (`trainer.train(on_epoch=...)`)
EpochHook = Callable[[int, dict[str, float]], None]
EPOCH_HOOK: contextvars.ContextVar[EpochHook | None] = contextvars.ContextVar("kspec_epoch_hook", default=None)


_CPU_XLA_OFF = {
    "Conv": "Conv layers train faster without it",
    "Dropout": "Dropout layers train faster without it",
}


def _cpu_xla_off(model: keras.Model) -> str | None:
    """Why `auto` leaves XLA off for `model` when no GPU is visible (its first such layer family), else None."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return None
    for layer in _all_layers(model):
        name = type(layer).__name__
        for family, why in _CPU_XLA_OFF.items():
            if family in name:
                return why
    return None


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("tensorflow")


def _all_layers(model: Any) -> list[Any]:
    out = []
    for layer in getattr(model, "layers", []):
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(_all_layers(layer))
    return out


def resident_unsupported(s: Session) -> str | None:
    """Why the resident feed cannot train this session (None: it can)."""
    if s.spec.distribute != "none":
        return "tf.distribute"
    if s.spec.steps_per_epoch:
        return "steps_per_epoch"
    if s.splits.augment:
        return "augmentation"
    return None


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
    epochs_done: int = 0
    #: a callback (EarlyStopping) ended the training; a resumed run then trains no further epoch
    stopped: bool = False
    #: set by a recipe that evaluates its own way (multi_worker: `Model.evaluate` fails there; the resident feed: no
    #: tf.data pipeline and no extra XLA compilation): a split -> its test metrics
    evaluator: Callable[[Arrays], dict[str, float]] | None = None
    #: whether this process writes the run folder (False: a non-chief worker under `multi_worker`, whose run folder
    #: is a temporary one and whose resumed state comes from the chief's checkpoint, sent over the collective)
    chief: bool = True
    _epoch: Any = None
    _stream: Any = None
    _saved_logs: dict[str, float] | None = None

    @property
    def model(self) -> keras.Model:
        return self.compiled.models[self.name]

    def dataset(self, part: Arrays | None, training: bool = False) -> tf.data.Dataset | None:
        """A split's pipeline; for training, its order follows (seed, epoch) so a resumed run sees the same batches.

        Without `steps_per_epoch` each epoch is one pass drawn from (seed, epoch) (`begin_epoch` sets the epoch).
        With it, the epochs cut one endless stream of passes (pass k drawn from (seed, k)); a resumed run starts the
        stream where `epochs_done` epochs ended.
        """
        if part is None:
            return None
        if training and part is self.splits.train and not _is_tensor(part.x):
            part = self.splits.train = part.to_tensors()  # one copy of the training data, not NumPy + tensor
        augment = augmentation_layers(self.splits.augment) if training and self.splits.augment else None
        common: dict[str, Any] = {
            "batch_size": self.spec.batch_size,
            "shuffle": training and self.spec.shuffle,
            "seed": self.spec.seed,
            "one_hot": self.splits.one_hot,
            "augment": augment,
        }
        if not training:
            return pipeline(part, **common)
        if self.spec.steps_per_epoch:
            first, skip = divmod(self.epochs_done * self.spec.steps_per_epoch, self.steps())
            ds = pipeline(part, **common, passes_from=first)
            return ds.skip(skip) if skip else ds
        return pipeline(part, **common, epoch=self.epoch_variable())

    def epoch_variable(self) -> Any:
        if self._epoch is None:
            import tensorflow as tf

            self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="kspec_epoch")
        return self._epoch

    def begin_epoch(self, epoch: int) -> None:
        """Before an epoch's first batch is drawn: the training data's order for this epoch follows from it."""
        self.epoch_variable().assign(epoch)

    def epoch_batches(self, ds: tf.data.Dataset, epoch: int) -> Iterator[Any]:
        """The batches of one epoch for the custom loops (a slice of the stream with `steps_per_epoch`)."""
        self.begin_epoch(epoch)
        if self.spec.steps_per_epoch:
            if self._stream is None:
                self._stream = iter(ds)
            return itertools.islice(self._stream, self.spec.steps_per_epoch)
        return iter(ds)

    def end_epoch(self) -> int:
        """The epoch count training runs to: the spec's, or where a callback stopped it (restored from a checkpoint)."""
        return self.epochs_done if self.stopped else self.spec.epochs

    def steps(self) -> int:
        return math.ceil(len(self.splits.train) / self.spec.batch_size)

    def steps_in_epoch(self) -> int:
        return self.spec.steps_per_epoch or self.steps()

    def steps_per_execution(self) -> int:
        if self.spec.steps_per_execution != "auto":
            return int(self.spec.steps_per_execution)
        if self.spec.distribute != "none":  # Keras 3.15's multi-step loop fails to trace under tf.distribute
            return 1
        if self.spec.steps_per_epoch:  # a call must not run past the epoch's end: take a divisor of it
            n = self.spec.steps_per_epoch
            return max(d for d in range(1, min(n, 64) + 1) if n % d == 0)
        return max(1, min(self.steps(), 64))  # one compiled call covers up to 64 batches

    def class_weight(self) -> dict[int, float] | None:
        """The spec's class weights for every class of the training targets (classes it does not name: 1.0)."""
        cw, y = self.spec.class_weight, self.splits.train.y
        return dict(enumerate(class_table(cw, y))) if cw and y is not None else None

    def resident_feed(self) -> bool:
        """Whether `fit` runs on the resident feed (`feed: auto` picks it wherever it can serve the spec)."""
        if self.spec.feed == "tf.data":
            return False
        why = resident_unsupported(self)
        if why and self.spec.feed == "resident":  # the static checks refuse these; data may still surprise
            raise SpecErrors([SpecError(f"`feed: resident` cannot serve {why}", ("train", "feed"), "train-error")])
        return why is None

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
            return False
        why = _cpu_xla_off(model)
        if why:
            self.notice(f"XLA (jit_compile) is off on this CPU: {why}")
            return False
        return True

    def notice(self, text: str) -> None:
        self.notices.append(text)
        print(f"kspec: {text}", file=sys.stderr)

    def verbose(self) -> Any:
        return "auto" if self.spec.verbose == "auto" else self.spec.verbose

    def log_epoch(self, logs: dict[str, Any]) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        runs.write_history(self.run_dir, self.history)
        self._saved_logs = {k: float(v) for k, v in logs.items()}

    def epoch_saved(self) -> None:
        """After the epoch's checkpoint is written: the `on_epoch` hook may stop the run (a pruned trial keeps it)."""
        hook = EPOCH_HOOK.get()
        if hook is not None and self._saved_logs is not None:
            logs, self._saved_logs = self._saved_logs, None
            hook(max((len(v) for v in self.history.values()), default=0), logs)

    def test_metrics(self) -> dict[str, float]:
        test = self.splits.test
        if test is None or self.spec.recipe == "gan" or test.y is None:
            return {}
        if self.evaluator is not None:
            return self.evaluator(test)
        result = self.model.evaluate(self.dataset(test), verbose=0, return_dict=True)
        return {k: float(v) for k, v in result.items()}

    def save_models(self) -> None:
        names = [self.name] if self.spec.recipe != "gan" else list(self.compiled.models)
        for name in names:
            target = self.run_dir / ("model.keras" if name == self.name else f"{name}.keras")
            with runs.atomic_path_alone(target) as tmp, memory.weights_through_disk():
                self.compiled.models[name].save(tmp)
