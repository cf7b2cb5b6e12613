"""`kspec train` (a spec -> a run folder with model, history and plots) and `kspec evaluate`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kspec.cli.common import OK, Command, add_common, import_tensorflow


def add_train_arguments(t: argparse.ArgumentParser) -> None:
    t.add_argument("spec", metavar="SPEC", help="the spec file to train")
    t.add_argument("--out", metavar="RUN", help="run folder (default: runs/<spec-name>/<timestamp>)")
    t.add_argument("--resume", metavar="RUN", help="continue an interrupted run from its last completed epoch")
    t.add_argument(
        "--restart", action="store_true", help="start over in the run folder (--resume RUN or --out RUN), replacing it"
    )
    add_common(t, synthetic=True)


def add_evaluate_arguments(e: argparse.ArgumentParser) -> None:
    e.add_argument("run", help="a run folder or a .keras file")
    e.add_argument("spec", metavar="SPEC", help="the spec file the model was trained from")
    add_common(e, synthetic=True)


def run_train(args: argparse.Namespace) -> int:
    """Train a spec and leave a run folder."""
    import_tensorflow()
    import kspec
    from kspec.training import trainer

    resolved = kspec.load(args.spec, args.set)
    kspec.check(
        resolved, allow_unsafe=args.allow_unsafe, max_params=args.max_params, max_synthetic_values=args.max_synthetic
    )
    result = trainer.train(
        resolved,
        out=Path(args.out) if args.out else None,
        resume=Path(args.resume) if args.resume else None,
        restart=args.restart,
    )
    print(result.summary)
    return OK


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a trained model (a run folder or a .keras file) on the spec's test data."""
    import_tensorflow()
    import kspec
    from kspec.training import trainer

    resolved = kspec.load(args.spec, args.set)
    kspec.check(
        resolved, allow_unsafe=args.allow_unsafe, max_params=args.max_params, max_synthetic_values=args.max_synthetic
    )
    target = Path(args.run)
    metrics = trainer.evaluate(resolved, target / "model.keras" if target.is_dir() else target)
    print(json.dumps(metrics, indent=2))
    return OK


COMMANDS = [
    Command("train", "train a spec; leaves a run folder with model, history and plots", add_train_arguments, run_train),
    Command("evaluate", "evaluate a trained model on the spec's test data", add_evaluate_arguments, run_evaluate),
]
