"""`kspec tune`: run (or continue) the hyperparameter search of a spec's `search:` section with Optuna."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kspec.cli.common import INVALID, OK, Command, UsageError


def add_arguments(t: argparse.ArgumentParser) -> None:
    t.add_argument("spec", help="the spec file, with a `search:` section")
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a value of the spec for every trial, e.g. --set train.epochs=2 (repeatable)",
    )
    t.add_argument("--out", help="the study folder (default: runs/<spec-name>/tune)")
    t.add_argument(
        "--storage",
        metavar="URL",
        help="an Optuna RDB storage shared by several workers, e.g. postgresql://user@host/db "
        "(default: SQLite study.db in the study folder)",
    )
    t.add_argument("--study", metavar="NAME", help="the study's name in the storage (default: the spec's name)")
    t.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes to start here (default 1)")
    t.add_argument("--restart", action="store_true", help="delete the study and its trial folders, then start over")
    t.add_argument("--no-plots", dest="plots", action="store_false", help="skip the study plots")
    t.add_argument("-v", "--verbose", action="store_true", help="show each trial's training progress")
    t.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    t.add_argument("--seed-offset", type=int, default=0, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Search the values the spec's `search:` section names; each trial is a run folder under the study folder."""
    from kspec import tuning

    if not tuning.available():
        print(f"kspec: error: {tuning.INSTALL_HINT}", file=sys.stderr)
        return INVALID
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    try:
        result = tuning.tune(
            args.spec,
            args.set,
            folder=Path(args.out) if args.out else None,
            storage_url=args.storage,
            study_name=args.study,
            workers=args.workers,
            restart=args.restart,
            verbose=args.verbose,
            plots=args.plots,
            worker=args.worker,
            seed_offset=args.seed_offset,
        )
    except tuning.TuneError as exc:
        print(f"kspec: error: {exc}", file=sys.stderr)
        return INVALID
    if args.worker:
        return OK
    for note in result.notes:
        print(f"kspec: {note}", file=sys.stderr)
    if result.best is None:
        print(f"kspec tune: no trial completed; {result.folder}/trials.csv lists them", file=sys.stderr)
        return INVALID
    best = result.best
    values = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best["values"].items())
    print(f"best trial {best['number']}: {best['value']:.4g} with {values}")
    print(f"study folder {result.folder} (best.yaml, trials.csv, plots/); kspec train {result.folder / 'best.yaml'}")
    return OK


COMMANDS = [Command("tune", "search hyperparameters (the spec's `search:` section) with Optuna", add_arguments, run)]
