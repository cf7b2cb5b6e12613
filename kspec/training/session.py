"""Stage 6, train: the recipes (`fit`, `autoencoder`, `tape`, `gan`), one function each in `RECIPES`. Imports keras.

A recipe takes a `Session` (spec, models, prepared data, run folder) and returns the Keras-style history
(`{"loss": [...], "val_loss": [...], ...}`), complete across `--resume`.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import data_paths, manifest, resident, runs
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


def user_callbacks(spec: TrainSpec, run_dir: Path, resuming: bool = False) -> list[Any]:
    """The spec's Keras callbacks; file arguments stay inside the run folder, and a resumed `CSVLogger` appends."""
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
        if kind == "CSVLogger" and resuming:
            args.setdefault("append", True)  # keep the rows of the epochs before the interruption
        try:
            out.append(getattr(keras.callbacks, kind)(**args))
        except (ValueError, TypeError) as exc:
            raise _keras_error(("train", "callbacks", i), exc) from None
    return out


#: Layer families for which `jit_compile: auto` leaves XLA off on a CPU, and why (measured by
#: benchmarks/bench_train.py: the ch4 CNN trained ~6x slower with XLA, from dropout's random numbers and convolution
#: gradients). Dense and recurrent models gain from XLA and keep it: the ch5 LSTM trains ~2x faster with it (at the
#: price of ~250 MB more peak memory for the compilation; `jit_compile: false` trades that speed back for memory).
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
    #: set by a recipe that evaluates its own way (multi_worker: `Model.evaluate` fails there; the resident feed: no
    #: tf.data pipeline and no extra XLA compilation): a split -> its test metrics
    evaluator: Callable[[Arrays], dict[str, float]] | None = None
    _epoch: Any = None
    _stream: Any = None

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
        return dict(enumerate(resident.class_table(cw, y))) if cw and y is not None else None

    def resident_feed(self) -> bool:
        """Whether `fit` runs on the resident feed (`feed: auto` picks it wherever it can serve the spec)."""
        if self.spec.feed == "tf.data":
            return False
        why = resident.unsupported(self)
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
            with runs.atomic_path(target, ".keras") as tmp:
                self.compiled.models[name].save(tmp)


class _Unusable(Exception):
    """A checkpoint that cannot be restored (damaged, incomplete or made for other variables)."""


class Checkpoint:
    """Epoch checkpoints under `<run>/checkpoint/`, the state `--resume` continues from.

    After epoch n: `epoch-0000n.npz` holds every variable of the groups given (models with their random-generator
    states, optimizers with their step counters, extra generators), then `epoch-0000n.json` records the epoch, the
    history so far and the archive's SHA-256. Both are written atomically and the JSON last, so a kill at any moment
    leaves the previous checkpoint intact; the last two are kept, and `restore` falls back to the older one (with a
    warning) when the newer one is damaged.
    """

    VERSION = 1

    def __init__(self, session: Session, groups: dict[str, list[Any]]) -> None:
        self.session = session
        self.root = session.run_dir / runs.CHECKPOINTS
        self.groups = groups

    def _arrays(self) -> dict[str, Any]:
        return {f"{g}.{i}": v.numpy() for g, vs in self.groups.items() for i, v in enumerate(vs)}

    def save(self, epochs_done: int) -> None:
        import numpy as np

        stem = f"epoch-{epochs_done:05d}"
        with runs.atomic_path(self.root / f"{stem}.npz", ".npz") as tmp:
            np.savez(tmp, **self._arrays())
            size, digest = tmp.stat().st_size, manifest.sha256_of(tmp)
        meta = {
            "version": self.VERSION,
            "epoch": epochs_done,
            "file": f"{stem}.npz",
            "sha256": digest,
            "size": size,
            "variables": {g: len(vs) for g, vs in self.groups.items()},
            "history": self.session.history,
        }
        runs.write_json(self.root / f"{stem}.json", meta)
        self._prune(epochs_done)

    def _epochs(self) -> list[int]:
        """Epochs with a checkpoint record, newest first."""
        found = []
        for path in self.root.glob("epoch-*.json"):
            digits = path.stem.removeprefix("epoch-")
            if digits.isdigit():
                found.append(int(digits))
        return sorted(found, reverse=True)

    def _prune(self, current: int) -> None:
        older = [e for e in self._epochs() if e < current]
        keep = {f"epoch-{e:05d}{ext}" for e in (current, *older[:1]) for ext in (".npz", ".json")}
        for path in self.root.iterdir():
            if path.is_file() and path.name.startswith("epoch-") and path.name not in keep:
                path.unlink(missing_ok=True)
        runs.fsync_dir(self.root)

    def _load(self, epoch: int) -> tuple[dict[str, list[float]], dict[str, Any]]:
        import json
        import zipfile
        import zlib

        import numpy as np

        meta_path = self.root / f"epoch-{epoch:05d}.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            archive = self.root / str(meta["file"])
            if meta.get("version") != self.VERSION or meta["epoch"] != epoch or archive.parent != self.root:
                raise _Unusable("an unknown record")
            if meta["variables"] != {g: len(vs) for g, vs in self.groups.items()}:
                raise _Unusable("made for other models or optimizers")
            if not archive.is_file():
                raise _Unusable(f"{archive.name} is missing")
            if archive.stat().st_size != meta["size"] or manifest.sha256_of(archive) != meta["sha256"]:
                raise _Unusable(f"{archive.name} does not match its recorded SHA-256")
            with np.load(archive, allow_pickle=False) as saved:
                arrays = {k: saved[k] for k in saved.files}
            history = {
                str(k): [float("nan") if v is None else float(v) for v in vals] for k, vals in meta["history"].items()
            }
        except _Unusable:
            raise
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            EOFError,
            zipfile.BadZipFile,
            zlib.error,
        ) as exc:
            raise _Unusable(f"{type(exc).__name__}") from None
        for g, vs in self.groups.items():
            for i, v in enumerate(vs):
                a = arrays.get(f"{g}.{i}")
                if a is None or tuple(a.shape) != tuple(v.shape):
                    raise _Unusable(f"variable {g}.{i} is missing or has another shape")
        return history, arrays

    def restore(self) -> int:
        """Load the newest usable checkpoint into the variables; sets the session's history and `epochs_done`.

        Returns:
            The number of completed epochs (0 when there is no checkpoint).

        Raises:
            TrainingError: there are checkpoints, but none can be used.
        """
        epochs = self._epochs()
        for n, epoch in enumerate(epochs):
            try:
                history, arrays = self._load(epoch)
            except _Unusable as exc:
                nxt = f"falling back to epoch {epochs[n + 1]}" if n + 1 < len(epochs) else "no older one is left"
                self.session.notice(f"checkpoint epoch-{epoch:05d} is unusable ({exc}); {nxt}")
                continue
            for g, vs in self.groups.items():
                for i, v in enumerate(vs):
                    v.assign(arrays[f"{g}.{i}"])
            self.session.history = history
            self.session.epochs_done = epoch
            runs.write_history(self.session.run_dir, history)  # drop epochs logged after this checkpoint
            self.session.notice(f"resuming {self.session.run_dir} after epoch {epoch} of {self.session.spec.epochs}")
            return epoch
        if epochs:
            raise runs.TrainingError(
                f"no usable checkpoint in {self.root}; pass --restart to train this run again from the start"
            )
        return 0


def remove_checkpoints(run_dir: Path) -> None:
    """Once a run is finished and its manifest written (all at once: a kill cannot leave half a checkpoint)."""
    runs.remove_tree(run_dir / runs.CHECKPOINTS)


class _EpochLog:
    """A Keras callback: sets the epoch for the data order, then writes history and the checkpoint after the epoch."""

    def __new__(cls, session: Session, checkpoint: Checkpoint) -> Any:
        import keras

        class EpochLog(keras.callbacks.Callback):  # type: ignore[misc]
            def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                session.begin_epoch(epoch)

            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                session.log_epoch(logs or {})  # history first: a kill before the checkpoint repeats this epoch
                checkpoint.save(epoch + 1)

        return EpochLog()


def _xla_failure(exc: Exception) -> bool:
    text = str(exc)
    return any(k in text for k in ("XLA", "xla", "jit_compile", "JIT", "not supported by XLA", "Unimplemented"))


@_recipe("fit")
@_recipe("autoencoder")
def fit(s: Session) -> dict[str, list[float]]:
    """`Model.compile`, then `resident.fit` (or `Model.fit` on tf.data where the spec needs it), with XLA where it
    pays and many steps per compiled call; resumable per epoch."""
    import keras

    if s.spec.distribute == "multi_worker":  # Keras 3's fit fails under MultiWorkerMirroredStrategy (keras#20585)
        from .loops import tape

        with s.compiled.freezing(s.name):
            return tape(s)
    with s.compiled.freezing(s.name) as model:
        start_state = [v.numpy() for v in model.variables]
        jit = s.jit(model)
        while True:
            model.compile(**compile_args(s.spec), jit_compile=jit, steps_per_execution=s.steps_per_execution())
            model.optimizer.build(model.trainable_variables)  # so that a checkpoint can fill its slots
            ckpt = Checkpoint(s, {"model": list(model.variables), "optimizer": list(model.optimizer.variables)})
            start = ckpt.restore() if s.resuming else 0
            # the spec's callbacks end an epoch before the checkpoint does (a ReduceLROnPlateau change is saved)
            callbacks = user_callbacks(s.spec, s.run_dir, s.resuming)
            if s.spec.tensorboard:
                callbacks.append(keras.callbacks.TensorBoard(str(s.run_dir / "tensorboard")))
            callbacks.append(_EpochLog(s, ckpt))
            try:
                if s.resident_feed():
                    resident.fit(s, model, jit, callbacks, start)
                    return s.history
                model.fit(
                    s.dataset(s.splits.train, training=True),
                    validation_data=s.dataset(s.splits.validation),
                    epochs=s.spec.epochs,
                    initial_epoch=start,
                    steps_per_epoch=s.spec.steps_per_epoch,
                    shuffle=False,
                    class_weight=s.class_weight(),
                    callbacks=callbacks,
                    verbose=s.verbose(),
                )
                return s.history
            except Exception as exc:  # XLA may refuse an op only when it compiles the first step
                if not jit or not _xla_failure(exc) or len(s.history.get("loss", [])) > start:
                    raise
                s.notice(f"XLA could not compile this model ({type(exc).__name__}); training without jit_compile")
                jit = False
                for var, value in zip(model.variables, start_state, strict=True):
                    var.assign(value)


from . import loops as _loops  # noqa: E402,F401  (registers the `tape` and `gan` recipes)
