"""`kspec schema`: the JSON Schema of the spec language (for editors and CI)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kspec.cli.common import OK, Command, UsageError


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("-o", "--output", default=None, help="write it here (default: schemas/kspec.schema.json and the "
                   "package's own copy, as in a kspec checkout)")  # fmt: skip
    what = s.add_mutually_exclusive_group()
    what.add_argument("--print", action="store_true", help="write the schema to standard output instead")
    what.add_argument("--path", action="store_true", help="print the path of the schema file the package ships")


def run(args: argparse.Namespace) -> int:
    """Write the JSON Schema for editors and CI (`--print` to stdout, `--path` for the installed copy).

    Without -o it regenerates `schemas/kspec.schema.json` of the checkout it is run in; anywhere else (no schemas/
    folder here) it asks for -o, --print or --path rather than creating a schemas/ folder.
    """
    from kspec.lang import schema

    if args.print:
        sys.stdout.write(schema.dumps(schema.generate()))
    elif args.path:
        print(schema.package_path())
    else:
        if args.output is None and not Path(schema.DEFAULT_PATH).parent.is_dir():
            raise UsageError(
                f"no {Path(schema.DEFAULT_PATH).parent}/ folder here to regenerate {schema.DEFAULT_PATH} in (run it in "
                "a kspec checkout); pass -o FILE to write the schema elsewhere, --print to print it, or --path for "
                "the installed copy"
            )
        path = schema.write(args.output or schema.DEFAULT_PATH, package_copy=args.output is None)
        print(f"wrote {path}")
    return OK


COMMANDS = [Command("schema", "the JSON Schema of the spec language (write, --print or --path)", add_arguments, run)]
