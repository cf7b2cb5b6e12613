"""`kspec train` (a spec -> a run folder with model, history and plots) and `kspec evaluate`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from kspec.cli.common import INVALID, OK, Command, UsageError, add_common, import_tensorflow

#: set by `--workers N` for the workers it starts: the chief's resume command then repeats `--workers N`
WORKERS_ENV = "KSPEC_WORKERS"


def add_train_arguments(t: argparse.ArgumentParser) -> None:
    t.add_argument("spec", metavar="SPEC", help="the spec file to train")
    t.add_argument("--out", metavar="RUN", help="run folder (default: runs/<spec-name>/<timestamp>)")
    t.add_argument("--resume", metavar="RUN", help="continue an interrupted run from its last completed epoch")
    t.add_argument(
        "--restart", action="store_true", help="start over in the run folder (--resume RUN or --out RUN), replacing it"
    )
    t.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run a `distribute: multi_worker` spec as N worker processes on this machine (127.0.0.1, TF_CONFIG set "
        "for each; worker 0 writes the run folder)",
    )
    add_common(t, synthetic=True)


def add_evaluate_arguments(e: argparse.ArgumentParser) -> None:
    e.add_argument("run", metavar="RUN", help="a run folder or a .keras file")
    e.add_argument(
        "spec",
        nargs="?",
        metavar="SPEC",
        help="the spec whose test data to use (default: the run folder's own spec.yaml, its data read where the "
        "spec it was trained from is)",
    )
    e.add_argument("--json", action="store_true", help="print the metrics as a JSON object")
    add_common(e, synthetic=True)


def run_train(args: argparse.Namespace) -> int:
    """Train a spec and leave a run folder."""
    if args.workers is not None:
        return _launch(args)
    import signal  # here, with shlex below: command modules stay light to import (`kspec validate` imports this one)

    import_tensorflow()
    import kspec
    from kspec.training import trainer

    resolved = kspec.load(args.spec, args.set)
    kspec.check(
        resolved, allow_unsafe=args.allow_unsafe, max_params=args.max_params, max_synthetic_values=args.max_synthetic
    )
    from kspec.training.interrupts import sigterm_as_interrupt
    from kspec.training.runs import DiskFull, Interrupted

    previous = signal.signal(
        signal.SIGTERM, sigterm_as_interrupt
    )  # SIGTERM ends training like Ctrl-C: saved, resumable
    try:
        result = trainer.train(
            resolved,
            out=Path(args.out) if args.out else None,
            resume=Path(args.resume) if args.resume else None,
            restart=args.restart,
        )
    except Interrupted as stop:
        _end_progress_line()
        if stop.worker:
            print(f"kspec: interrupted ({stop.signal_name}); this worker stopped together with the others; worker 0 "
                  "names the checkpoint and the resume command", file=sys.stderr)  # fmt: skip
        elif stop.epoch is None:
            print(f"kspec: interrupted ({stop.signal_name}) before the first epoch ended; nothing to resume, and the "
                  f"new run folder {stop.run_dir} was removed", file=sys.stderr)  # fmt: skip
        elif resolved.spec.train is not None and resolved.spec.train.distribute == "multi_worker":
            launched = os.environ.get(WORKERS_ENV, "")
            where = "" if launched else " (on worker 0; every other worker runs its own command again)"
            print(f"kspec: interrupted ({stop.signal_name}); the run folder {stop.run_dir} holds the checkpoint after "
                  f"epoch {stop.epoch}; resume with{where}:", file=sys.stderr)  # fmt: skip
            print(resume_command(args, stop.run_dir, workers=int(launched) if launched.isdigit() else None),
                  file=sys.stderr)  # fmt: skip
        else:
            print(f"kspec: interrupted ({stop.signal_name}); the run folder {stop.run_dir} holds the checkpoint "
                  f"after epoch {stop.epoch}; resume with:", file=sys.stderr)  # fmt: skip
            print(resume_command(args, stop.run_dir), file=sys.stderr)
        return 128 + (signal.SIGTERM if stop.signal_name == "SIGTERM" else signal.SIGINT)
    except DiskFull as full:
        _end_progress_line()
        print(f"kspec: error: {full}", file=sys.stderr)
        if full.epoch is not None:
            print("kspec: free some space, then resume with:", file=sys.stderr)
            print(resume_command(args, full.run_dir), file=sys.stderr)
        return INVALID
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(result.summary)
    return OK


def _launch(args: argparse.Namespace) -> int:
    """`--workers N`: the spec is checked here (no TensorFlow), then trained by N local worker processes."""
    import kspec
    from kspec.training.launcher import launch

    if not 1 <= args.workers <= 64:
        raise UsageError("--workers takes 1 to 64 worker processes")
    if os.environ.get("TF_CONFIG"):
        raise UsageError("--workers sets each worker's TF_CONFIG itself; unset TF_CONFIG, or drop --workers")
    resolved = kspec.load(args.spec, args.set)
    train = resolved.spec.train
    if train is None or train.distribute != "multi_worker":
        raise UsageError(
            "--workers needs `train.distribute: multi_worker` in the spec (or --set train.distribute=multi_worker)"
        )
    common = [args.spec, *(x for value in args.set for x in ("--set", value))]
    common += ["--max-params", str(args.max_params), "--max-synthetic-values", str(args.max_synthetic)]
    if args.allow_unsafe:
        common.append("--allow-unsafe-layers")
    chief = ["train", *common, *(["--out", args.out] if args.out else [])]
    chief += [*(["--resume", args.resume] if args.resume else []), *(["--restart"] if args.restart else [])]
    return launch(args.workers, chief, ["train", *common], {WORKERS_ENV: str(args.workers)})


def _end_progress_line() -> None:
    """Keras's progress bar leaves the cursor after the bar: start the message on a line of its own."""
    sys.stdout.flush()
    if sys.stdout.isatty() or sys.stderr.isatty():
        print(file=sys.stderr)


def resume_command(args: argparse.Namespace, run_dir: Path, workers: int | None = None) -> str:
    """The exact command that continues this run: the same spec, `--set` values and switches, `--resume RUN` (and
    `--workers N` for a job `--workers N` started)."""
    parts = ["kspec", "train", args.spec, "--resume", str(run_dir)]
    if workers is not None:
        parts += ["--workers", str(workers)]
    for value in args.set or ():
        parts += ["--set", value]
    if getattr(args, "allow_unsafe", False):
        parts.append("--allow-unsafe-layers")
    from kspec import MAX_PARAMS, MAX_SYNTHETIC_VALUES

    if getattr(args, "max_params", MAX_PARAMS) != MAX_PARAMS:
        parts += ["--max-params", str(args.max_params)]
    if getattr(args, "max_synthetic", MAX_SYNTHETIC_VALUES) != MAX_SYNTHETIC_VALUES:
        parts += ["--max-synthetic-values", str(args.max_synthetic)]
    import shlex

    return shlex.join(parts)


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a trained model (a run folder or a .keras file) on the test data of the run's spec (or SPEC)."""
    import_tensorflow()
    import kspec
    from kspec.training import runs, status, trainer

    target = Path(args.run)
    own = target / runs.SPEC_FILE
    if args.spec is None and not own.is_file():
        raise UsageError(f"{target} is not a run folder with its own {runs.SPEC_FILE}; pass the spec: RUN SPEC")
    resolved = kspec.load(args.spec or own, args.set)
    origin = status.read_record(target).get("spec_file") if args.spec is None else None
    if isinstance(origin, str):
        resolved.doc.base = Path(origin).parent  # the data paths of the spec the run was trained from
    kspec.check(
        resolved, allow_unsafe=args.allow_unsafe, max_params=args.max_params, max_synthetic_values=args.max_synthetic
    )
    model = target / "model.keras" if target.is_dir() else target
    metrics = trainer.evaluate(resolved, model)
    if args.json:
        print(json.dumps(metrics, indent=2))
        return OK
    print(f"{model} on the test data of {args.spec or own}:")
    width = max((len(k) for k in metrics), default=0)
    for key, value in metrics.items():
        print(f"  {key.ljust(width)}  {value:.4f}")
    return OK


COMMANDS = [
    Command("train", "train a spec; leaves a run folder with model, history and plots", add_train_arguments, run_train),
    Command("evaluate", "evaluate a trained model on the spec's test data", add_evaluate_arguments, run_evaluate),
]
