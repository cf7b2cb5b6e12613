"""`kspec build`: compile a spec to Keras models, print their summaries (or JSON), save a .keras file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kspec.cli.common import OK, Command, UsageError, add_common, import_tensorflow


def add_arguments(b: argparse.ArgumentParser) -> None:
    b.add_argument("spec", metavar="SPEC", help="the spec file to build")
    b.add_argument("-o", "--output", metavar="FILE", help="save the model as a .keras file")
    b.add_argument(
        "--json", action="store_true", help="print a JSON summary instead of Keras's tables (errors as JSON too)"
    )
    b.add_argument("--model", help="which model to save (default: the main model)")
    add_common(b)


def run(args: argparse.Namespace) -> int:
    """Build a spec with Keras; print a summary (or JSON); save a .keras file."""
    import_tensorflow()
    import kspec
    from kspec import compiler

    compiled = kspec.build(
        args.spec,
        args.set,
        allow_unsafe=args.allow_unsafe,
        max_params=args.max_params,
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
        from kspec.training.runs import atomic_path

        target = Path(args.output)
        suffix = ".weights.h5" if target.name.endswith(".weights.h5") else target.suffix
        with compiled.freezing(name), atomic_path(target, suffix) as tmp:  # a kill keeps the file that was there
            compiled.models[name].save(tmp)
        print(f"saved model '{name}' to {args.output}", file=sys.stderr if args.json else sys.stdout)
    return OK


COMMANDS = [Command("build", "compile a spec to Keras models and summarise them", add_arguments, run)]
