"""`kspec validate`: check specs without importing Keras (text, JSON or GitHub annotations; made for CI)."""

from __future__ import annotations

import argparse
import sys

from kspec.cli.common import (
    INVALID,
    OK,
    USAGE,
    Command,
    add_common,
    counts,
    few_collections,
    find_spec_files,
    import_tensorflow,
    json_report,
    missing_file,
    print_diagnostics,
)
from kspec.errors import SpecError, SpecErrors


def add_arguments(v: argparse.ArgumentParser) -> None:
    v.add_argument("paths", nargs="+", metavar="PATH", help="spec files, or folders to search for *.yaml / *.yml")
    v.add_argument("--deep", action="store_true", help="also build every spec with Keras (imports TensorFlow)")
    v.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text for people (default), one JSON document, or GitHub Actions annotations (summary on stderr)",
    )
    v.add_argument("-v", "--verbose", action="store_true", help="also list layers static inference left unchecked")
    add_common(v, synthetic=True)


def run(args: argparse.Namespace) -> int:
    """Validate specs; text, JSON or GitHub annotations. Exit code 0 when all are valid, 1 when one is not, 2 when a
    path does not exist (the others are still validated)."""
    few_collections()
    import kspec

    if args.deep:
        import_tensorflow()
    files, missing = find_spec_files(args.paths)
    report: list[tuple[str, bool, list[SpecError]]] = [(raw, False, [missing_file(raw)]) for raw in missing]
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
        report.append((str(file), valid, diags))
    if args.format == "json":
        print(json_report(report))
    elif args.format == "github":
        for _, _, diags in report:
            print_diagnostics(diags, "github", args.verbose)
        invalid = sum(not ok for _, ok, _ in report)
        total = f"{len(report)} spec file(s)"
        print(f"kspec: {invalid} of {total} invalid" if invalid else f"kspec: {total} valid", file=sys.stderr)
    else:
        for raw in missing:
            print(f"kspec: error: no such file or folder: {raw}", file=sys.stderr)
        for name, ok, diags in report[len(missing) :]:
            print_diagnostics(diags, args.format, args.verbose)
            c = counts(diags)
            status = "ok" if ok else f"{c['error']} error(s)"
            extra = f", {c['warning']} warning(s)" if c["warning"] else ""
            extra += f", {c['note']} unchecked" if c["note"] else ""
            print(f"{name}: {status}{extra}")
    if missing:
        return USAGE
    return OK if all(ok for _, ok, _ in report) else INVALID


COMMANDS = [Command("validate", "check specs without importing Keras (for CI)", add_arguments, run)]
