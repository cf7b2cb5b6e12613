"""Commands on run folders: `kspec verify` (files against the manifest) and `kspec plot` (redraw or compare)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kspec.cli.common import INVALID, OK, Command


def add_verify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="a run folder")


def add_plot_arguments(pl: argparse.ArgumentParser) -> None:
    pl.add_argument("runs", nargs="+", metavar="RUN", help="run folders (one: redraw its plots; several: compare)")
    pl.add_argument("-o", "--output", help="figure file for a comparison of several runs")


def run_verify(args: argparse.Namespace) -> int:
    """Check a finished run folder against its manifest.json (SHA-256 and size of every file)."""
    from kspec.training import manifest

    result = manifest.verify(Path(args.run))
    for line in manifest.report(Path(args.run), result):
        print(line)
    return OK if result.ok else INVALID


def run_plot(args: argparse.Namespace) -> int:
    """Redraw the plots of one run, or compare several runs on one figure."""
    from kspec.training import plots

    for path in plots.plot_runs([Path(r) for r in args.runs], Path(args.output) if args.output else None):
        print(f"wrote {path}")
    return OK


COMMANDS = [
    Command("verify", "check a run folder's files against its manifest (SHA-256)", add_verify_arguments, run_verify),
    Command("plot", "redraw or compare the plots of runs", add_plot_arguments, run_plot),
]
