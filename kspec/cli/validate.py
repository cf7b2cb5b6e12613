"""`kspec validate`: check specs without importing Keras (text, JSON or GitHub annotations; made for CI)."""

from __future__ import annotations

import argparse
import json

from kspec.cli.common import INVALID, OK, Command, add_common, counts, print_diagnostics, spec_files
from kspec.errors import SpecErrors


def add_arguments(v: argparse.ArgumentParser) -> None:
    v.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders")
    v.add_argument("--deep", action="store_true", help="also build every spec with Keras")
    v.add_argument("--format", choices=("text", "json", "github"), default="text")
    v.add_argument("-v", "--verbose", action="store_true", help="also list layers static inference left unchecked")
    add_common(v)


def run(args: argparse.Namespace) -> int:
    """Validate specs; text, JSON or GitHub annotations."""
    import kspec

    files = spec_files(args.paths)
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
                {"file": str(f), "valid": ok, **counts(d), "diagnostics": [e.to_dict() for e in d]}
                for f, ok, d in report
            ],
            "summary": {"files": len(report), "invalid": sum(not ok for _, ok, _ in report)},
        }
        print(json.dumps(doc, indent=2))
    else:
        for file, ok, diags in report:
            print_diagnostics(diags, args.format, args.verbose)
            if args.format == "text":
                c = counts(diags)
                status = "ok" if ok else f"{c['error']} error(s)"
                extra = f", {c['warning']} warning(s)" if c["warning"] else ""
                extra += f", {c['note']} unchecked" if c["note"] else ""
                print(f"{file}: {status}{extra}")
    return OK if all(ok for _, ok, _ in report) else INVALID


COMMANDS = [Command("validate", "check specs without importing Keras (for CI)", add_arguments, run)]
