"""`kspec export`: a trained model to SavedModel, LiteRT or ONNX (Keras's own `Model.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kspec.cli.common import OK, Command, add_common

FORMAT_NAMES = ("savedmodel", "litert", "onnx")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="RUN|MODEL.keras|SPEC", help="a run folder, a .keras file, or a spec file")
    p.add_argument("weights", metavar="WEIGHTS", nargs="?", help="with a spec: a .weights.h5 or .keras file")
    p.add_argument("--format", "-f", choices=FORMAT_NAMES, required=True, help="the deployment format")
    p.add_argument("-o", "--output", metavar="PATH", help="where to write it (default: EXPORT_DIR/<format's file>)")
    p.add_argument("--model", help="with a spec of several models: which one (default: the main model)")
    p.add_argument("--check", action="store_true", help="load the export with its own runtime and compare its "
                   "outputs with Keras's on random inputs")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace an existing output")
    add_common(p)


def _default_output(source: Path, filename: str) -> Path:
    """A run folder keeps its exports in RUN/export/; otherwise next to the source, in <stem>_export/."""
    if source.is_dir():
        return source / "export" / filename
    stem = source.name.removesuffix(".keras").removesuffix(".yaml").removesuffix(".yml")
    return source.parent / f"{stem}_export" / filename


def run(args: argparse.Namespace) -> int:
    """Export a trained model (run folder, .keras file, or spec + weights) to SavedModel, LiteRT or ONNX."""
    from kspec import export

    source = Path(args.source)
    if not source.exists():
        raise FileNotFoundError(2, "No such file or directory", str(source))
    fmt = export.FORMATS[args.format]
    model = export.load_source(source, Path(args.weights) if args.weights else None, model=args.model,
                               overrides=args.set)  # fmt: skip
    out = Path(args.output) if args.output else _default_output(source, fmt.filename)
    export.export(model, fmt.name, out, overwrite=args.force)
    from kspec.export.formats import size_of

    print(f"exported {fmt.name} to {out} ({size_of(out) / 1e6:.2f} MB) — for {fmt.purpose}")
    if args.check:
        diff = export.compare(model, fmt.name, out)
        print(f"checked with {fmt.runtime}: largest |difference| from Keras on 4 random inputs = {diff:.2e}")
    return OK


COMMANDS = [Command("export", "export a trained model to SavedModel, LiteRT or ONNX", add_arguments, run)]
