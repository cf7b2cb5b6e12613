"""Stage 6, train: a resolved spec -> prepared data, compiled models, a recipe run, and a run folder. Imports keras.

`train` is what `kspec train` calls: seeds and switches first (mixed precision, determinism, distribution), then
data and models, a shape check of data against the model before any step, the recipe from `kspec.recipes`, and
finally the saved model, history, test metrics, plots and the one-line summary.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kspec.data.registry import ModelShapes, Splits
from kspec.data.steps import prepare
from kspec.errors import SpecErrors
from kspec.lang.data_names import FedNames, fed_names
from kspec.lang.data_steps import StepEnv
from kspec.lang.train_spec import TrainSpec
from kspec.training import chief_says, interrupts, manifest, run_folder, runs, status
from kspec.training.memory import give_back, small_pages
from kspec.training.objects import compile_args
from kspec.training.preflight import (
    check_shapes,
    check_tensorboard,
    fail,
    prepare_targets,
    setup,
    shapes_of,
)
from kspec.training.recipes import RECIPES
from kspec.training.runs import RunResult, TrainingError
from kspec.training.session import EPOCH_HOOK, EpochHook, Session

if TYPE_CHECKING:
    from kspec.analysis.graph import Resolved
    from kspec.compiler.functional import Compiled

__all__ = ["RunResult", "TrainingError", "evaluate", "train"]


def _train_spec(resolved: Resolved) -> TrainSpec:
    spec = resolved.spec.train
    if spec is None:
        fail("the spec has no `train:` section", (), hint="add e.g. train: {loss: categorical_crossentropy}")
    if resolved.spec.data is None:
        fail("the spec has no `data:` section", (), hint="add e.g. data: {source: digits}")
    assert spec is not None
    return spec


def _model_name(spec: TrainSpec, compiled: Compiled) -> str:
    name = spec.model or (spec.gan_settings.generator if spec.recipe == "gan" else compiled.main)
    if name not in compiled.models:
        from kspec.errors import did_you_mean

        fail(
            f"there is no model '{name}'",
            ("train", "model") if spec.model else ("train", "gan", "generator"),
            "unknown-model",
            hint=did_you_mean(name, compiled.models) or f"models: {', '.join(compiled.models)}",
        )
    return name


def _resolved_yaml(resolved: Resolved) -> str:
    import yaml

    return yaml.safe_dump(resolved.doc.data, sort_keys=False, allow_unicode=True)


def train(
    resolved: Resolved,
    *,
    out: Path | None = None,
    resume: Path | None = None,
    restart: bool = False,
    on_epoch: EpochHook | None = None,
) -> RunResult:
    """Train the spec's main model (or GAN) and leave a run folder.

    Args:
        resolved: the lead's resolved spec (`kspec.load`), already checked.
        out: run folder to write (default `runs/<spec-name>/<timestamp>/`); it must not hold a run already.
        resume: a run folder to continue from its last completed epoch; the spec must be the one it was started with.
        restart: start over in the folder (`resume` or `out`), removing what the earlier run wrote there.
        on_epoch: called after every epoch with its number (from 1) and its logs, once they are saved; an exception
            it raises ends training there (`kspec tune` prunes trials so).

    Returns:
        The run folder and the one-line summary.

    Raises:
        SpecErrors: the data or train section does not fit the model (located).
        SpecChangedError: `resume` with a spec that differs from the run's (the message lists the changed paths).
        DataUnavailableError, TrainingError: environment problems, with a message saying what to do.
    """
    hook = EPOCH_HOOK.set(on_epoch)
    try:
        with small_pages():
            return _train(resolved, out, resume, restart)
    except SpecErrors as exc:
        raise SpecErrors([resolved.doc.locate(e) for e in exc.errors]) from None
    finally:
        EPOCH_HOOK.reset(hook)


def _fed(resolved: Resolved, name: str) -> tuple[StepEnv, FedNames | None, list[str] | None]:
    """For model `name` (the one the data feeds): the defaults steps take (`train.seed`, its input names), where the
    data's named arrays are written, and its output names as the spec writes them."""
    graph = resolved.models.get(name)
    train, data = resolved.spec.train, resolved.spec.data
    inputs = list(graph.inputs) if graph is not None else []
    env = StepEnv(seed=train.seed if train is not None else None, input_names=tuple(inputs))
    fed = fed_names(data, inputs) if data is not None and graph is not None else None
    return env, fed, (graph.output_names() if graph is not None else None)


def _prepare(resolved: Resolved, shapes: ModelShapes, env: StepEnv | None = None) -> Splits:
    """`data.prepare`, with unreadable data files (truncated, corrupt, wrong encoding) as a located data-error."""
    import csv
    import zipfile
    import zlib

    assert resolved.spec.data is not None
    source = resolved.spec.data.source
    try:
        return prepare(resolved.spec.data, resolved.doc.folder, shapes, env)
    except (OSError, EOFError, ValueError, IndexError, zipfile.BadZipFile, zlib.error, csv.Error) as exc:
        files = [
            str(getattr(source, key)) for key in ("path", "targets") if isinstance(getattr(source, key, None), str)
        ]
        if not files:
            raise
        from kspec.errors import shorten

        reason = " ".join(str(exc).split())[:120]
        fail(
            f"cannot read the data file {' or '.join(shorten(f) for f in files)}: {type(exc).__name__}"
            + (f" ({shorten(reason, 120)})" if reason else ""),
            ("data", "source", "path"),
            "data-error",
            hint="the file looks truncated or damaged; copy it again",
        )


def _train(resolved: Resolved, out: Path | None, resume: Path | None, restart: bool) -> RunResult:
    spec = _train_spec(resolved)
    check_tensorboard(spec)
    start = time.perf_counter()
    scope, chief = setup(spec)
    strategy = getattr(scope, "strategy", None)  # multi_worker's
    if not chief:  # a multi-worker worker: trains in step with the chief, its run folder is a temporary one
        return _worker(resolved, spec, scope, strategy, start)
    told = strategy is None  # under multi_worker, the other workers wait to hear how the run starts
    try:
        with run_folder.opened(resolved.spec.name, _resolved_yaml(resolved), out, resume, restart) as folder:
            run_dir, resuming = folder.path, folder.resuming
            if resuming and runs.is_finished(run_dir):
                result = _finished(run_dir)
                if not told:
                    chief_says.start(strategy, True, chief_says.FINISHED)
                    told = True
                return result
            if not told:
                chief_says.start(strategy, True, chief_says.RESUME if resuming else chief_says.FRESH)
                told = True
            status.write(run_dir, "running", spec_file=Path(resolved.doc.file), epochs=spec.epochs)
            try:
                with interrupts.between_steps(active=strategy is None):  # multi_worker: `together` stops workers
                    return _train_in(resolved, spec, scope, run_dir, resuming, start)
            except KeyboardInterrupt:
                status.write(run_dir, "interrupted")
                raise
            except BaseException as exc:
                status.write(run_dir, "failed", error=f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
                raise
    except BaseException:
        if not told:
            chief_says.stop(strategy)
        raise


def _worker(resolved: Resolved, spec: TrainSpec, scope: Any, strategy: Any, start: float) -> RunResult:
    """A non-chief worker: told by the chief how the run starts, it trains in a temporary folder, removed at the end
    (its resumed state comes from the chief's checkpoint, so it needs no run folder and no `--resume`)."""
    import shutil

    from kspec.training.cluster import worker_folder

    word = chief_says.start(strategy, False)
    if word == chief_says.STOP:
        raise TrainingError("worker 0 (the chief) stopped before training; its output says why")
    if word == chief_says.FINISHED:
        return RunResult(Path(), "the chief's run is already finished; nothing to train", {}, {})
    run_dir = worker_folder()
    runs.write_spec(run_dir, _resolved_yaml(resolved))
    try:
        return _train_in(resolved, spec, scope, run_dir, word == chief_says.RESUME, start, chief=False)
    except KeyboardInterrupt as exc:
        raise runs.Interrupted(run_dir, None, getattr(exc, "signal_name", "SIGINT"), worker=True) from exc
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _train_in(
    resolved: Resolved, spec: TrainSpec, scope: Any, run_dir: Path, resuming: bool, start: float, chief: bool = True
) -> RunResult:
    from kspec.compiler.functional import build
    from kspec.training.checkpoint import keep_last_checkpoint

    with scope:
        compiled = build(resolved)
        name = _model_name(spec, compiled)
        # the data feeds the trained model, or for a GAN the discriminator (real samples)
        fed = spec.gan_settings.discriminator if spec.recipe == "gan" else name
        if fed not in compiled.models:
            fail(f"there is no model '{fed}'", ("train", "gan", "discriminator"), "unknown-model")
        env, named, outputs = _fed(resolved, fed)
        outputs = compiled.outputs.get(fed, outputs)
        splits = _prepare(resolved, shapes_of(compiled.models[fed], outputs), env)
        prepare_targets(spec, splits)
        check_shapes(spec, splits, compiled.models[fed], fed, outputs, named)
        give_back()  # what loading and preparing the data freed: training's peak starts from less
        interrupts.check()  # a signal that came while the model was built or the data loaded stops here
        session = Session(spec, compiled, name, splits, run_dir, resuming, chief=chief)
        history = RECIPES[spec.recipe](session)  # the recipes check between steps
    interrupts.check()
    give_back()  # what training freed, before evaluation, saving and plots
    metrics = session.test_metrics() if spec.evaluate else {}
    interrupts.check()
    runs.write_json(run_dir / "metrics.json", metrics)
    session.save_models()
    interrupts.check()
    give_back()  # the saved archive's buffers, before the plots
    if spec.plots != "none":
        from kspec.data.class_names import class_names
        from kspec.training import plots

        source = resolved.spec.data.source if resolved.spec.data is not None else None
        plots.plot_run(run_dir, session, resolved.spec.name, class_names(source))
    interrupts.check()  # the last chance to stop: below, the run is marked complete
    elapsed = time.perf_counter() - start
    summary = _summary(resolved.spec.name, history, metrics, elapsed, run_dir)
    runs.write_text(run_dir / "summary.txt", summary + "\n")
    status.write(run_dir, "complete")
    manifest.write(run_dir)  # last: a run folder with a manifest is complete
    keep_last_checkpoint(run_dir)
    return RunResult(run_dir, summary, history, metrics)


def _finished(run_dir: Path) -> RunResult:
    """`--resume` of a run that already finished (e.g. killed as it exited): nothing to do, its stored results."""
    import sys

    try:
        checked = manifest.verify(run_dir)
    except manifest.ManifestError as exc:
        raise TrainingError(f"the finished run in {run_dir} cannot be checked: {exc}") from None
    if not checked.ok:
        damage = "; ".join(manifest.report(run_dir, checked)[:-1])
        raise TrainingError(
            f"the run in {run_dir} is finished, but its files do not match its manifest ({damage}); "
            f"`kspec verify {run_dir}` lists them, --restart trains the run again"
        )
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
    import kspec.compiler.kspec_layers  # noqa: F401  # registers kspec's op layers and formula losses for loading
    from kspec.compiler.depth import room_for

    try:
        with room_for(sum(len(graph.nodes) for graph in resolved.models.values())):  # Keras walks the graph again
            model = keras.models.load_model(model_path, compile=True)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise TrainingError(
            f"cannot load {model_path} ({type(exc).__name__}); `kspec verify` checks a run folder against its manifest"
        ) from None
    try:
        env, named, outputs = _fed(resolved, spec.model or resolved.main)
        splits = _prepare(resolved, shapes_of(model, outputs), env)
        prepare_targets(spec, splits)
        check_shapes(spec, splits, model, model.name, outputs, named)
    except SpecErrors as exc:
        raise SpecErrors([resolved.doc.locate(e) for e in exc.errors]) from None
    part = splits.test or splits.validation
    if part is None:
        raise TrainingError("the spec's data has no test or validation split to evaluate on")
    if model.optimizer is None or not getattr(model, "compiled_loss", True):
        from kspec.analysis.losses import trained_outputs

        found = trained_outputs(resolved)
        args = compile_args(spec, found[1] if found else None, resolved.spec.losses)
        model.compile(optimizer=args["optimizer"], loss=args["loss"], metrics=args["metrics"])
    from kspec.data.pipeline import pipeline

    result = model.evaluate(
        pipeline(part, batch_size=spec.batch_size, one_hot=splits.one_hot), verbose=0, return_dict=True
    )
    return {k: float(v) for k, v in result.items()}
