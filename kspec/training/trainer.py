"""Stage 6, train: a resolved spec -> prepared data, compiled models, a recipe run, and a run folder. Imports keras.

`train` is what `kspec train` calls: seeds and switches first (mixed precision, determinism, distribution), then
data and models, a shape check of data against the model before any step, the recipe from `kspec.recipes`, and
finally the saved model, history, test metrics, plots and the one-line summary.
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from kspec.data.steps import ModelShapes, Splits, prepare
from kspec.errors import SpecError, SpecErrors
from kspec.lang.train_spec import TrainSpec
from kspec.training import manifest, runs
from kspec.training.objects import make_optimizer
from kspec.training.recipes import RECIPES
from kspec.training.runs import RunResult, TrainingError
from kspec.training.session import Session

if TYPE_CHECKING:
    import keras

    from kspec.analysis.graph import Resolved
    from kspec.compiler.functional import Compiled

__all__ = ["RunResult", "TrainingError", "evaluate", "train"]

_SPARSE_LOSSES = ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy")
_CATEGORICAL_LOSSES = ("categorical_crossentropy", "CategoricalCrossentropy")


def _train_spec(resolved: Resolved) -> TrainSpec:
    spec = resolved.spec.train
    if spec is None:
        _fail("the spec has no `train:` section", (), hint="add e.g. train: {loss: categorical_crossentropy}")
    if resolved.spec.data is None:
        _fail("the spec has no `data:` section", (), hint="add e.g. data: {source: digits}")
    assert spec is not None
    return spec


def _fail(message: str, path: tuple[str | int, ...], code: str = "train-error", hint: str | None = None) -> NoReturn:
    raise SpecErrors([SpecError(message, path, code, hint=hint)])


def _setup(spec: TrainSpec) -> tuple[Any, bool]:
    """Distribution strategy, seeds, determinism, precision policy.

    Returns:
        The strategy's scope (or a null context), and whether this process is the chief (writes the run folder):
        always, except the workers other than worker 0 (or the `chief` task) under `multi_worker`.
    """
    import keras
    import tensorflow as tf

    scope: Any = contextlib.nullcontext()
    chief = True
    if spec.distribute == "multi_worker":  # first: the strategy configures the runtime's collective ops
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        scope = strategy.scope()
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
        scope = tf.distribute.MirroredStrategy().scope()
    return scope, chief


def _disable_op_determinism() -> None:
    """Undo an earlier run's `enable_op_determinism` (TensorFlow 2.21 has no public call for it)."""
    from tensorflow.python.framework import config as tf_config

    if getattr(tf_config, "is_op_determinism_enabled", lambda: False)():
        getattr(tf_config, "disable_op_determinism", lambda: None)()


def _check_distribute(spec: TrainSpec) -> None:
    """What the multi-worker loop (the `tape` loop, run distributed) does not do, refused before any training."""
    if spec.distribute != "multi_worker":
        return
    if spec.recipe == "gan":
        _fail(
            "recipe `gan` cannot run under `distribute: multi_worker`",
            ("train", "distribute"),
            hint="use distribute: none or mirrored for a GAN",
        )
    for key, on in (("callbacks", bool(spec.callbacks)), ("class_weight", bool(spec.class_weight))):
        if on:
            _fail(
                f"`{key}` is not supported under `distribute: multi_worker` (it trains with a custom loop, not fit)",
                ("train", key),
                hint=f"remove `{key}`, or use distribute: mirrored",
            )
    if spec.tensorboard:
        _fail(
            "`tensorboard` is not supported under `distribute: multi_worker`",
            ("train", "tensorboard"),
            hint="remove `tensorboard: true`, or use distribute: mirrored",
        )


def _check_tensorboard(spec: TrainSpec) -> None:
    """`tensorboard: true` needs the tensorboard package, which tensorflow-cpu does not install."""
    if spec.tensorboard and importlib.util.find_spec("tensorboard") is None:
        _fail(
            "`tensorboard: true` needs the tensorboard package, which is not installed",
            ("train", "tensorboard"),
            hint="pip install tensorboard, or remove `tensorboard: true`",
        )


def _model_name(spec: TrainSpec, compiled: Compiled) -> str:
    name = spec.model or (spec.gan_settings.generator if spec.recipe == "gan" else compiled.main)
    if name not in compiled.models:
        from kspec.errors import did_you_mean

        _fail(
            f"there is no model '{name}'",
            ("train", "model") if spec.model else ("train", "gan", "generator"),
            "unknown-model",
            hint=did_you_mean(name, compiled.models) or f"models: {', '.join(compiled.models)}",
        )
    return name


def _shapes_of(model: keras.Model) -> ModelShapes:
    def dims(t: Any) -> tuple[int, ...]:
        return tuple(int(d) if d is not None else 1 for d in t.shape[1:])

    return ModelShapes(dims(model.inputs[0]), dims(model.outputs[0]), str(model.inputs[0].dtype))


def _loss_name(spec: TrainSpec) -> str:
    loss = spec.loss
    return str(loss.get("type", "")) if isinstance(loss, dict) else str(loss or "")


def _fits(data: tuple[int, ...], model: tuple[int | None, ...]) -> bool:
    return len(data) == len(model) and all(m is None or m == d for d, m in zip(data, model, strict=True))


def check_shapes(spec: TrainSpec, splits: Splits, model: keras.Model, name: str) -> None:
    """Data against the model's first input and output before any training step; one-hot on the fly if needed."""
    x_shape = tuple(splits.train.x.shape[1:])
    want_x = tuple(model.inputs[0].shape[1:])
    errors = []
    if not _fits(x_shape, want_x):
        errors.append(
            SpecError(
                f"the data's inputs have shape {list(x_shape)} per example, but model '{name}' takes {list(want_x)}",
                ("data",),
                "data-mismatch",
                hint="add a preprocessing step (flatten, reshape, add_channel, ...)",
            )
        )
    if spec.recipe != "gan" and splits.train.y is not None:
        want_y = tuple(model.outputs[0].shape[1:])
        y_shape = (splits.one_hot,) if splits.one_hot else tuple(splits.train.y.shape[1:])
        loss = _loss_name(spec)
        integer = splits.train.y.dtype.kind in "iu" and y_shape in ((), (1,))
        if integer and loss in _CATEGORICAL_LOSSES and want_y[-1:] != (1,) and not splits.one_hot:
            splits.one_hot = int(want_y[-1] or 0)  # the loss wants one-hot rows: encode per batch, no stored copy
        elif splits.one_hot and loss in _SPARSE_LOSSES:
            splits.one_hot = None
        elif not (
            _fits(y_shape, want_y)
            or (loss in _SPARSE_LOSSES and y_shape in ((), (1,)))
            or (y_shape == () and want_y == (1,))
        ):
            errors.append(
                SpecError(
                    f"the data's targets have shape {list(y_shape)} per example, but model '{name}' "
                    f"outputs {list(want_y)}",
                    ("data",),
                    "data-mismatch",
                    hint="one_hot or sparse labels, or a loss that fits the targets",
                )
            )
    if errors:
        raise SpecErrors(errors)


def _prepare_targets(spec: TrainSpec, splits: Splits) -> None:
    """The autoencoder recipe trains on inputs as targets; validation_split carves the end of the training split."""
    if spec.recipe == "autoencoder":
        for part in splits.named().values():
            part.y = part.x
        splits.one_hot = None
    if spec.validation_split and splits.validation is None:
        from kspec.data.steps import Arrays

        cut = len(splits.train) - max(1, round(len(splits.train) * spec.validation_split))
        tr = splits.train
        same = tr.y is tr.x

        def rows_of(rows: slice, copy: bool) -> Arrays:
            x = tr.x[rows].copy() if copy else tr.x[rows]
            y = x if same else None if tr.y is None else (tr.y[rows].copy() if copy else tr.y[rows])
            return Arrays(x, y)

        # the (small) validation part is copied, so the full arrays can be freed once training holds its tensors
        splits.validation = rows_of(slice(cut, None), copy=True)
        splits.train = rows_of(slice(None, cut), copy=False)
    elif spec.validation_split:
        _fail(
            "the data already has a validation split (a `split` step)",
            ("train", "validation_split"),
            hint="remove one of them",
        )
    if spec.validation_data == "test":
        splits.validation = splits.test
    elif spec.validation_data == "none":
        splits.validation = None


def _resolved_yaml(resolved: Resolved) -> str:
    import yaml

    return yaml.safe_dump(resolved.doc.data, sort_keys=False, allow_unicode=True)


def train(
    resolved: Resolved, *, out: Path | None = None, resume: Path | None = None, restart: bool = False
) -> RunResult:
    """Train the spec's main model (or GAN) and leave a run folder.

    Args:
        resolved: the lead's resolved spec (`kspec.load`), already checked.
        out: run folder to write (default `runs/<spec-name>/<timestamp>/`); it must not hold a run already.
        resume: a run folder to continue from its last completed epoch; the spec must be the one it was started with.
        restart: start over in the folder (`resume` or `out`), removing what the earlier run wrote there.

    Returns:
        The run folder and the one-line summary.

    Raises:
        SpecErrors: the data or train section does not fit the model (located).
        SpecChangedError: `resume` with a spec that differs from the run's (the message lists the changed paths).
        DataUnavailableError, TrainingError: environment problems, with a message saying what to do.
    """
    try:
        return _train(resolved, out, resume, restart)
    except SpecErrors as exc:
        raise SpecErrors([resolved.doc.locate(e) for e in exc.errors]) from None


def _run_folder(name: str, text: str, out: Path | None, resume: Path | None, restart: bool) -> tuple[Path, bool]:
    """The run folder and whether training continues in it (after checking that the spec did not change)."""
    if resume is None:
        run_dir = runs.new_run_dir(name, out=out)
        if runs.is_run(run_dir) and not restart:
            raise TrainingError(
                f"{run_dir} already holds a kspec run; pass --resume {run_dir} to continue it, or --restart to "
                "start over there"
            )
    else:
        run_dir = runs.resume_dir(resume)
    if restart:
        runs.clear_run(run_dir)
    if restart or resume is None:
        runs.write_spec(run_dir, text)
        return run_dir, False
    _same_spec(run_dir, text)
    runs.remove_temp_files(run_dir)  # what a kill left half-written; the files they were to replace are whole
    return run_dir, True


def _same_spec(run_dir: Path, text: str) -> None:
    """Refuse to resume with another spec than the run's, naming the dotted paths that differ."""
    import yaml

    try:
        stored, digest = runs.stored_spec(run_dir)
        if digest == runs.spec_hash(text) and runs.spec_hash(stored) == digest:
            return
        old = yaml.safe_load(stored)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise TrainingError(
            f"the spec saved in {run_dir / runs.SPEC_FILE} cannot be read; pass --restart to start over there"
        ) from None
    changes = runs.spec_changes(old, yaml.safe_load(text))
    if not changes and runs.spec_hash(stored) != digest:
        raise TrainingError(f"{run_dir / runs.SPEC_FILE} does not match the SHA-256 in its first line")
    if changes:
        raise runs.SpecChangedError(
            f"the spec differs from the one run {run_dir} was started with: {runs.describe_changes(changes)}; "
            "resume with the same spec (and --set values), or pass --restart to start over in that folder"
        )


def _prepare(resolved: Resolved, shapes: ModelShapes) -> Splits:
    """`data.prepare`, with unreadable data files (truncated, corrupt, wrong encoding) as a located data-error."""
    import csv
    import zipfile
    import zlib

    assert resolved.spec.data is not None
    source = resolved.spec.data.source
    try:
        return prepare(resolved.spec.data, resolved.doc.folder, shapes)
    except (OSError, EOFError, ValueError, IndexError, zipfile.BadZipFile, zlib.error, csv.Error) as exc:
        files = [
            str(getattr(source, key)) for key in ("path", "targets") if isinstance(getattr(source, key, None), str)
        ]
        if not files:
            raise
        from kspec.errors import shorten

        reason = " ".join(str(exc).split())[:120]
        _fail(
            f"cannot read the data file {' or '.join(shorten(f) for f in files)}: {type(exc).__name__}"
            + (f" ({shorten(reason, 120)})" if reason else ""),
            ("data", "source", "path"),
            "data-error",
            hint="the file looks truncated or damaged; copy it again",
        )


_NO_MULTI_WORKER_RESUME = "--resume under distribute: multi_worker is not supported; pass --restart to start over"


def _train(resolved: Resolved, out: Path | None, resume: Path | None, restart: bool) -> RunResult:
    spec = _train_spec(resolved)
    _check_distribute(spec)
    _check_tensorboard(spec)
    start = time.perf_counter()
    scope, chief = _setup(spec)
    if not chief:  # a multi-worker worker: trains in step with the chief, its run folder is a temporary one
        if resume is not None and not restart:
            raise TrainingError(_NO_MULTI_WORKER_RESUME)
        import shutil
        import tempfile

        run_dir = Path(tempfile.mkdtemp(prefix="kspec-worker-"))
        runs.write_spec(run_dir, _resolved_yaml(resolved))
        try:
            return _train_in(resolved, spec, scope, run_dir, False, start)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
    run_dir, resuming = _run_folder(resolved.spec.name, _resolved_yaml(resolved), out, resume, restart)
    if resuming and runs.is_finished(run_dir):
        return _finished(run_dir)
    if resuming and spec.distribute == "multi_worker":
        raise TrainingError(_NO_MULTI_WORKER_RESUME)
    return _train_in(resolved, spec, scope, run_dir, resuming, start)


def _train_in(
    resolved: Resolved, spec: TrainSpec, scope: Any, run_dir: Path, resuming: bool, start: float
) -> RunResult:
    from kspec.compiler.functional import build
    from kspec.training.checkpoint import remove_checkpoints

    with scope:
        compiled = build(resolved)
        name = _model_name(spec, compiled)
        # the data feeds the trained model, or for a GAN the discriminator (real samples)
        fed = spec.gan_settings.discriminator if spec.recipe == "gan" else name
        if fed not in compiled.models:
            _fail(f"there is no model '{fed}'", ("train", "gan", "discriminator"), "unknown-model")
        splits = _prepare(resolved, _shapes_of(compiled.models[fed]))
        _prepare_targets(spec, splits)
        check_shapes(spec, splits, compiled.models[fed], fed)
        session = Session(spec, compiled, name, splits, run_dir, resuming)
        history = RECIPES[spec.recipe](session)
    metrics = session.test_metrics() if spec.evaluate else {}
    runs.write_json(run_dir / "metrics.json", metrics)
    session.save_models()
    if spec.plots != "none":
        from kspec.training import plots

        plots.plot_run(run_dir, session)
    elapsed = time.perf_counter() - start
    summary = _summary(resolved.spec.name, history, metrics, elapsed, run_dir)
    runs.write_text(run_dir / "summary.txt", summary + "\n")
    manifest.write(run_dir)  # last: a run folder with a manifest is complete
    remove_checkpoints(run_dir)
    return RunResult(run_dir, summary, history, metrics)


def _finished(run_dir: Path) -> RunResult:
    """`--resume` of a run that already finished (e.g. killed as it exited): nothing to do, its stored results."""
    import sys

    print(f"kspec: the run in {run_dir} is already finished; nothing to resume", file=sys.stderr)
    try:
        summary = (run_dir / "summary.txt").read_text(encoding="utf-8").strip()
        history, metrics = runs.read_json(run_dir / "history.json"), runs.read_json(run_dir / "metrics.json")
    except (OSError, ValueError) as exc:
        raise TrainingError(
            f"the finished run in {run_dir} cannot be read ({type(exc).__name__}); `kspec verify {run_dir}` checks "
            "it, --restart trains it again"
        ) from None
    return RunResult(run_dir, summary, history, metrics)


def _summary(
    name: str, history: dict[str, list[float]], metrics: dict[str, float], seconds: float, run_dir: Path
) -> str:
    key = "val_loss" if history.get("val_loss") else "loss" if history.get("loss") else next(iter(history), "")
    values = history.get(key, [])
    best = ""
    if values:
        i = min(range(len(values)), key=lambda j: values[j])
        best = f"best epoch {i + 1}/{len(values)} ({key} {values[i]:.4g})"
    tested = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
    parts = [p for p in (best, f"test {tested}" if tested else "", f"{seconds:.1f} s", f"run {run_dir}") if p]
    return f"{name}: " + " · ".join(parts)


def evaluate(resolved: Resolved, model_path: Path) -> dict[str, float]:
    """Evaluate a saved model on the spec's test split (the validation split when there is no test split).

    Args:
        resolved: the spec the model was trained from (for its data and loss).
        model_path: a `.keras` file.

    Returns:
        Metric name -> value, as `model.evaluate(..., return_dict=True)` gives them.
    """
    import keras

    if not model_path.is_file():
        raise TrainingError(f"no model file {model_path}; pass a run folder or a .keras file")
    spec = _train_spec(resolved)
    try:
        model = keras.models.load_model(model_path, compile=True)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise TrainingError(
            f"cannot load {model_path} ({type(exc).__name__}); `kspec verify` checks a run folder against its manifest"
        ) from None
    try:
        splits = _prepare(resolved, _shapes_of(model))
        _prepare_targets(spec, splits)
        check_shapes(spec, splits, model, model.name)
    except SpecErrors as exc:
        raise SpecErrors([resolved.doc.locate(e) for e in exc.errors]) from None
    part = splits.test or splits.validation
    if part is None:
        raise TrainingError("the spec's data has no test or validation split to evaluate on")
    if model.optimizer is None or not getattr(model, "compiled_loss", True):
        model.compile(optimizer=make_optimizer(spec), loss=spec.loss, metrics=spec.metrics)
    from kspec.data.steps import pipeline

    result = model.evaluate(
        pipeline(part, batch_size=spec.batch_size, one_hot=splits.one_hot), verbose=0, return_dict=True
    )
    return {k: float(v) for k, v in result.items()}
