"""Stage train: `status.json`, what state a run folder is in, and the listing `kspec runs` prints. Standard library
only.

`kspec train` writes `status.json` when the run starts (`running`, with its process id and the spec file it was
started from), and again when it ends: `complete` (just before the manifest), `interrupted` (Ctrl-C, SIGTERM) or
`failed` (with the error). A run killed outright stays `running` with a process that no longer exists, and is read
back as `interrupted`. Folders from before `status.json` are judged by their files.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kspec.training import runs

STATUS = "status.json"
#: the states a run folder can be in
STATES = ("running", "complete", "interrupted", "failed")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write(
    run_dir: Path, state: str, *, spec_file: Path | None = None, epochs: int | None = None, error: str = ""
) -> None:
    """Record `state` (keeping what an earlier record said: start time, spec file, epochs)."""
    old = read_record(run_dir)
    record: dict[str, Any] = {
        "status": state,
        "started": old.get("started") or _now(),  # a resumed run keeps its start; --restart removes the record
        "updated": _now(),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "spec_file": str(spec_file.resolve()) if spec_file is not None else old.get("spec_file"),
        "epochs": epochs if epochs is not None else old.get("epochs"),
    }
    if error:
        record["error"] = error
    runs.write_json(run_dir / STATUS, record)


def read_record(run_dir: Path) -> dict[str, Any]:
    """`status.json` as written, or {} when there is none (or it cannot be read)."""
    try:
        record = runs.read_json(run_dir / STATUS)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _alive(pid: Any, host: Any) -> bool:
    """Whether the process that wrote `running` may still be training (another machine's: cannot tell, yes)."""
    if host != socket.gethostname():
        return True
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def state_of(run_dir: Path) -> str:
    """`complete`, `running`, `interrupted` or `failed`, from `status.json` or (older folders) from the files."""
    if runs.is_finished(run_dir):
        return "complete"
    record = read_record(run_dir)
    state = record.get("status")
    if state == "running" and not _alive(record.get("pid"), record.get("host")):
        return "interrupted"
    if state in STATES and state != "complete":
        return str(state)
    return "interrupted" if (run_dir / "history.json").is_file() else "failed"


@dataclass
class RunInfo:
    """One line of `kspec runs`."""

    path: Path
    name: str
    started: str
    state: str
    epochs_done: int
    epochs: int | None
    best: str

    @property
    def finished_epoch(self) -> bool:
        """At least one epoch finished: the run has a history to plot."""
        return self.epochs_done > 0


def _best(history: dict[str, list[Any]]) -> str:
    key = next((k for k in ("val_loss", "loss") if history.get(k)), None)
    if key is None:
        return ""
    values = [v for v in history[key] if isinstance(v, int | float) and math.isfinite(v)]
    return f"{key} {min(values):.4g}" if values else ""


def info(run_dir: Path) -> RunInfo:
    """What `kspec runs` shows of one run folder."""
    record = read_record(run_dir)
    try:
        history = runs.read_json(run_dir / "history.json")
    except (OSError, ValueError):
        history = {}
    history = history if isinstance(history, dict) else {}
    done = max((len(v) for v in history.values() if isinstance(v, list)), default=0)
    started = str(record.get("started") or "")
    if not started:
        stamp = dt.datetime.fromtimestamp((run_dir / runs.SPEC_FILE).stat().st_mtime, dt.UTC)
        started = stamp.isoformat(timespec="seconds")
    epochs = record.get("epochs")
    return RunInfo(
        path=run_dir,
        name=run_dir.parent.name,
        started=started,
        state=state_of(run_dir),
        epochs_done=done,
        epochs=epochs if isinstance(epochs, int) else None,
        best=_best(history),
    )


def find_runs(roots: list[Path]) -> list[RunInfo]:
    """Every run folder at or below `roots` (a run folder holds `spec.yaml`), oldest first."""
    found: dict[Path, RunInfo] = {}
    for root in roots:
        candidates = [root] if runs.is_run(root) else sorted(p.parent for p in root.rglob(runs.SPEC_FILE))
        for folder in candidates:
            if runs.is_run(folder) and folder not in found:
                found[folder] = info(folder)
    return sorted(found.values(), key=lambda r: (r.started, str(r.path)))
