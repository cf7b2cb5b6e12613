"""Stage 7, report: `manifest.json`, the SHA-256 and size of every file of a finished run, and `kspec verify`.

`write` runs last in `kspec train` (after the model, history, metrics and plots; before the checkpoint folder is
removed) and writes the manifest atomically, so a run folder with a manifest is complete. `verify` re-hashes the
listed files. Standard library only; no file contents are ever echoed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from kspec.training import runs
from kspec.training.lock import LOCK_FILE

VERSION = 1
#: files every finished run has: a manifest that does not list one of them fails `verify` (it was edited)
REQUIRED = ("spec.yaml", "spec.sha256", "model.keras", "history.json", "history.csv", "metrics.json", "summary.txt")
MAX_MANIFEST_BYTES = 16 * 2**20
_CHUNK = 2**20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _listed(run_dir: Path) -> list[Path]:
    """The files a manifest covers: regular files under the run folder, except the manifest itself, the checkpoint
    folder (removed once the run is finished) and temporary files and folders; symbolic links are neither listed nor
    followed."""
    out = []
    for root, dirs, files in os.walk(run_dir):  # followlinks=False
        here = Path(root)
        if here == run_dir:
            dirs[:] = [d for d in dirs if d != runs.CHECKPOINTS]
        dirs[:] = sorted(d for d in dirs if not runs.is_temp(d))  # a folder being written (`atomic_path_alone`)
        for name in sorted(files):
            path = here / name
            if runs.is_temp(name) or path.is_symlink() or not path.is_file():
                continue
            if here == run_dir and name in (runs.MANIFEST, LOCK_FILE):
                continue
            out.append(path)
    return out


def write(run_dir: Path) -> Path:
    """Hash every file of the run folder into `manifest.json` (file -> sha256 and size), atomically."""
    files = {
        p.relative_to(run_dir).as_posix(): {"sha256": sha256_of(p), "size": p.stat().st_size} for p in _listed(run_dir)
    }
    return runs.write_json(run_dir / runs.MANIFEST, {"version": VERSION, "algorithm": "sha256", "files": files})


@dataclass
class Verification:
    """What `verify` found: files that match, and those that are missing, differ or may not be read."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)
    differ: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    unrecorded: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every listed file matches, no file is left out of the manifest, and no other file was added."""
        return not (self.missing or self.differ or self.invalid or self.unlisted or self.unrecorded)


class ManifestError(RuntimeError):
    """The folder has no readable manifest (not a finished kspec run, or the manifest itself is damaged)."""


def _safe_entry(run_dir: Path, name: str) -> Path | None:
    """`name` as a path inside the run folder, or None for absolute paths, `..` and links that lead outside."""
    rel = PurePosixPath(name)
    if not name or rel.is_absolute() or ".." in rel.parts or "\\" in name or any(ord(c) < 32 for c in name):
        return None
    path = run_dir.joinpath(*rel.parts)
    try:
        if not path.resolve().is_relative_to(run_dir.resolve()):
            return None
    except (OSError, RuntimeError):
        return None
    return path


def _load(run_dir: Path) -> dict[str, Any]:
    path = run_dir / runs.MANIFEST
    if not run_dir.is_dir():
        raise ManifestError(f"{run_dir} is not a folder")
    if not path.is_file():
        raise ManifestError(
            f"{run_dir} has no {runs.MANIFEST}: not a finished kspec run (a run writes it last, once everything "
            "else is saved)"
        )
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{path} is larger than {MAX_MANIFEST_BYTES // 2**20} MiB; not a kspec manifest")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"{path} is not valid JSON ({type(exc).__name__}); the manifest is damaged") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), dict) or doc.get("version") != VERSION:
        raise ManifestError(f"{path} is not a kspec manifest (version {VERSION} with a `files` table)")
    return doc


def verify(run_dir: Path) -> Verification:
    """Re-hash every file `manifest.json` lists.

    Raises:
        ManifestError: no manifest, or one that cannot be read.
    """
    doc = _load(run_dir)
    result = Verification()
    for name, entry in doc["files"].items():
        path = _safe_entry(run_dir, name)
        ok_entry = (
            isinstance(entry, dict) and isinstance(entry.get("sha256"), str) and isinstance(entry.get("size"), int)
        )
        if path is None or not ok_entry:
            result.invalid.append(name)
            continue
        result.checked += 1
        if path.is_symlink() or not path.is_file():
            result.missing.append(name)
        elif path.stat().st_size != entry["size"] or sha256_of(path) != entry["sha256"]:
            result.differ.append(name)
    listed = set(doc["files"])
    result.unrecorded = [n for n in REQUIRED if n not in listed]
    result.unlisted = [
        n
        for n in (p.relative_to(run_dir).as_posix() for p in _listed(run_dir))
        if n not in listed and n not in result.unrecorded
    ]
    return result


def report(run_dir: Path, result: Verification) -> list[str]:
    """Human-readable lines for `kspec verify` (names shortened and escaped)."""
    from kspec.errors import shorten

    lines = [f"missing: {shorten(n, 200)}" for n in result.missing]
    lines += [f"differs: {shorten(n, 200)}" for n in result.differ]
    lines += [f"invalid entry: {shorten(n, 200)}" for n in result.invalid]
    lines += [f"not in the manifest: {shorten(n, 200)} (every run writes it)" for n in result.unrecorded]
    lines += [f"not in the manifest: {shorten(n, 200)}" for n in result.unlisted]
    bad = len(result.missing) + len(result.differ) + len(result.invalid)
    if result.ok:
        lines.append(f"{run_dir}: ok, {result.checked} file(s) match {runs.MANIFEST}")
    else:
        extra = len(result.unrecorded) + len(result.unlisted)
        lines.append(
            f"{run_dir}: {bad} of {result.checked + len(result.invalid)} listed file(s) missing or different"
            + (f", {extra} file(s) not in the manifest" if extra else "")
        )
    return lines
