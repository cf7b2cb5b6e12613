"""Stage 7, tune: one trial, a normal kspec run with the trial's values as `--set` overrides. Imports optuna; Keras
only through the trainer.

The values are checked statically first (`kspec.load` + `kspec.check`): a combination the spec cannot take is an
`invalid` trial with its located errors, and nothing trains. Otherwise the trial trains into its own run folder
(`trials/<number>/`, as `kspec train` leaves it), reporting the searched metric after every epoch to the pruner.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from kspec.errors import SpecErrors, render_text
from kspec.lang.search_spec import SearchSpec
from kspec.tuning import space
from kspec.tuning.storage import STATUS

if TYPE_CHECKING:
    from optuna.trial import Trial


@dataclass
class Setup:
    """What every trial of one `kspec tune` shares."""

    spec_path: Path
    overrides: list[str]
    search: SearchSpec
    folder: Path
    verbose: bool = False


@dataclass
class Outcome:
    """How a trial ended: an Optuna state, kspec's status, the value, and what to show."""

    state: optuna.trial.TrialState
    status: str
    value: float | None = None
    epochs: int = 0
    errors: list[str] = field(default_factory=list)


def suggest(trial: Trial, search: SearchSpec) -> dict[str, Any]:
    """The trial's values, define-by-run: a conditional path is sampled only when its `when:` holds."""
    values: dict[str, Any] = {}
    for param in space.params(search):
        if not space.active(param, values):
            continue
        s, key = param.space, param.key
        if s.choice is not None:
            values[key] = trial.suggest_categorical(key, s.choice)
        elif s.kind == "int":
            low, high = (int(b) for b in s.bounds)
            values[key] = trial.suggest_int(key, low, high, step=int(s.step or 1), log=s.log)
        else:
            low_f, high_f = s.bounds
            values[key] = trial.suggest_float(key, low_f, high_f, step=s.step, log=s.log)
    return values


def run(setup: Setup, trial: Trial) -> Outcome:
    """Check and train one trial; never raises for a problem of the trial itself (it is the trial's outcome)."""
    import kspec

    values = suggest(trial, setup.search)
    overrides = [*setup.overrides, *(space.override(k, v) for k, v in values.items())]
    run_dir = setup.folder / "trials" / f"{trial.number:04d}"
    try:
        resolved = kspec.load(setup.spec_path, overrides)
        kspec.check(resolved, search=False)
    except SpecErrors as exc:
        return Outcome(optuna.trial.TrialState.FAIL, "invalid", errors=_rendered(exc))
    return _train(setup, trial, resolved, run_dir)


def _rendered(exc: SpecErrors) -> list[str]:
    return [render_text(e) for e in exc.errors if e.severity == "error"]


def _train(setup: Setup, trial: Trial, resolved: Any, run_dir: Path) -> Outcome:
    from kspec.training import trainer

    metric = setup.search.metric
    epochs = 0
    reported: float | None = None

    def on_epoch(epoch: int, logs: dict[str, float]) -> None:
        nonlocal epochs, reported
        epochs = epoch
        value = logs.get(metric)
        if value is None or not math.isfinite(value):
            return
        reported = float(value)
        trial.report(reported, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch} ({metric} {value:.4g})")

    _fresh_keras(setup.verbose)
    try:
        result = trainer.train(resolved, out=run_dir, restart=run_dir.exists(), on_epoch=on_epoch)
    except optuna.TrialPruned:
        return Outcome(optuna.trial.TrialState.PRUNED, "pruned", reported, epochs)
    except SpecErrors as exc:
        return Outcome(optuna.trial.TrialState.FAIL, "invalid", epochs=epochs, errors=_rendered(exc))
    except Exception as exc:  # noqa: BLE001 - a trial that fails to train is a failed trial, not the study's end
        return Outcome(optuna.trial.TrialState.FAIL, "failed", epochs=epochs, errors=[f"{type(exc).__name__}: {exc}"])
    series = result.history.get(metric) or []
    if not series or not math.isfinite(series[-1]):
        why = "not finite" if series else f"not in the history (it has: {', '.join(result.history)})"
        return Outcome(optuna.trial.TrialState.FAIL, "failed", epochs=epochs, errors=[f"{metric} is {why}"])
    return Outcome(optuna.trial.TrialState.COMPLETE, "complete", float(series[-1]), len(series))


def _fresh_keras(verbose: bool) -> None:
    """Trials run one after another in this process: each starts from an empty Keras session (names, memory).

    TensorFlow's warning that functions were traced again is expected here (every trial builds a new model); it is
    kept for `--verbose` only.
    """
    import logging

    import keras

    keras.backend.clear_session()
    if not verbose:
        logging.getLogger("tensorflow").setLevel(logging.ERROR)


def record(trial: Trial, outcome: Outcome, seconds: float) -> None:
    trial.set_user_attr(STATUS, outcome.status)
    trial.set_user_attr("kspec_epochs", outcome.epochs)
    trial.set_user_attr("kspec_seconds", round(seconds, 3))
    if outcome.errors:
        trial.set_user_attr("kspec_errors", outcome.errors[:20])


def timed(setup: Setup, trial: Trial) -> tuple[Outcome, float]:
    start = time.perf_counter()
    outcome = run(setup, trial)
    return outcome, time.perf_counter() - start
