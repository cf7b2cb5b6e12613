"""Stage 6, train: run folders and atomic file writes (temp file + fsync + rename). Standard library only.

A run folder `runs/<spec-name>/<timestamp>/` holds the resolved spec and its hash, `history.json`/`history.csv`,
`metrics.json`, `model.keras`, plots and, while training, the checkpoint `--resume` continues from.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class TrainingError(RuntimeError):
    """Training cannot start or continue (e.g. `--resume` names no run folder); printed without a traceback."""


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str = "") -> Iterator[Path]:
    """A temporary path next to `path` that replaces `path` once the block succeeds (fsync, then rename).

    `suffix` keeps a required file ending (Keras insists on `.keras` / `.weights.h5`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


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
        out.mkdir(parents=True, exist_ok=True)
        return out
    root = (base or Path("runs")) / spec_name
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        candidate = root / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            candidate.mkdir(parents=True, exist_ok=False)
            return candidate
        except FileExistsError:
            continue
    raise TrainingError(f"cannot create a run folder under {root}")


def resume_dir(path: Path) -> Path:
    """Check that `path` is a run folder that can be continued."""
    if not (path / "spec.yaml").is_file():
        raise TrainingError(f"{path} is not a kspec run folder (no spec.yaml); --resume takes the folder of a run")
    return path


def write_spec(folder: Path, resolved_yaml: str) -> str:
    """The resolved spec and its SHA-256 (in `spec.sha256` and in the YAML's first line)."""
    digest = spec_hash(resolved_yaml)
    write_text(folder / "spec.yaml", f"# sha256: {digest}\n{resolved_yaml}")
    write_text(folder / "spec.sha256", digest + "\n")
    return digest
