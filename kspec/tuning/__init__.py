"""Stage 7, tune: `kspec tune`, a hyperparameter search over the spec paths its `search:` section names, run by
Optuna. `tune` imports optuna (an optional extra, `pip install "kspec[tune]"`); `space` (the static checks that
`kspec validate` runs) does not.

Data flows one way: the spec (`kspec.load` + `kspec.check`) -> a study in a storage (`worker.open_study`) -> trials
(`worker.work`, each a normal run folder) -> the study folder (`report`).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kspec.errors import SpecError, SpecErrors

INSTALL_HINT = 'kspec tune needs Optuna, an optional extra: pip install "kspec[tune]"'


class TuneError(RuntimeError):
    """`kspec tune` cannot start or go on (Optuna missing, another spec's study); printed without a traceback."""


@dataclass
class TuneResult:
    """What `tune` leaves: the study folder, the best trial (if any completed) and notes (plots not drawn)."""

    folder: Path
    study: str
    best: dict[str, Any] | None
    counted: int
    ran: int
    notes: list[str] = field(default_factory=list)


def available() -> bool:
    return importlib.util.find_spec("optuna") is not None


def tune(
    spec_path: str | Path,
    overrides: Sequence[str] = (),
    *,
    folder: Path | None = None,
    storage_url: str | None = None,
    study_name: str | None = None,
    workers: int = 1,
    restart: bool = False,
    verbose: bool = False,
    plots: bool = True,
    worker: bool = False,
    seed_offset: int = 0,
    out: TextIO | None = None,
) -> TuneResult:
    """Run (or continue) the study of a spec's `search:` section.

    Args:
        spec_path: the spec file.
        overrides: `--set` values applied to the spec (and to every trial).
        folder: the study folder (default `runs/<spec-name>/tune/`).
        storage_url: an Optuna RDB storage URL (default: SQLite `study.db` in the study folder).
        study_name: the study's name in the storage (default: the spec's name).
        workers: worker processes to start here; 1 runs the trials in this process.
        restart: delete the study and its trial folders first.
        verbose: show each trial's training progress.
        plots: draw the study plots at the end.
        worker: this process is a worker started by another `kspec tune` (no table, no study files).
        seed_offset: added to the sampler's seed (each started worker gets its own).
        out: where the live table goes (default stdout).

    Raises:
        SpecErrors: the spec or its search section is invalid (located).
        TuneError: Optuna is not installed, or the storage holds this study for another spec.
    """
    if not available():
        raise TuneError(INSTALL_HINT)
    if importlib.util.find_spec("keras") is None:  # trials train: say so now, not once per failed trial
        raise ModuleNotFoundError("No module named 'keras'", name="keras")
    import kspec
    from kspec.tuning import report, storage, trial
    from kspec.tuning import worker as work_loop
    from kspec.tuning.storage import StudyMismatchError

    stream = out or sys.stdout
    resolved = kspec.load(spec_path, overrides)
    kspec.check(resolved)
    search = resolved.spec.search
    if search is None:
        raise SpecErrors(
            [resolved.doc.locate(SpecError("the spec has no `search:` section", (), "bad-search", hint=_HINT))]
        )
    name = study_name or resolved.spec.name
    folder = folder or Path("runs") / resolved.spec.name / "tune"
    if restart and not worker:
        _clear(folder)
    url = storage.storage_url(folder, storage_url)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        study = work_loop.open_study(
            url, name, search, _identity(resolved.doc.data), restart=restart and not worker, offset=seed_offset
        )
    except StudyMismatchError as exc:
        raise TuneError(str(exc)) from None
    quiet = [] if verbose else ["train.verbose=0"]
    setup = trial.Setup(Path(spec_path), [*overrides, *quiet], search, folder, verbose)
    deadline = None if search.timeout_seconds is None else time.monotonic() + search.timeout_seconds
    if worker:
        ran = work_loop.work(study, setup, lambda t: None, deadline)
        return TuneResult(folder, name, None, 0, ran)
    table = report.Table(search, stream)
    table.start(name, sum(storage.counted(t) for t in study.get_trials(deepcopy=False)))

    def finished(_: Any) -> None:
        table.show(study)
        report.write(study, folder, search, resolved.doc.source, resolved.spec.name)

    if workers > 1:
        ran = _spawn(spec_path, overrides, folder, url, name, workers, verbose, study, table)
    else:
        ran = work_loop.work(study, setup, finished, deadline)
    table.show(study)
    report.write(study, folder, search, resolved.doc.source, resolved.spec.name)
    notes = report.plot(study, folder, search.metric) if plots else []
    best = report.best_trial(study)
    summary = None if best is None else {"number": best.number, "value": best.value, "values": dict(best.params)}
    counted = sum(storage.counted(t) for t in study.get_trials(deepcopy=False))
    return TuneResult(folder, name, summary, counted, ran, notes)


_HINT = "add e.g. search: {metric: val_accuracy, space: {vars.dropout: {float: [0.0, 0.5]}}}"


def _identity(data: Any) -> str:
    """The resolved spec as the study remembers it; `search.trials` and `search.timeout` may change between runs."""
    import yaml

    plain = dict(data)
    if isinstance(plain.get("search"), dict):
        plain["search"] = {k: v for k, v in plain["search"].items() if k not in ("trials", "timeout")}
    return yaml.safe_dump(plain, sort_keys=True)


def _clear(folder: Path) -> None:
    from kspec.training import runs

    runs.remove_tree(folder / "trials")
    runs.remove_tree(folder / "plots")
    runs.remove_tree(folder / "workers")
    for name in ("trials.csv", "trials.json", "best.yaml"):
        (folder / name).unlink(missing_ok=True)


def _spawn(
    spec_path: str | Path,
    overrides: Sequence[str],
    folder: Path,
    url: str,
    name: str,
    workers: int,
    verbose: bool,
    study: Any,
    table: Any,
) -> int:
    """Start `workers` worker processes on the study, show their trials as they finish, wait for them."""
    logs = folder / "workers"
    logs.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "kspec", "tune", str(spec_path), "--worker", "--storage", url]
    command += ["--study", name, "--out", str(folder), *(a for o in overrides for a in ("--set", o))]
    command += ["--verbose"] if verbose else []
    import subprocess  # here: `kspec validate` imports this package for `space`

    children = []
    for i in range(workers):
        with open(logs / f"worker-{i}.log", "ab") as log:
            children.append(
                subprocess.Popen(
                    [*command, "--seed-offset", str(1000 * (i + 1))],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            )
    try:
        while any(c.poll() is None for c in children):
            table.show(study)
            time.sleep(1.0)
    finally:
        for c in children:
            if c.poll() is None:
                c.terminate()
                c.wait()
    failed = [i for i, c in enumerate(children) if c.returncode != 0]
    if failed:
        raise TuneError(f"worker(s) {', '.join(map(str, failed))} failed; see {logs}/worker-N.log")
    return 0


def _die_with_parent() -> None:
    """A worker process ends when `kspec tune` does, even on SIGKILL (Linux's PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except OSError:
        pass
