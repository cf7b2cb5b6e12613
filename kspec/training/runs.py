"""Stage 6, train: run folders and atomic file writes (temp file + fsync + rename + fsync of the folder). Standard
library only.

A run folder `runs/<spec-name>/<timestamp>/` holds the resolved spec and its hash, `history.json`/`history.csv`,
`metrics.json`, `model.keras`, plots, `summary.txt` and, written last, `manifest.json` (SHA-256 and size of every
file; `kspec verify`), `status.json` (`kspec.training.status`) and `checkpoint/`: the last two epoch checkpoints
`--resume` continues from while training, the last one once the run is finished (so that it can be continued with
more epochs). Every file goes through `atomic_path`, so a kill at any moment leaves whole files (and at worst a
hidden `.<name>.<random>.tmp` file, removed on resume).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class TrainingError(RuntimeError):
    """Training cannot start or continue (e.g. `--resume` names no run folder); printed without a traceback."""


class Interrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C, SIGTERM): what the run folder holds, for the message and resume command.

    Attributes:
        run_dir: the run folder.
        epoch: the last epoch whose checkpoint is saved (None: nothing to resume; the new run folder was removed).
        signal_name: `SIGINT` or `SIGTERM`.
        worker: a non-chief worker of a `multi_worker` job (its run folder is a temporary one; the chief's names the
            checkpoint).
    """

    def __init__(self, run_dir: Path, epoch: int | None, signal_name: str = "SIGINT", worker: bool = False) -> None:
        super().__init__(f"interrupted ({signal_name})")
        self.run_dir, self.epoch, self.signal_name, self.worker = run_dir, epoch, signal_name, worker


class DiskFull(TrainingError):
    """The disk filled up while training wrote a file; the earlier files are whole (atomic writes)."""

    def __init__(self, message: str, run_dir: Path, epoch: int | None) -> None:
        super().__init__(message)
        self.run_dir, self.epoch = run_dir, epoch


class SpecChangedError(TrainingError):
    """`--resume` with a spec that differs from the one the run was started with (the message names the paths)."""


#: the marker in every temporary file name (`.<name>.<random>.tmp<suffix>`); such files are never artifacts
TEMP_MARK = ".tmp"


def is_temp(name: str) -> bool:
    """A temporary file `atomic_path` left behind (the process was killed before the rename)."""
    return name.startswith(".") and TEMP_MARK in name


def fsync_dir(folder: Path) -> None:
    """Make renames and new entries in `folder` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def make_dir(folder: Path) -> Path:
    """`mkdir -p` that also makes each new folder's entry durable."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    for p in reversed(missing):
        fsync_dir(p.parent)
    return folder


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str = "") -> Iterator[Path]:
    """A temporary path next to `path` that replaces `path` once the block succeeds (fsync, rename, fsync folder).

    `suffix` keeps a required file ending (Keras insists on `.keras` / `.weights.h5`). A kill at any moment leaves
    either the old file or the new one under `path`, never a part of one (at worst a stray temporary file).
    """
    make_dir(path.parent)
    while True:  # like mkstemp, but with the permissions of an ordinary new file (0666 less the umask), not 0600
        tmp = temp_name(path, suffix)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
    try:
        with _naming(path, tmp):
            yield tmp
            commit(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_path_alone(path: Path) -> Iterator[Path]:
    """`atomic_path` for a writer that leaves scratch files beside its target (Keras writes a `.keras` archive's
    weights to a temporary HDF5 file in the archive's folder): the target is written inside a fresh temporary folder
    of its own, so a kill leaves only that folder, which `remove_temp_files` deletes with the other leftovers."""
    make_dir(path.parent)
    folder = temp_name(path)
    folder.mkdir()
    tmp = folder / path.name
    try:
        with _naming(path, folder):
            yield tmp
            commit(tmp, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _naming(path: Path, written: Path) -> Iterator[None]:
    """An OSError about `written` (the temporary file, or the folder holding it) or about no file names `path`, the
    file being replaced: a full disk says only "No space left on device"."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None or str(exc.filename).startswith(str(written)):
            exc.filename = str(path)
        raise


def temp_name(path: Path, suffix: str = "") -> Path:
    """A fresh temporary path next to `path` (not created): `.<name>.<random>.tmp<suffix>`."""
    return path.parent / f".{path.name}.{secrets.token_hex(6)}{TEMP_MARK}{suffix}"


def commit(tmp: Path, path: Path) -> None:
    """Put the finished temporary file `tmp` in place of `path`: fsync, rename, fsync of the folder."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)  # make the rename itself durable


def remove_temp_files(folder: Path) -> list[Path]:
    """Delete the temporary files (and folders being deleted) a killed run left anywhere under `folder`."""
    stale = [p for p in folder.rglob(".*") if not p.is_symlink() and is_temp(p.name)]
    for p in stale:
        with contextlib.suppress(OSError):
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    return stale


def remove_tree(folder: Path) -> None:
    """Delete a folder so that a kill midway leaves either all of it or none (renamed to a temporary name first)."""
    if not folder.is_dir():
        return
    doomed = folder.with_name(f".{folder.name}.{secrets.token_hex(6)}{TEMP_MARK}")
    os.replace(folder, doomed)
    fsync_dir(folder.parent)
    shutil.rmtree(doomed, ignore_errors=True)


def write_text(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    """JSON-safe numbers (NaN and infinities as null)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def canonical_json(data: Any) -> str:
    """`data` as compact JSON with sorted keys (NaN and infinities as null): the text a hash is taken of."""
    return json.dumps(_plain(data), sort_keys=True, separators=(",", ":"))


def write_json(path: Path, data: Any) -> Path:
    return write_text(path, json.dumps(_plain(data), indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_history(folder: Path, history: dict[str, list[float]]) -> None:
    """`history.json` (Keras's `History.history` layout) and `history.csv` (one row per epoch)."""
    write_json(folder / "history.json", history)
    keys = list(history)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for i in range(max((len(v) for v in history.values()), default=0)):
        writer.writerow([i + 1, *(_plain(history[k][i]) if i < len(history[k]) else "" for k in keys)])
    write_text(folder / "history.csv", out.getvalue())


def spec_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class RunResult:
    """What `kspec train` leaves: the run folder and a one-line summary."""

    run_dir: Path
    summary: str
    history: dict[str, list[float]]
    metrics: dict[str, float]


def new_run_dir(spec_name: str, base: Path | None = None, out: Path | None = None) -> Path:
    """`out` if given, else `runs/<spec-name>/<timestamp>/` (a suffix keeps two runs in one second apart)."""
    if out is not None:
        return make_dir(out)
    root = make_dir((base or Path("runs")) / spec_name)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        candidate = root / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            candidate.mkdir(exist_ok=False)
            fsync_dir(root)
            return candidate
        except FileExistsError:
            continue
    raise TrainingError(f"cannot create a run folder under {root}")


SPEC_FILE = "spec.yaml"
MANIFEST = "manifest.json"
CHECKPOINTS = "checkpoint"

#: what a run writes at the top of its folder (besides callback outputs): `--restart` removes exactly these
_ARTIFACTS = (
    SPEC_FILE,
    "spec.sha256",
    "history.json",
    "history.csv",
    "metrics.json",
    "summary.txt",
    "status.json",
    MANIFEST,
)
_ARTIFACT_FOLDERS = (CHECKPOINTS, "samples", "tensorboard", "export")
_ARTIFACT_SUFFIXES = (".keras", ".png")


def last_checkpoint(path: Path) -> int | None:
    """The newest epoch with a checkpoint record in run folder `path` (None when there is none)."""
    epochs = [p.stem.removeprefix("epoch-") for p in (path / CHECKPOINTS).glob("epoch-*.json")]
    return max((int(e) for e in epochs if e.isdigit()), default=None)


def is_run(path: Path) -> bool:
    return (path / SPEC_FILE).is_file()


def is_finished(path: Path) -> bool:
    """A run folder whose manifest is written: everything is saved (its last checkpoint stays, so that a finished run
    can be continued with more epochs; continuing removes the manifest first)."""
    return (path / MANIFEST).is_file()


def resume_dir(path: Path) -> Path:
    """Check that `path` is a run folder that can be continued."""
    if not is_run(path):
        raise TrainingError(f"{path} is not a kspec run folder (no spec.yaml); --resume takes the folder of a run")
    return path


def clear_run(folder: Path) -> None:
    """`--restart`: remove what an earlier run wrote in `folder` (its spec, results, plots and checkpoints)."""
    remove_temp_files(folder)
    for entry in folder.iterdir():
        if entry.is_symlink():
            continue
        if entry.is_dir() and entry.name in _ARTIFACT_FOLDERS:
            remove_tree(entry)
        elif entry.is_file() and (entry.name in _ARTIFACTS or entry.suffix in _ARTIFACT_SUFFIXES):
            entry.unlink()
    fsync_dir(folder)


def write_spec(folder: Path, resolved_yaml: str) -> str:
    """The resolved spec and its SHA-256 (in `spec.sha256` and in the YAML's first line)."""
    digest = spec_hash(resolved_yaml)
    write_text(folder / "spec.sha256", digest + "\n")
    write_text(folder / SPEC_FILE, f"# sha256: {digest}\n{resolved_yaml}")  # last: a run folder has both
    return digest


def stored_spec(folder: Path) -> tuple[str, str]:
    """The resolved YAML saved in a run folder and the digest its first line records."""
    text = (folder / SPEC_FILE).read_text(encoding="utf-8")
    first, _, body = text.partition("\n")
    digest = first.removeprefix("# sha256: ").strip() if first.startswith("# sha256: ") else ""
    return body, digest


def spec_changes(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """The dotted paths where two parsed specs differ, with the old and new value (`...` where a key is absent).

    List items are numbered (`model.layers.1.units`); a list that grew or shrank reports the items added or removed.
    """
    missing = Ellipsis
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in [*old, *(k for k in new if k not in old)]:
            sub = f"{path}.{key}" if path else str(key)
            out += spec_changes(old.get(key, missing), new.get(key, missing), sub)
        return out
    if isinstance(old, list) and isinstance(new, list):
        out = []
        for i in range(max(len(old), len(new))):
            sub = f"{path}.{i}" if path else str(i)
            out += spec_changes(old[i] if i < len(old) else missing, new[i] if i < len(new) else missing, sub)
        return out
    if type(old) is not type(new) or old != new:
        return [(path or "(the whole spec)", old, new)]
    return []


def describe_changes(changes: list[tuple[str, Any, Any]], limit: int = 12) -> str:
    """`train.epochs (4 -> 6), model.layers.2 (added)`: at most `limit` paths, values shortened."""
    from kspec.errors import shorten

    def one(path: str, old: Any, new: Any) -> str:
        if old is Ellipsis:
            return f"{path} (added: {shorten(new, 40)})"
        if new is Ellipsis:
            return f"{path} (removed)"
        return f"{path} ({shorten(old, 40)} -> {shorten(new, 40)})"

    shown = [one(*c) for c in changes[:limit]]
    if len(changes) > limit:
        shown.append(f"and {len(changes) - limit} more")
    return ", ".join(shown)
