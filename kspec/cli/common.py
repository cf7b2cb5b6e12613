"""What the commands share: exit codes, the usage error, spec-file discovery, the common options, diagnostics."""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from kspec import MAX_PARAMS, MAX_SYNTHETIC_VALUES
from kspec.errors import SpecError, render_github, render_text

OK, INVALID, USAGE = 0, 1, 2
MAX_SHOWN = 50


#: Top-level modules of the optional extras (pyproject.toml) -> the extra that installs them.
EXTRAS = {
    "keras": "keras",
    "tensorflow": "keras",
    "numpy": "keras",
    "matplotlib": "keras",
    "sklearn": "keras",
    "tensorboard": "tensorboard",
    "tf2onnx": "onnx",
    "onnx": "onnx",
    "optuna": "tune",
}


def missing_extra(module: str) -> str | None:
    """The extra to install for a missing module, or None if the module is not from an extra."""
    return EXTRAS.get(module.split(".")[0])


class UsageError(Exception):
    """A problem with the command line itself (exit code 2)."""


class Command(NamedTuple):
    """One subcommand: its name, one-line help, its arguments and what it runs (returns the exit code).
    `whole_parser`: it reads the parser of every command (`args.parser`), so the command line is parsed with that."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    whole_parser: bool = False


def spec_files(paths: Sequence[str]) -> list[Path]:
    """The spec files named or found (recursively) in the folders named; a missing path is a `UsageError`."""
    found, missing = find_spec_files(paths)
    if missing:
        raise UsageError(f"no such file or folder: {missing[0]}")
    return found


def find_spec_files(paths: Sequence[str]) -> tuple[list[Path], list[str]]:
    """The spec files named or found in the folders named, and the paths that do not exist."""
    files: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            missing.append(raw)
    return files, missing


def missing_file(raw: str) -> SpecError:
    """The diagnostic for a path on the command line that does not exist (for the JSON and GitHub formats)."""
    return SpecError(
        f"no such file or folder: {raw}", (), "file-not-found", hint="paths are relative to the current folder"
    )


def json_report(report: Sequence[tuple[str, bool, Sequence[SpecError]]]) -> str:
    """The stable `--format json` document: one entry per file (valid or not, counts, diagnostics), a summary."""
    doc = {
        "version": 1,
        "files": [
            {"file": f, "valid": ok, **counts(d), "diagnostics": [e.to_dict() for e in d]} for f, ok, d in report
        ],
        "summary": {"files": len(report), "invalid": sum(not ok for _, ok, _ in report)},
    }
    return json.dumps(doc, indent=2)


def print_diagnostics(errors: Iterable[SpecError], fmt: str = "text", verbose: bool = False) -> None:
    shown = [e for e in errors if verbose or e.severity != "note"]
    for err in shown[:MAX_SHOWN]:
        print(render_github(err) if fmt == "github" else render_text(err))
    if len(shown) > MAX_SHOWN:
        print(f"... and {len(shown) - MAX_SHOWN} more")


def counts(errors: Sequence[SpecError]) -> dict[str, int]:
    return {sev: sum(e.severity == sev for e in errors) for sev in ("error", "warning", "note")}


def add_common(p: argparse.ArgumentParser, *, synthetic: bool = False) -> None:
    """The options every command that reads a spec takes; `synthetic`: also the data budget (for the commands
    that load data, or check a spec for training)."""
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a value of the spec, e.g. --set train.epochs=2 or --set vars.dropout=0.1 (repeatable)",
    )
    p.add_argument(
        "--allow-unsafe-layers",
        dest="allow_unsafe",
        action="store_true",
        help="allow layers that run code from outside the spec (Lambda, TFSMLayer, ...); never set by a spec",
    )
    p.add_argument(
        "--max-params",
        type=int,
        default=MAX_PARAMS,
        metavar="N",
        help=f"refuse models with more parameters than this (default {MAX_PARAMS:,})",
    )
    if synthetic:
        p.add_argument(
            "--max-synthetic-values",
            dest="max_synthetic",
            type=int,
            default=MAX_SYNTHETIC_VALUES,
            metavar="N",
            help=f"refuse `synthetic` data with more values than this (default {MAX_SYNTHETIC_VALUES:,})",
        )


#: what TensorFlow's native libraries print while they load, once per library (so twice): absl's notice that it
#: logs before being set up (nothing to act on) is dropped, every other line is kept and printed once
_LOAD_NOISE = re.compile(r"All log messages before absl::InitializeLog\(\) is called are written to STDERR")
_LOG_PREFIX = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ ")  # absl's `I0000 00:00:1796169722.338722   28512 `


def few_collections() -> None:
    """For commands that read, check and print, then exit (validate, draw): run Python's cycle collector about 140
    times less often. What they allocate lives until they exit anyway, and the collector's passes over it were 7 to
    12% of the CPU time of `kspec validate specs/` and of drawing 5,000 layers. A pass still runs every 100,000
    allocations, so memory stays bounded (a few MB more at 5,000 layers). Long commands (train) keep the defaults."""
    gc.set_threshold(100_000, 50, 50)


def import_tensorflow() -> None:
    """Import TensorFlow and Keras with their start-up lines printed once, not once per native library.

    The libraries write from C++ straight to file descriptor 2, so the import runs with fd 2 pointed at a temporary
    file, whose lines are then passed on: absl's pre-initialisation notice dropped, repeats (the same text after
    absl's time and thread prefix) shown once.
    """
    if "tensorflow" in sys.modules:
        return
    import tempfile  # here: `validate` and `draw` never need it

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            seen: set[str] = set()
            for line in captured.read().decode("utf-8", "replace").splitlines():
                text = _LOG_PREFIX.sub("", line)
                if _LOAD_NOISE.search(line) or text in seen:
                    continue
                seen.add(text)
                print(line, file=sys.stderr)
