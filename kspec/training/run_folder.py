"""Stage train: opening a run folder for `kspec train` (new, `--out`, `--resume`, `--restart`). Standard library only
(yaml inside functions).

`opened(...)` picks the folder, takes its lock (one process per folder), checks a resumed spec against the stored one
(telling a damaged `spec.yaml` from a changed spec by `spec.sha256`), and, when a new run fails before its first
checkpoint (a data file that cannot be read, a Keras error, Ctrl-C in the first epoch), removes what it wrote, so no
half run folder is left behind to block `--out` or confuse `kspec plot runs/x/*`.
"""

from __future__ import annotations

import contextlib
import errno
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kspec.training import lock, runs
from kspec.training.runs import TrainingError


@dataclass
class RunFolder:
    """The folder a run trains in, whether it continues an earlier run, and whether this process created it."""

    path: Path
    resuming: bool
    created: bool
    notes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def opened(name: str, text: str, out: Path | None, resume: Path | None, restart: bool) -> Iterator[RunFolder]:
    """The run folder for the block, locked; a new run that fails before its first checkpoint is removed again."""
    if resume is None:
        existed = out is not None and out.exists()
        folder = RunFolder(runs.new_run_dir(name, out=out), False, not existed)
    else:
        folder = RunFolder(runs.resume_dir(resume), True, False)
    with lock.hold(folder.path, folder.notes):
        for note in folder.notes:
            print(f"kspec: {note} in {folder.path}", file=sys.stderr)
        _prepare(folder, text, resume, restart)
        try:
            yield folder
        except BaseException as exc:
            epoch = runs.last_checkpoint(folder.path)
            if not folder.resuming and epoch is None and not runs.is_finished(folder.path):
                discard(folder)
            if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, runs.Interrupted):
                raise runs.Interrupted(folder.path, epoch, getattr(exc, "signal_name", "SIGINT")) from exc
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise _disk_full(exc, folder.path, epoch) from exc
            raise


def _disk_full(exc: OSError, run_dir: Path, epoch: int | None) -> runs.DiskFull:
    what = f"writing {exc.filename}" if exc.filename else "writing a file of the run"
    kept = (
        f"nothing was lost: files are replaced only once written whole, and {run_dir} holds the checkpoint after "
        f"epoch {epoch}"
        if epoch is not None
        else f"no epoch had finished, so {run_dir} was removed"
    )
    return runs.DiskFull(f"the disk is full (no space left on device) while {what}; {kept}", run_dir, epoch)


def _prepare(folder: RunFolder, text: str, resume: Path | None, restart: bool) -> None:
    run_dir = folder.path
    if resume is None and runs.is_run(run_dir) and not restart:
        raise TrainingError(
            f"{run_dir} already holds a kspec run; pass --resume {run_dir} to continue it, or --restart to "
            "start over there"
        )
    if restart:
        runs.clear_run(run_dir)
        folder.resuming = False
    if restart or resume is None:
        runs.write_spec(run_dir, text)
        return
    same_spec(run_dir, text)
    runs.remove_temp_files(run_dir)  # what a kill left half-written; the files they were to replace are whole


def discard(folder: RunFolder) -> None:
    """Remove what a new run wrote: the whole folder if this process created it, else only the run's files."""
    if folder.created:
        runs.remove_tree(folder.path)
    else:
        runs.clear_run(folder.path)


def _recorded_digest(run_dir: Path) -> str:
    try:
        return (run_dir / "spec.sha256").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def same_spec(run_dir: Path, text: str) -> None:
    """Refuse to resume with another spec than the run's, naming the dotted paths that differ.

    `spec.sha256` tells a damaged `spec.yaml` (truncated, edited: its text no longer has the recorded hash) from a
    changed spec: when the spec given now has the recorded hash it is the run's own spec, and the damaged copy is
    written again from it; otherwise the message says that the stored copy is damaged, not that the spec changed.
    """
    import yaml

    recorded = _recorded_digest(run_dir)
    new_digest = runs.spec_hash(text)
    try:
        stored, first_line = runs.stored_spec(run_dir)
    except (OSError, UnicodeDecodeError):
        stored, first_line = None, ""
    intact = stored is not None and runs.spec_hash(stored) in (recorded, first_line) and recorded in ("", first_line)
    if intact and first_line == new_digest:
        return
    if not intact:
        if recorded and recorded == new_digest:  # the run's own spec: repair the damaged copy from it
            runs.write_spec(run_dir, text)
            print(
                f"kspec: {run_dir / runs.SPEC_FILE} was damaged (its SHA-256 did not match spec.sha256); "
                "written again from the spec given, which has the recorded SHA-256",
                file=sys.stderr,
            )
            return
        raise TrainingError(
            f"{run_dir / runs.SPEC_FILE} is damaged (its SHA-256 does not match spec.sha256), and the spec given "
            f"does not have the recorded SHA-256 either; resume with the spec (and --set values) the run was started "
            f"with, which repairs the copy, or pass --restart to start over in that folder"
        )
    assert stored is not None
    try:
        changes = runs.spec_changes(yaml.safe_load(stored), yaml.safe_load(text))
    except yaml.YAMLError:
        changes = [("(the whole spec)", "...", "...")]
    if [path for path, _, _ in changes] == ["train.epochs"]:
        _more_epochs(run_dir, text, changes[0][2])
        return
    raise runs.SpecChangedError(
        f"the spec differs from the one run {run_dir} was started with: "
        f"{runs.describe_changes(changes) or 'formatting only'}; resume with the same spec (and --set values), or "
        "pass --restart to start over in that folder"
    )


def _more_epochs(run_dir: Path, text: str, epochs: Any) -> None:
    """`--resume` with only `train.epochs` changed: continue (a finished run too) up to the new count, the history
    continuing where it stopped; the run's stored spec takes the new count. Fewer epochs than already trained is
    refused (that history cannot be undone)."""
    done = _epochs_done(run_dir)
    if not isinstance(epochs, int) or epochs < done:
        raise runs.SpecChangedError(
            f"run {run_dir} has already trained {done} epoch(s); train.epochs must be at least that to continue it, "
            "or pass --restart to start over in that folder"
        )
    if runs.is_finished(run_dir):  # first: the run is unfinished again until its new manifest
        (run_dir / runs.MANIFEST).unlink()
        runs.fsync_dir(run_dir)
    runs.write_spec(run_dir, text)


def _epochs_done(run_dir: Path) -> int:
    """Epochs a run has finished, by its history (0 when there is none)."""
    try:
        history = runs.read_json(run_dir / "history.json")
    except (OSError, ValueError):
        return 0
    return max((len(v) for v in history.values() if isinstance(v, list)), default=0) if isinstance(history, dict) else 0
