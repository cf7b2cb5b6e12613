"""Stage 4, check: argument and input-shape helpers shared by the shape rules (integers, tuples, ranks, axes,
channels-first/last layouts); must not import keras."""

from __future__ import annotations

import math
from typing import Any

from .core import Shape, ShapeMismatch, Unsupported, fmt


def int_arg(args: dict[str, Any], key: str, default: int | None = None) -> int:
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unsupported(f"argument '{key}' is {value!r}, not an integer")
    return value


def ints(args: dict[str, Any], key: str, n: int, default: int | tuple[int, ...]) -> tuple[int, ...]:
    """An int-or-tuple argument (kernel_size, strides, ...) as an n-tuple."""
    value = args.get(key, default)
    value = default if value is None else value
    items = [value] * n if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise Unsupported(f"argument '{key}' is {value!r}")
    if len(items) != n:
        raise ShapeMismatch(f"{key} needs {n} value(s) here; received {list(items)}", key)
    if any(v < (0 if key == "output_padding" else 1) for v in items):
        raise ShapeMismatch(f"{key} needs positive values; received {value!r}", key)
    return tuple(items)


def pairs(args: dict[str, Any], key: str, n: int, default: Any) -> list[tuple[int, int]]:
    """A cropping/padding argument: int, n ints (symmetric) or n pairs -> n (before, after) pairs."""
    value = args.get(key, default)
    if isinstance(value, int) and not isinstance(value, bool):
        return [(value, value)] * n
    if isinstance(value, list | tuple) and len(value) == n:
        out = [(v, v) if isinstance(v, int) else tuple(v) if isinstance(v, list | tuple) else () for v in value]
        if all(len(p) == 2 and all(isinstance(i, int) for i in p) for p in out):
            return [(p[0], p[1]) for p in out]
    if n == 1 and isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(i, int) for i in value):
        return [(value[0], value[1])]
    raise ShapeMismatch(f"{key} must be an integer, {n} integers or {n} pairs; received {value!r}", key)


def bool_arg(args: dict[str, Any], key: str, default: bool) -> bool:
    return bool(args.get(key, default))


def one(name: str, shapes: list[Shape]) -> Shape:
    if len(shapes) != 1:
        raise ShapeMismatch(f"{name} takes one input; received {len(shapes)}")
    if not shapes[0]:
        raise ShapeMismatch(f"{name} needs an input with a batch axis; received a scalar ()")
    return shapes[0]


def rank(name: str, shape: Shape, ranks: tuple[int, ...], layout: str = "") -> None:
    if len(shape) not in ranks:
        want = " or ".join(f"rank-{r}" for r in ranks)
        layout = f" {layout}" if layout else ""
        raise ShapeMismatch(f"{name} expects a {want} input{layout}; received shape {fmt(shape)}")


def known(name: str, shape: Shape, axis: int, what: str = "last axis") -> int:
    size = shape[axis]
    if size is None:
        raise ShapeMismatch(f"{name} needs the {what} of its input to be known; received shape {fmt(shape)}")
    return size


def norm_axis(name: str, axis: Any, shape: Shape, arg: str = "axis") -> int:
    """`axis` as an index into `shape`; negative axes count from the end."""
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise Unsupported(f"{arg} {axis!r}")
    if not -len(shape) <= axis < len(shape):
        raise ShapeMismatch(f"{name}: {arg} {axis} is out of range for an input of rank {len(shape)}", arg)
    return axis % len(shape)


def prod(dims: Any) -> int | None:
    dims = list(dims)
    return None if any(d is None for d in dims) else math.prod(dims)


_LAYOUTS = {
    1: "(batch, steps, channels)",
    2: "(batch, height, width, channels)",
    3: "(batch, depth, height, width, channels)",
}
_LAYOUTS_CF = {
    1: "(batch, channels, steps)",
    2: "(batch, channels, height, width)",
    3: "(batch, channels, depth, height, width)",
}


def channels_first(args: dict[str, Any]) -> bool:
    fmt_ = args.get("data_format") or "channels_last"
    if fmt_ not in ("channels_last", "channels_first"):
        raise ShapeMismatch(
            f"data_format must be 'channels_last' or 'channels_first'; received {fmt_!r}", "data_format"
        )
    return bool(fmt_ == "channels_first")


def spatial_input(name: str, args: dict[str, Any], shapes: list[Shape], n: int, extra: int = 0) -> tuple[Shape, bool]:
    """The single input of an n-D spatial layer, rank-checked; `extra` leading axes (the time axis of ConvLSTM)."""
    shape = one(name, shapes)
    cf = channels_first(args)
    layout = (_LAYOUTS_CF if cf else _LAYOUTS)[n]
    if extra:
        layout = layout.replace("(batch, ", "(batch, time, ")
    rank(name, shape, (n + 2 + extra,), layout)
    return shape, cf


def split(shape: Shape, cf: bool, lead: int = 1) -> tuple[Shape, int | None]:
    """(spatial dims, channels) of a shape with `lead` leading axes."""
    return (shape[lead + 1 :], shape[lead]) if cf else (shape[lead:-1], shape[-1])


def join(lead: Shape, spatial: Shape, channels: int | None, cf: bool) -> Shape:
    return (*lead, channels, *spatial) if cf else (*lead, *spatial, channels)
