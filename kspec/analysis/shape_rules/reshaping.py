"""Stage 4, check: shape rules of the reshaping layers (Flatten, Reshape, Permute, RepeatVector, image resizing
and cropping, spatial dropout); must not import keras."""

from __future__ import annotations

import math
from typing import Any

from .arguments import _LAYOUTS, _LAYOUTS_CF, channels_first, int_arg, join, one, prod, rank, spatial_input, split
from .core import Result, Rule, Shape, ShapeMismatch, Unsupported, fmt, register


@register("Flatten")
def _flatten(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("Flatten", shapes)
    return (shape[0], prod(shape[1:]) if len(shape) > 1 else 1), 0, 0


@register("Reshape")
def _reshape(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("Reshape", shapes)
    target = args.get("target_shape")
    if not isinstance(target, list | tuple) or not all(isinstance(d, int) for d in target):
        raise Unsupported(f"target_shape {target!r}")
    return (shape[0], *reshape_dims("Reshape", shape[1:], tuple(target))), 0, 0


def reshape_dims(name: str, dims: Shape, target: tuple[int, ...], arg: str = "target_shape") -> Shape:
    """`target` with its one -1 resolved against the element count of `dims`."""
    if target.count(-1) > 1 or any(d < -1 or d == 0 for d in target):
        raise ShapeMismatch(f"{arg} {target} may hold positive sizes and at most one -1", arg)
    have, rest = prod(dims), math.prod(d for d in target if d != -1)
    shown = tuple(target)
    if have is None:
        return tuple(None if d == -1 else d for d in target)
    if -1 in target:
        if have % rest:
            raise ShapeMismatch(
                f"{name} to {shown} cannot split the input's {have} elements into multiples of {rest}", arg
            )
        return tuple(have // rest if d == -1 else d for d in target)
    if have != rest:
        raise ShapeMismatch(f"{name} to {shown} needs {rest} elements; the input has {have}", arg)
    return target


@register("Permute")
def _permute(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("Permute", shapes)
    dims = args.get("dims")
    if not isinstance(dims, list | tuple) or sorted(dims) != list(range(1, len(shape))):
        raise ShapeMismatch(
            f"Permute dims must order the axes 1..{len(shape) - 1} of an input of shape {fmt(shape)}; "
            f"received {dims!r}",
            "dims",
        )
    return (shape[0], *(shape[d] for d in dims)), 0, 0


@register("RepeatVector")
def _repeat_vector(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("RepeatVector", shapes)
    rank("RepeatVector", shape, (2,), "(batch, features)")
    return (shape[0], int_arg(args, "n"), shape[1]), 0, 0


def image_resize_rule(name: str) -> Rule:
    """Resizing, CenterCrop, RandomCrop: (height, width) replace the spatial axes."""

    def rule(args: dict[str, Any], shapes: list[Shape]) -> Result:
        shape = one(name, shapes)
        if len(shape) == 3:
            raise Unsupported(f"{name} on a rank-3 input")
        cf = channels_first(args)
        rank(name, shape, (4,), _LAYOUTS_CF[2] if cf else _LAYOUTS[2])
        size = (int_arg(args, "height"), int_arg(args, "width"))
        return join(shape[:1], size, split(shape, cf)[1], cf), 0, 0

    return rule


for _name in ("Resizing", "CenterCrop", "RandomCrop"):
    register(_name)(image_resize_rule(_name))


def spatial_dropout_rule(name: str, n: int) -> Rule:
    def rule(args: dict[str, Any], shapes: list[Shape]) -> Result:
        shape, _ = spatial_input(name, args, shapes, n)
        return shape, 0, 0

    return rule


for _n in (1, 2, 3):
    register(f"SpatialDropout{_n}D")(spatial_dropout_rule(f"SpatialDropout{_n}D", _n))
