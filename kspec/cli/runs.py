"""Commands on run folders: `kspec runs` (list them), `kspec verify` (files against the manifest) and `kspec plot`
(redraw or compare)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kspec.cli.common import INVALID, OK, Command, UsageError


def add_list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "folders", nargs="*", metavar="FOLDER", help="run folders, or folders to search for them (default: runs)"
    )


def add_verify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="a run folder")


def add_plot_arguments(pl: argparse.ArgumentParser) -> None:
    pl.add_argument("runs", nargs="+", metavar="RUN", help="run folders (one: redraw its plots; several: compare)")
    pl.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="a figure file (.png, .svg, .pdf: every metric in it), or a folder for one PNG per metric "
        "(default: the run's folder, or runs/compare for several)",
    )


def run_list(args: argparse.Namespace) -> int:
    """List run folders: name, start time, status (complete, running, interrupted, failed), epochs, best loss."""
    from kspec.training import status

    roots = [Path(f) for f in args.folders or ["runs"]]
    for root in roots:
        if not root.is_dir():
            raise UsageError(f"no such folder: {root}")
    rows = [("RUN", "STARTED", "STATUS", "EPOCHS", "BEST")]
    for info in status.find_runs(roots):
        total = info.epochs if info.epochs is not None else "?"
        started = info.started.replace("T", " ").removesuffix("+00:00")
        rows.append((str(info.path), started, info.state, f"{info.epochs_done}/{total}", info.best or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]).rstrip())
    return OK


def run_verify(args: argparse.Namespace) -> int:
    """Check a finished run folder against its manifest.json (SHA-256 and size of every file)."""
    from kspec.training import manifest

    result = manifest.verify(Path(args.run))
    for line in manifest.report(Path(args.run), result):
        print(line)
    return OK if result.ok else INVALID


def run_plot(args: argparse.Namespace) -> int:
    """Redraw the plots of one run, or compare several runs on one figure (runs without a finished epoch are
    skipped with a note)."""
    from kspec.training import compare

    for path in compare.plot_runs([Path(r) for r in args.runs], Path(args.output) if args.output else None):
        print(f"wrote {path}")
    return OK


COMMANDS = [
    Command("runs", "list run folders with their status, epochs and best loss", add_list_arguments, run_list),
    Command("verify", "check a run folder's files against its manifest (SHA-256)", add_verify_arguments, run_verify),
    Command("plot", "redraw or compare the plots of runs", add_plot_arguments, run_plot),
]
