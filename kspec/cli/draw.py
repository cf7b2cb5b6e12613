"""`kspec draw`: render the architecture with Graphviz from the spec alone (a Keras build only with --deep)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kspec.cli.common import OK, Command, UsageError, add_common, few_collections, import_tensorflow


def add_arguments(d: argparse.ArgumentParser) -> None:
    d.add_argument("spec", metavar="SPEC", help="the spec file to draw")
    d.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="FILE.svg, .png, .pdf or .dot (default: <SPEC's name>.svg in the current folder); - prints the DOT text",
    )
    d.add_argument(
        "--rankdir",
        choices=("TB", "LR", "BT", "RL"),
        default="TB",
        help="direction of the flow: top to bottom (default), left to right, bottom to top, right to left",
    )
    d.add_argument("--dpi", type=int, default=None, help="PNG resolution (default: the renderer's, 96)")
    group = d.add_mutually_exclusive_group()
    group.add_argument("--collapse", dest="collapse", action="store_true", help="draw repeated blocks once, ×N")
    group.add_argument("--expand", dest="collapse", action="store_false", help="draw every repetition")
    d.add_argument("--model", help="draw only this model (default: every model of the spec)")
    d.add_argument("--deep", action="store_true", help="take shapes from a Keras build (imports TensorFlow)")
    d.add_argument("--show-dtype", action="store_true", help="show each layer's dtype")
    d.add_argument("--show-trainable", action="store_true", help="mark trainable and frozen layers")
    d.add_argument(
        "--expand-nested", action="store_true", help="draw nested models' (and applications') layers inside them"
    )
    for flag, what in (
        ("shapes", "output shapes"),
        ("layer-names", "layer names"),
        ("activations", "activations"),
        ("hyperparams", "hyperparameters"),
        ("params", "parameter counts"),
        ("legend", "the colour legend"),
    ):
        d.add_argument(f"--no-{flag}", action="store_true", help=f"do not show {what}")
    add_common(d)


def run(args: argparse.Namespace) -> int:
    """Draw the architecture from the spec, without building it (unless --deep)."""
    few_collections()
    import kspec
    from kspec import diagram
    from kspec.analysis import shapes

    resolved = kspec.load(args.spec, args.set)
    kspec.check(resolved, allow_unsafe=args.allow_unsafe, max_params=args.max_params, max_synthetic_values=None)
    deep_shapes = None
    if args.deep:
        from kspec import compiler

        import_tensorflow()

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
    to_stdout = args.output == "-"
    out = None if to_stdout else Path(args.output or f"{Path(args.spec).stem}.svg")
    try:
        result = diagram.draw(resolved, out, options=options, shapes=shapes.infer(resolved), deep_shapes=deep_shapes)
    except ValueError as exc:  # an unknown --model or output suffix
        raise UsageError(str(exc)) from None
    print(result if to_stdout else f"wrote {result}")
    return OK


COMMANDS = [Command("draw", "render the architecture with Graphviz", add_arguments, run)]
