"""Stage 7, tune: the loop of one worker process (ask, check and train, tell), and the study it works on.
Imports optuna.

Every worker, in this process or another, on this machine or another, runs the same loop against the shared
storage: recover interrupted trials, stop once `search.trials` trials are counted or running (or the time budget is
spent), ask Optuna for the next trial (a queued re-run first), run it with a heartbeat, tell the outcome.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import optuna

from kspec.lang.search_spec import SearchSpec
from kspec.tuning import storage, trial
from kspec.tuning.storage import StudyMismatchError

if TYPE_CHECKING:
    from optuna import Study

SPEC_HASH = "kspec_spec_sha256"


def spec_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _sampler(search: SearchSpec, offset: int) -> optuna.samplers.BaseSampler:
    """The spec's sampler; its seed moves on by the trials already in the study, so a continued study (or a second
    worker) does not draw the first trials' values again."""
    settings = search.sampler_settings
    seed = None if settings.seed is None else settings.seed + offset
    if settings.type == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    startup = 10 if settings.startup_trials is None else settings.startup_trials
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


_PRUNERS: dict[str, Callable[..., optuna.pruners.BasePruner]] = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "percentile": optuna.pruners.PercentilePruner,
    "threshold": optuna.pruners.ThresholdPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
}
#: kspec's argument names -> Optuna's
_PRUNER_ARGS = {
    "startup_trials": "n_startup_trials",
    "warmup_epochs": "n_warmup_steps",
    "percentile": "percentile",
    "lower": "lower",
    "upper": "upper",
    "min_epochs": "min_resource",
    "reduction_factor": "reduction_factor",
}


def pruner(search: SearchSpec) -> optuna.pruners.BasePruner:
    settings = search.pruner_settings
    args = {
        _PRUNER_ARGS[k]: getattr(settings, k)
        for k in settings.model_fields_set - {"type"}
        if getattr(settings, k) is not None
    }
    return _PRUNERS[settings.type](**args)


def open_study(url: str, name: str, search: SearchSpec, text: str, *, restart: bool = False, offset: int = 0) -> Study:
    """The study `name` in `url`, created if new; refused when it was started with another spec.

    Args:
        url: the storage URL.
        name: the study's name.
        search: the spec's search section (direction, sampler, pruner).
        text: the resolved spec, whose hash the study keeps.
        restart: delete the study first.
        offset: added to the sampler's seed (a second worker of the same invocation).
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # heartbeats and fail_stale_trials are marked experimental, and meant for Study.optimize: kspec drives
    # ask/tell itself (to count trials across workers and re-run interrupted ones) and records the heartbeats
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    store = _first_open(url)
    if restart:
        try:
            optuna.delete_study(study_name=name, storage=store)
        except KeyError:
            pass
    study = optuna.create_study(
        storage=store, study_name=name, direction=search.goal, pruner=pruner(search), load_if_exists=True
    )
    digest = spec_hash(text)
    stored = study.user_attrs.get(SPEC_HASH)
    if stored is None:
        study.set_user_attr(SPEC_HASH, digest)
        study.set_user_attr("kspec_metric", search.metric)
    elif stored != digest:
        raise StudyMismatchError(
            f"the study '{name}' was started with another spec (or other --set values); continue it with the same "
            "spec, pass --restart to start it over, or --study NAME to start another"
        )
    if study.direction.name.lower() != search.goal:
        raise StudyMismatchError(f"the study '{name}' {study.direction.name.lower()}s; the spec asks to {search.goal}")
    study.sampler = _sampler(search, offset + len(study.get_trials(deepcopy=False)))
    return study


def _first_open(url: str) -> optuna.storages.RDBStorage:
    """Open the storage; two workers that create its tables at the same moment collide once (PostgreSQL's catalog
    refuses the second CREATE TABLE), so a failed first open is retried after the other worker's."""
    import random

    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(5):
        try:
            return storage.open_storage(url)
        except SQLAlchemyError:
            if attempt == 4:
                raise
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


Report = Callable[[optuna.trial.FrozenTrial], None]


def work(study: Study, setup: trial.Setup, report: Report, deadline: float | None = None) -> int:
    """Run trials until the study has `search.trials` counted ones or the deadline passes.

    Args:
        study: the study (`open_study`).
        setup: what the trials share.
        report: called with every trial this worker finishes (the live table, the study files).
        deadline: `time.monotonic()` after which no trial starts.

    Returns:
        How many trials this worker ran.
    """
    ran = 0
    target = setup.search.trials
    while True:
        storage.recover(study)
        if deadline is not None and time.monotonic() >= deadline:
            break
        if storage.taken(study) >= target:
            break
        current = study.ask()
        current.set_user_attr(storage.WORKER, storage.worker_id())
        if storage.taken(study, below=current.number) >= target:  # another worker asked at the same moment
            current.set_user_attr(storage.STATUS, "surplus")
            study.tell(current, state=optuna.trial.TrialState.FAIL)
            _requeue_if_retry(study, current)
            break
        with storage.heartbeat(study, current._trial_id):
            outcome, seconds = trial.timed(setup, current)
            trial.record(current, outcome, seconds)
        if outcome.state == optuna.trial.TrialState.COMPLETE:
            frozen = study.tell(current, outcome.value)
        elif outcome.state == optuna.trial.TrialState.PRUNED:
            frozen = study.tell(current, state=optuna.trial.TrialState.PRUNED)
        else:
            frozen = study.tell(current, state=optuna.trial.TrialState.FAIL)
        ran += 1
        report(frozen)
    return ran


def _requeue_if_retry(study: Study, current: optuna.trial.Trial) -> None:
    """A surplus trial that was a queued re-run goes back in the queue (its values must still run)."""
    frozen = study._storage.get_trial(current._trial_id)
    if storage.RETRY_OF in frozen.user_attrs:
        storage.retry(study, frozen)
