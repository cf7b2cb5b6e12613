"""Stage 4, check: shape and parameter rules of the core layers (InputLayer, Dense, Embedding, PReLU); no keras."""

from __future__ import annotations

from typing import Any

from .arguments import bool_arg, int_arg, known, one, prod, rank
from .core import Result, Shape, ShapeMismatch, Unsupported, fmt, register


@register("InputLayer")
def _input_layer(args: dict[str, Any], shapes: list[Shape]) -> Result:
    if shapes:
        return one("InputLayer", shapes), 0, 0
    shape = args.get("shape")
    if not isinstance(shape, list | tuple):
        raise Unsupported("InputLayer without a shape")
    return (None, *shape), 0, 0


_RANKS = tuple(range(2, 10))


@register("Dense")
def _dense(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("Dense", shapes)
    if args.get("lora_rank") or args.get("quantization_config"):
        raise Unsupported("Dense with LoRA or quantization")
    rank("Dense", shape, _RANKS, "(batch, ..., features)")
    units, fan_in = int_arg(args, "units"), known("Dense", shape, -1)
    return (*shape[:-1], units), fan_in * units + bool_arg(args, "use_bias", True) * units, 0


@register("Embedding")
def _embedding(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("Embedding", shapes)
    if args.get("lora_rank") or args.get("quantization_config"):
        raise Unsupported("Embedding with LoRA or quantization")
    out = int_arg(args, "output_dim")
    return (*shape, out), int_arg(args, "input_dim") * out, 0


@register("PReLU")
def _prelu(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("PReLU", shapes)
    shared = args.get("shared_axes") or []
    shared = shared if isinstance(shared, list | tuple) else [shared]
    dims = [1 if i in shared else d for i, d in enumerate(shape) if i > 0]
    size = prod(dims)
    if size is None:
        raise ShapeMismatch(
            f"PReLU needs every non-shared axis of its input known; received shape {fmt(shape)}",
            hint="share the unknown axes with `shared_axes: [...]`",
        )
    return shape, size, 0
