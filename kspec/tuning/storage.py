"""Stage 7, tune: where a study lives and how its trials are counted. Imports optuna (only `kspec tune` loads it).

A study is embedded by default: an SQLite file `study.db` in the study folder, so `kspec tune` needs no server and a
killed `kspec tune` continues from the file. `--storage URL` names any database Optuna's RDB storage supports
(PostgreSQL, MySQL); several `kspec tune` processes, on one machine or many, then share the study.

Trials are never lost or counted twice: a trial whose process died (found at once on this machine from its process
id, elsewhere by its missing heartbeat) is marked `interrupted`, and a copy with the same values is queued and run
again (`retry_of`). Only finished trials (complete, pruned, invalid, failed) count towards `search.trials`.
"""

from __future__ import annotations

import datetime
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from optuna import Study

#: seconds between heartbeats of a running trial, and after how long without one another worker re-runs it
HEARTBEAT_S = 5
GRACE_S = 30

#: user attributes kspec sets on a trial
STATUS = "kspec_status"  # complete, pruned, invalid, failed, surplus (set before the trial ends); none: interrupted
WORKER = "kspec_worker"  # host:pid of the process that runs it
RETRY_OF = "kspec_retry_of"
COUNTED = ("complete", "pruned", "invalid", "failed")


class StudyMismatchError(RuntimeError):
    """The study in the storage was started with another spec; printed without a traceback."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def storage_url(folder: Path, url: str | None) -> str:
    return url or f"sqlite:///{(folder / 'study.db').resolve()}"


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats; a worker that dies mid-trial gets its trial re-run (`mark_interrupted`)."""
    engine: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        engine["connect_args"] = {"timeout": 120}  # several local workers wait for the file lock, not fail
    return optuna.storages.RDBStorage(
        url,
        engine_kwargs=engine,
        heartbeat_interval=HEARTBEAT_S,
        grace_period=GRACE_S,
        heartbeat_stale_trial_callback=lambda study, trial: retry(study, trial),
    )


def retry(study: Study, trial: FrozenTrial) -> None:
    """Queue the values of a trial that did not finish (failed in the storage, without a kspec status: interrupted).

    A trial killed before it drew its values has none yet: its queued values (a re-run's), or a fresh draw.
    """
    params = dict(trial.params) or dict(trial.system_attrs.get("fixed_params") or {})
    original = trial.user_attrs.get(RETRY_OF, trial.number)
    study.enqueue_trial(params, user_attrs={RETRY_OF: original})


def recover(study: Study) -> list[int]:
    """Re-run the trials whose worker died: on this host at once (its pid is gone), elsewhere by heartbeat.

    Returns:
        The numbers of the trials found interrupted by this call.
    """
    host = socket.gethostname()
    found = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = str(trial.user_attrs.get(WORKER, ""))
        name, _, pid = owner.rpartition(":")
        if not owner:  # killed between Optuna's ask and kspec's first write: no owner, no heartbeat
            started = trial.datetime_start
            if started is None or (datetime.datetime.now() - started).total_seconds() < GRACE_S:
                continue
        elif name != host or not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            if not study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker got there first
        retry(study, trial)
        found.append(trial.number)
    before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    optuna.storages.fail_stale_trials(study)
    after = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    return found + sorted(after - before)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def counted(trial: FrozenTrial) -> bool:
    """A finished trial that counts towards `search.trials` (not an interrupted or surplus one)."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and trial.user_attrs.get(STATUS) in COUNTED


def taken(study: Study, below: int | None = None) -> int:
    """Trials counted or running (those numbered below `below` only, when given)."""
    n = 0
    for t in study.get_trials(deepcopy=False):
        if below is not None and t.number >= below:
            continue
        if counted(t) or t.state == TrialState.RUNNING:
            n += 1
    return n


@contextmanager
def heartbeat(study: Study, trial_id: int) -> Iterator[None]:
    """Record the trial's heartbeat every `HEARTBEAT_S` seconds while the block runs."""
    storage: Any = study._storage  # an RDBStorage (open_storage), which records heartbeats
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                storage.record_heartbeat(trial_id)
            except Exception:  # noqa: BLE001 - a missed beat only delays nothing; the next one retries
                pass

    storage.record_heartbeat(trial_id)
    thread = threading.Thread(target=beat, name="kspec-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
