"""`kspec import`: write a readable spec (and its weights) from a `.keras` file or a `keras.applications` model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kspec.cli.common import INVALID, OK, Command, UsageError, print_diagnostics


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source", metavar="SOURCE", help="a .keras file, or keras.applications.NAME (built with weights=None)"
    )
    p.add_argument("-o", "--output", required=True, metavar="SPEC.yaml", help="the spec file to write")
    p.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an argument of the application, read as YAML, e.g. --arg input_shape=[64,64,3] --arg classes=10",
    )
    p.add_argument(
        "--no-weights",
        dest="weights",
        action="store_false",
        help="do not write SPEC.weights.h5 and leave `init:` out of the spec",
    )
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="write the spec even when some layers cannot be expressed (marked NOT-IMPORTED; it does not validate)",
    )
    p.add_argument("--force", action="store_true", help="overwrite SPEC.yaml if it exists")


def _options(pairs: list[str]) -> dict[str, Any]:
    from kspec.errors import SpecErrors
    from kspec.lang.loader import parse_text

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(f"--arg {pair!r} is not of the form NAME=VALUE")
        try:
            out[key.strip()] = parse_text(raw, "<--arg>").data
        except SpecErrors as exc:
            raise UsageError(f"--arg {pair!r}: {exc.errors[0].message}") from None
    return out


def run(args: argparse.Namespace) -> int:
    """Import a Keras model as a spec: defaults, repeats and blocks found, layer names kept, weights beside it."""
    from kspec.porting import import_model
    from kspec.porting.sources import SourceError

    out = Path(args.output)
    if out.suffix not in (".yaml", ".yml"):
        raise UsageError(f"the output {args.output} must end with .yaml or .yml")
    if out.exists() and not args.force:
        raise UsageError(f"{args.output} exists; pass --force to overwrite it")
    if not out.parent.is_dir():
        raise UsageError(f"no such folder: {out.parent}")
    try:
        report = import_model(args.source, out, _options(args.arg), weights=args.weights)
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    if report.problems:
        print_diagnostics(report.diagnostics(args.source))
        if not args.allow_partial:
            print(
                f"kspec: {len(report.problems)} layer(s) cannot be expressed as a spec; nothing written "
                "(--allow-partial writes the rest with NOT-IMPORTED placeholders)",
                file=sys.stderr,
            )
            return INVALID
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(report.text, encoding="utf-8")
    tmp.replace(out)
    c = report.composed
    blocks = ", ".join(f"{name} x{n}" for name, n in c.blocks.items()) or "none"
    print(f"wrote {out}: {report.imported.layer_count()} layers in {c.lines} lines; blocks: {blocks}")
    if "$schema=kspec.schema.json" in report.text.splitlines()[0]:
        print(
            "the modeline names kspec.schema.json beside the spec; "
            f"`kspec schema -o {out.parent / 'kspec.schema.json'}` writes it"
        )
    if report.weights is not None:
        print(f"wrote {report.weights} (`init: {{weights: {report.weights.name}}}`)")
    if report.problems:
        print(
            f"kspec: {len(report.problems)} layer(s) are NOT-IMPORTED placeholders; the spec does not validate",
            file=sys.stderr,
        )
        return INVALID
    return OK


COMMANDS = [Command("import", "write a spec from a .keras file or a keras.applications model", add_arguments, run)]
