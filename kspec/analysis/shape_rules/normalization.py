"""Stage 4, check: shape and parameter rules of the normalization layers (batch, layer, RMS, group and
`Normalization`); must not import keras."""

from __future__ import annotations

from typing import Any

from .arguments import bool_arg, int_arg, norm_axis, one, prod
from .core import Result, Shape, ShapeMismatch, fmt, register


def axes_arg(name: str, args: dict[str, Any], shape: Shape, default: Any = -1) -> list[int]:
    axis = args.get("axis", default)
    axes = axis if isinstance(axis, list | tuple) else [axis]
    return sorted(norm_axis(name, a, shape) for a in axes)


def axes_size(name: str, shape: Shape, axes: list[int]) -> int:
    size = prod(shape[a] for a in axes)
    if size is None:
        raise ShapeMismatch(f"{name} needs the normalized axes {axes} of its input known; received shape {fmt(shape)}")
    return size


@register("BatchNormalization")
def _batch_norm(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("BatchNormalization", shapes)
    size = axes_size("BatchNormalization", shape, axes_arg("BatchNormalization", args, shape))
    learned = bool_arg(args, "center", True) + bool_arg(args, "scale", True)
    return shape, (learned + 2) * size, 2 * size


@register("LayerNormalization")
def _layer_norm(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("LayerNormalization", shapes)
    size = axes_size("LayerNormalization", shape, axes_arg("LayerNormalization", args, shape))
    if bool_arg(args, "rms_scaling", False):
        return shape, size, 0
    return shape, (bool_arg(args, "center", True) + bool_arg(args, "scale", True)) * size, 0


@register("RMSNormalization")
def _rms_norm(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("RMSNormalization", shapes)
    return shape, axes_size("RMSNormalization", shape, axes_arg("RMSNormalization", args, shape)), 0


@register("GroupNormalization")
def _group_norm(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("GroupNormalization", shapes)
    channels = axes_size("GroupNormalization", shape, axes_arg("GroupNormalization", args, shape))
    groups = int_arg(args, "groups", 32)
    if groups == -1:
        groups = channels
    if groups > channels or channels % groups:
        raise ShapeMismatch(
            f"GroupNormalization with groups {groups} needs a channel count divisible by {groups}; "
            f"the input has {channels} channels",
            "groups",
        )
    return shape, (bool_arg(args, "center", True) + bool_arg(args, "scale", True)) * channels, 0


@register("Normalization")
def _normalization(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("Normalization", shapes)
    if args.get("mean") is not None or args.get("variance") is not None:
        return shape, 0, 0
    kept = [] if args.get("axis", -1) is None else axes_arg("Normalization", args, shape)
    size = 2 * axes_size("Normalization", shape, kept) + 1
    return shape, size, size
