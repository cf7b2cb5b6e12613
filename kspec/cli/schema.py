"""`kspec schema`: write the JSON Schema of the spec language (for editors and CI)."""

from __future__ import annotations

import argparse

from kspec.cli.common import OK, Command


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("-o", "--output", default="schemas/kspec.schema.json")


def run(args: argparse.Namespace) -> int:
    """Write the JSON Schema for editors and CI."""
    from kspec.lang import schema

    path = schema.write(args.output)
    print(f"wrote {path}")
    return OK


COMMANDS = [Command("schema", "write the JSON Schema of the spec language", add_arguments, run)]
