"""File paths written in a spec (data files, callback outputs): they must stay inside a folder. Standard library only
(and `kspec.errors`).

A spec is untrusted input, so a path in it is refused when it is a URL (`https://...`, `file:///...`, `gs://...`),
absolute, or resolves (symlinks followed) outside the folder it is relative to. `validate` and `train` use the same
functions, so a path `kspec validate` accepts is the one `kspec train` opens.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

from kspec.errors import shorten

#: `scheme://...`: Keras and TensorFlow open some of these (gs://, s3://, hdfs://) as remote files
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

Kind = Literal["file", "folder", "any"]


class PathProblem(ValueError):
    """Why a path from a spec is refused: a message and a hint, ready for a `SpecError`."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _parts(rel: str) -> list[str]:
    return [p for p in re.split(r"[/\\]", rel) if p]


def syntax_problem(rel: str, *, allow_parent: bool = True, where: str = "the spec's folder") -> PathProblem | None:
    """What is wrong with `rel` as a path relative to `where`, judged on its text alone (no file system access)."""
    inside = f"use a path relative to {where}, inside it"
    if not rel.strip():
        return PathProblem("the path is empty", f"write a path relative to {where}")
    if "\x00" in rel:
        return PathProblem("the path contains a NUL character", "write a plain relative path")
    if _URL.match(rel):
        return PathProblem(
            f"the path {shorten(rel)} is a URL; kspec reads and writes local files only",
            "download the file next to the spec and give its relative path" if where == "the spec's folder" else inside,
        )
    if PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).is_absolute():
        return PathProblem(f"the path {shorten(rel)} is absolute", inside)
    if PureWindowsPath(rel).drive:
        return PathProblem(f"the path {shorten(rel)} names a drive (`{PureWindowsPath(rel).drive}`)", inside)
    if rel.startswith("~"):
        return PathProblem(f"the path {shorten(rel)} starts with `~`", inside)
    if not allow_parent and ".." in _parts(rel):
        return PathProblem(f"the path {shorten(rel)} contains `..`", f"{inside}, without `..`")
    return None


def resolve_inside(root: Path, rel: str, *, allow_parent: bool = True, where: str = "the spec's folder") -> Path:
    """`rel` resolved against `root` (symlinks followed); raises `PathProblem` if it is not a path inside `root`."""
    problem = syntax_problem(rel, allow_parent=allow_parent, where=where)
    if problem is not None:
        raise problem
    base = root.resolve()
    full = (base / rel).resolve()
    if not full.is_relative_to(base):
        raise PathProblem(
            f"the path {shorten(rel)} leaves {where} ({base}): it resolves to {full}",
            f"files must be inside {where}; use a relative path without `..` or links that leave it",
        )
    return full


def kind_problem(full: Path, rel: str, kind: Kind) -> PathProblem | None:
    """What is wrong with the existing `full` as a `kind` (regular file, folder); None also when it does not exist."""
    try:
        mode = full.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return PathProblem(f"the path {shorten(rel)} cannot be read ({exc.strerror})", "check the file's permissions")
    if stat.S_ISREG(mode):
        if kind == "folder":
            return PathProblem(
                f"the path {shorten(rel)} is a file, not a folder", "this source reads a folder of files"
            )
        return None
    if stat.S_ISDIR(mode):
        if kind == "file":
            return PathProblem(f"the path {shorten(rel)} is a folder, not a file", "give the path of the file itself")
        return None
    return PathProblem(
        f"the path {shorten(rel)} is not a regular file or folder (a device, pipe or socket)",
        "point at a regular file inside the spec's folder",
    )
