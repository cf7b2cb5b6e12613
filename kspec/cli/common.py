"""The command line: parses argv, calls the façade, prints diagnostics, maps outcomes to exit codes.

Exit codes: 0 success, 1 invalid spec or failed run, 2 usage (bad flags, missing files). Keras is imported only by
the commands that build or train.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from . import MAX_PARAMS, MAX_SYNTHETIC_VALUES, __version__
from .errors import SpecError, SpecErrors, render_github, render_text

OK, INVALID, USAGE = 0, 1, 2
MAX_SHOWN = 50


class UsageError(Exception):
    """A problem with the command line itself (exit code 2)."""


def _spec_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            raise UsageError(f"no such file or folder: {raw}")
    return files


def _print_diagnostics(errors: Iterable[SpecError], fmt: str = "text", verbose: bool = False) -> None:
    shown = [e for e in errors if verbose or e.severity != "note"]
    for err in shown[:MAX_SHOWN]:
        print(render_github(err) if fmt == "github" else render_text(err))
    if len(shown) > MAX_SHOWN:
        print(f"... and {len(shown) - MAX_SHOWN} more")


def _counts(errors: Sequence[SpecError]) -> dict[str, int]:
    return {sev: sum(e.severity == sev for e in errors) for sev in ("error", "warning", "note")}


# -- commands ---------------------------------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    """Validate specs; text, JSON or GitHub annotations."""
    import kspec

    files = _spec_files(args.paths)
    report = []
    for file in files:
        try:
            diags = kspec.validate(
                file,
                args.set,
                deep=args.deep,
                allow_unsafe=args.allow_unsafe,
                max_params=args.max_params,
                max_synthetic_values=args.max_synthetic,
            )
            valid = True
        except SpecErrors as exc:
            diags, valid = exc.errors, False
        report.append((file, valid, diags))
    if args.format == "json":
        doc = {
            "version": 1,
            "files": [
                {"file": str(f), "valid": ok, **_counts(d), "diagnostics": [e.to_dict() for e in d]}
                for f, ok, d in report
            ],
            "summary": {"files": len(report), "invalid": sum(not ok for _, ok, _ in report)},
        }
        print(json.dumps(doc, indent=2))
    else:
        for file, ok, diags in report:
            _print_diagnostics(diags, args.format, args.verbose)
            if args.format == "text":
                c = _counts(diags)
                status = "ok" if ok else f"{c['error']} error(s)"
                extra = f", {c['warning']} warning(s)" if c["warning"] else ""
                extra += f", {c['note']} unchecked" if c["note"] else ""
                print(f"{file}: {status}{extra}")
    return OK if all(ok for _, ok, _ in report) else INVALID


def cmd_build(args: argparse.Namespace) -> int:
    """Build a spec with Keras; print a summary (or JSON); save a .keras file."""
    import kspec
    from kspec import compiler

    compiled = kspec.build(
        args.spec,
        args.set,
        allow_unsafe=args.allow_unsafe,
        max_params=args.max_params,
        max_synthetic_values=args.max_synthetic,
    )
    name = args.model or compiled.main
    if name not in compiled.models:
        raise UsageError(f"no model named '{name}'; the spec has: {', '.join(compiled.models)}")
    summary = compiler.summarize(compiled, Path(args.spec).stem)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for model_name, model in compiled.models.items():
            with compiled.freezing(model_name):
                model.summary()
    if args.output:
        with compiled.freezing(name):
            compiled.models[name].save(args.output)
        print(f"saved model '{name}' to {args.output}", file=sys.stderr if args.json else sys.stdout)
    return OK


def cmd_draw(args: argparse.Namespace) -> int:
    """Draw the architecture from the spec, without building it (unless --deep)."""
    import kspec
    from kspec import diagram, shapes

    resolved = kspec.load(args.spec, args.set)
    kspec.check(
        resolved, allow_unsafe=args.allow_unsafe, max_params=args.max_params, max_synthetic_values=args.max_synthetic
    )
    deep_shapes = None
    if args.deep:
        from kspec import compiler

        compiled = kspec.compile_resolved(resolved)
        summary = compiler.summarize(compiled, resolved.spec.name)
        deep_shapes = {lay["name"]: lay["output_shape"] for m in summary["models"] for lay in m["layers"]}
    options = diagram.DrawOptions(
        rankdir=args.rankdir,
        dpi=args.dpi,
        collapse=args.collapse,
        model=args.model,
        show_dtype=args.show_dtype,
        show_trainable=args.show_trainable,
        expand_nested=args.expand_nested,
        show_shapes=not args.no_shapes,
        show_layer_names=not args.no_layer_names,
        show_layer_activations=not args.no_activations,
        show_hyperparams=not args.no_hyperparams,
        show_params=not args.no_params,
        legend=not args.no_legend,
    )
    out = Path(args.output) if args.output else None
    try:
        result = diagram.draw(resolved, out, options=options, shapes=shapes.infer(resolved), deep_shapes=deep_shapes)
    except ValueError as exc:  # an unknown --model or output suffix
        raise UsageError(str(exc)) from None
    if args.output:
        print(f"wrote {result}")
    else:
        print(result)
    return OK


def cmd_train(args: argparse.Namespace) -> int:
    """Train a spec and leave a run folder."""
    import kspec
    from kspec import trainer

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


def cmd_verify(args: argparse.Namespace) -> int:
    """Check a finished run folder against its manifest.json (SHA-256 and size of every file)."""
    from kspec import manifest

    result = manifest.verify(Path(args.run))
    for line in manifest.report(Path(args.run), result):
        print(line)
    return OK if result.ok else INVALID


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a trained model (a run folder or a .keras file) on the spec's test data."""
    import kspec
    from kspec import trainer

    resolved = kspec.load(args.spec, args.set)
    kspec.check(
        resolved, allow_unsafe=args.allow_unsafe, max_params=args.max_params, max_synthetic_values=args.max_synthetic
    )
    target = Path(args.run)
    metrics = trainer.evaluate(resolved, target / "model.keras" if target.is_dir() else target)
    print(json.dumps(metrics, indent=2))
    return OK


def cmd_plot(args: argparse.Namespace) -> int:
    """Redraw the plots of one run, or compare several runs on one figure."""
    from kspec import plots

    for path in plots.plot_runs([Path(r) for r in args.runs], Path(args.output) if args.output else None):
        print(f"wrote {path}")
    return OK


def cmd_schema(args: argparse.Namespace) -> int:
    """Write the JSON Schema for editors and CI."""
    from kspec import schema

    path = schema.write(args.output)
    print(f"wrote {path}")
    return OK


# -- parser -----------------------------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a value of the spec, e.g. --set train.epochs=2 (repeatable)",
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
    p.add_argument(
        "--max-synthetic-values",
        dest="max_synthetic",
        type=int,
        default=MAX_SYNTHETIC_VALUES,
        metavar="N",
        help=f"refuse synthetic data with more values than this (default {MAX_SYNTHETIC_VALUES:,})",
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="kspec", description="Declarative Keras model specs: validate, build, train, draw."
    )
    root.add_argument("--version", action="version", version=f"kspec {__version__}")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
        "validate": (cmd_validate, "check specs without importing Keras (for CI)"),
        "build": (cmd_build, "compile a spec to Keras models and summarise them"),
        "train": (cmd_train, "train a spec; leaves a run folder with model, history and plots"),
        "evaluate": (cmd_evaluate, "evaluate a trained model on the spec's test data"),
        "verify": (cmd_verify, "check a run folder's files against its manifest (SHA-256)"),
        "plot": (cmd_plot, "redraw or compare the plots of runs"),
        "draw": (cmd_draw, "render the architecture with Graphviz"),
        "schema": (cmd_schema, "write the JSON Schema of the spec language"),
    }
    subs = {}
    for name, (func, help_text) in commands.items():
        p = sub.add_parser(name, help=help_text, description=func.__doc__)
        p.set_defaults(func=func)
        subs[name] = p
    v = subs["validate"]
    v.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders")
    v.add_argument("--deep", action="store_true", help="also build every spec with Keras")
    v.add_argument("--format", choices=("text", "json", "github"), default="text")
    v.add_argument("-v", "--verbose", action="store_true", help="also list layers static inference left unchecked")
    b = subs["build"]
    b.add_argument("spec")
    b.add_argument("-o", "--output", help="save the model as a .keras file")
    b.add_argument("--json", action="store_true", help="print a JSON summary instead of Keras's tables")
    b.add_argument("--model", help="which model to save (default: the main model)")
    t = subs["train"]
    t.add_argument("spec")
    t.add_argument("--out", help="run folder (default: runs/<spec-name>/<timestamp>)")
    t.add_argument("--resume", metavar="RUN", help="continue an interrupted run from its last completed epoch")
    t.add_argument(
        "--restart", action="store_true", help="start over in the run folder (--resume RUN or --out RUN), replacing it"
    )
    subs["verify"].add_argument("run", metavar="RUN", help="a run folder")
    e = subs["evaluate"]
    e.add_argument("run", help="a run folder or a .keras file")
    e.add_argument("spec")
    pl = subs["plot"]
    pl.add_argument("runs", nargs="+", metavar="RUN")
    pl.add_argument("-o", "--output", help="figure file for a comparison of several runs")
    d = subs["draw"]
    d.add_argument("spec")
    d.add_argument("-o", "--output", help="FILE.svg|.png|.pdf|.dot (default: print DOT)")
    d.add_argument("--rankdir", choices=("TB", "LR", "BT", "RL"), default="TB")
    d.add_argument("--dpi", type=int, default=None, help="PNG resolution (default: the renderer's, 96)")
    group = d.add_mutually_exclusive_group()
    group.add_argument("--collapse", dest="collapse", action="store_true", help="draw repeated blocks once, ×N")
    group.add_argument("--expand", dest="collapse", action="store_false", help="draw every repetition")
    d.add_argument("--model", help="draw only this model")
    d.add_argument("--deep", action="store_true", help="take shapes from a Keras build")
    d.add_argument("--show-dtype", action="store_true")
    d.add_argument("--show-trainable", action="store_true")
    d.add_argument("--expand-nested", action="store_true", help="draw nested models' layers inside them")
    for flag, what in (
        ("shapes", "output shapes"),
        ("layer-names", "layer names"),
        ("activations", "activations"),
        ("hyperparams", "hyperparameters"),
        ("params", "parameter counts"),
        ("legend", "the colour legend"),
    ):
        d.add_argument(f"--no-{flag}", action="store_true", help=f"do not show {what}")
    s = subs["schema"]
    s.add_argument("-o", "--output", default="schemas/kspec.schema.json")
    for name in ("validate", "build", "train", "evaluate", "draw"):
        _common(subs[name])
    return root


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SpecErrors as exc:
        _print_diagnostics(exc.errors, verbose=getattr(args, "verbose", False))
        n = sum(e.severity == "error" for e in exc.errors)
        print(f"Found {n} error(s)", file=sys.stderr)
        return INVALID
    except UsageError as exc:
        print(f"kspec: error: {exc}", file=sys.stderr)
        return USAGE
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"kspec: error: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        print("kspec: interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, LookupError) as exc:
        print(f"kspec: error: {exc}", file=sys.stderr)
        return INVALID
    except Exception as exc:  # a failure inside Keras or TensorFlow while training: one line, not a traceback
        if os.environ.get("KSPEC_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"kspec: error: {type(exc).__name__}: {first}", file=sys.stderr)
        print("kspec: set KSPEC_DEBUG=1 to see the full traceback", file=sys.stderr)
        return INVALID
