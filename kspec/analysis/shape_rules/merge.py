"""Stage 4, check: shape rules of the merging layers (Add, Subtract, ..., Concatenate, Dot); must not import
keras."""

from __future__ import annotations

from typing import Any

from .arguments import int_arg, norm_axis
from .core import Result, Rule, Shape, ShapeMismatch, Unsupported, fmt, register


def merge_pair(name: str, a: Shape, b: Shape) -> Shape:
    """Keras's `Merge._compute_elemwise_op_output_shape` on shapes without the batch axis."""
    if a == b and 1 not in a:  # the same shape (a residual sum): itself
        return tuple(a)
    if len(a) < len(b):
        return merge_pair(name, b, a)
    out = list(a[: len(a) - len(b)])
    for i, j in zip(a[len(a) - len(b) :], b, strict=True):
        if i is not None and j is not None and i != j and 1 not in (i, j):
            raise ShapeMismatch(
                f"{name} needs inputs of the same shape; received {fmt((None, *a))} and {fmt((None, *b))}"
            )
        out.append(None if i is None or j is None else j if i == 1 else i)
    return tuple(out)


def merge_rule(name: str) -> Rule:
    def rule(args: dict[str, Any], shapes: list[Shape]) -> Result:
        if len(shapes) < 2 or (name == "Subtract" and len(shapes) != 2):
            need = "exactly 2" if name == "Subtract" else "at least 2"
            raise ShapeMismatch(f"{name} needs {need} inputs; received {len(shapes)}")
        out = shapes[0][1:]
        for shape in shapes[1:]:
            out = merge_pair(name, out, shape[1:])
        return (None, *out), 0, 0

    return rule


for _name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
    register(_name)(merge_rule(_name))


@register("Concatenate")
def _concatenate(args: dict[str, Any], shapes: list[Shape]) -> Result:
    if len(shapes) < 2:
        raise ShapeMismatch(f"Concatenate needs at least 2 inputs; received {len(shapes)}")
    return concat("Concatenate", shapes, int_arg(args, "axis", -1)), 0, 0


def concat(name: str, shapes: list[Shape], axis: int) -> Shape:
    """Shapes joined along `axis`: equal ranks, equal sizes elsewhere (unknown sizes match anything)."""
    first = shapes[0]
    ax = norm_axis(name, axis, first)
    for shape in shapes[1:]:
        if len(shape) != len(first) or any(
            a is not None and b is not None and a != b and i != ax
            for i, (a, b) in enumerate(zip(first, shape, strict=True))
        ):
            raise ShapeMismatch(
                f"{name} needs matching shapes except on axis {axis}; received {fmt(first)} and {fmt(shape)}"
            )
    sizes = [s[ax] for s in shapes]
    out = list(first)
    out[ax] = None if None in sizes else sum(s for s in sizes if s is not None)
    return tuple(out)


@register("Dot")
def _dot(args: dict[str, Any], shapes: list[Shape]) -> Result:
    if len(shapes) != 2:
        raise ShapeMismatch(f"Dot needs exactly 2 inputs; received {len(shapes)}")
    a, b = shapes
    axes = args.get("axes")
    pair = [axes, axes] if isinstance(axes, int) else list(axes) if isinstance(axes, list | tuple) else None
    if pair is None or len(pair) != 2 or not all(isinstance(x, int) for x in pair):
        raise Unsupported(f"axes {axes!r}")
    ia, ib = norm_axis("Dot", pair[0], a, "axes"), norm_axis("Dot", pair[1], b, "axes")
    if a[ia] != b[ib]:
        raise ShapeMismatch(
            f"Dot needs equal sizes on the dot axes; received {fmt(a)} (axis {ia}) and {fmt(b)} (axis {ib})", "axes"
        )
    out = [d for i, d in enumerate(a) if i != ia] + [d for i, d in enumerate(b) if i not in (0, ib)]
    return tuple(out + [1] if len(out) == 1 else out), 0, 0
