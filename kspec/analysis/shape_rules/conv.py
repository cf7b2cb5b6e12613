"""Stage 4, check: shape and parameter rules of the convolution layers (Conv, ConvTranspose, SeparableConv,
DepthwiseConv) and the window arithmetic they share with pooling and ConvLSTM; must not import keras."""

from __future__ import annotations

import math
from typing import Any

from .arguments import bool_arg, int_arg, ints, join, known, spatial_input, split
from .core import Result, Rule, Shape, ShapeMismatch, register


def window(size: int | None, k: int, s: int, d: int, padding: str, axis: int, what: str) -> int | None:
    """Output length of a conv/pool window along one axis (Keras's `compute_conv_output_shape`)."""
    if size is None:
        return None
    if padding == "valid":
        span = d * (k - 1) + 1
        if size < span:
            dil = f" (dilation_rate {d} spans {span})" if d > 1 else ""
            raise ShapeMismatch(
                f"{what} {k}{dil} is larger than the input's {size} along axis {axis} with padding 'valid'",
                what,
                hint="use padding: same, or a smaller window",
            )
        return (size - span) // s + 1
    return (size - 1) // s + 1


def padding_arg(args: dict[str, Any], allowed: tuple[str, ...]) -> str:
    padding = str(args.get("padding", "valid")).lower()
    if padding not in allowed:
        raise ShapeMismatch(f"padding must be one of {', '.join(map(repr, allowed))}; received {padding!r}", "padding")
    return padding


def conv_spatial(
    args: dict[str, Any], spatial: Shape, cf: bool, n: int, transpose: bool = False, lead: int = 1
) -> Shape:
    kernel = ints(args, "kernel_size", n, 1)
    strides = ints(args, "strides", n, 1)
    dilation = ints(args, "dilation_rate", n, 1)
    padding = padding_arg(args, ("valid", "same") if transpose or n > 1 else ("valid", "same", "causal"))
    offset = lead + cf
    if transpose:
        extra: tuple[int | None, ...] = (None,) * n
        if args.get("output_padding") is not None:
            extra = ints(args, "output_padding", n, 0)
        return tuple(
            deconv_len(sz, kernel[i], strides[i], dilation[i], padding, extra[i]) for i, sz in enumerate(spatial)
        )
    return tuple(
        window(sz, kernel[i], strides[i], dilation[i], padding, i + offset, "kernel_size")
        for i, sz in enumerate(spatial)
    )


def deconv_len(size: int | None, k: int, s: int, d: int, padding: str, out_pad: int | None) -> int | None:
    """Keras's `_get_output_shape_given_tf_padding`."""
    if size is None:
        return None
    k = (k - 1) * d + 1
    if padding == "valid":
        return (size - 1) * s + k + (max(k, s) - k if out_pad is None else out_pad)
    return size * s if out_pad is None else (size - 1) * s + k % 2 + out_pad


def conv_rule(name: str, n: int, kind: str) -> Rule:
    """Conv, SeparableConv, DepthwiseConv and ConvTranspose in n spatial dimensions."""

    def rule(args: dict[str, Any], shapes: list[Shape]) -> Result:
        shape, cf = spatial_input(name, args, shapes, n)
        spatial, cin = split(shape, cf)
        cin = known(name, shape, 1 if cf else -1, "channel axis")
        k = math.prod(ints(args, "kernel_size", n, 1))
        bias = bool_arg(args, "use_bias", True)
        if kind in ("conv", "transpose") and max(ints(args, "strides", n, 1)) > 1:
            if max(ints(args, "dilation_rate", n, 1)) > 1:  # Keras's BaseConv and BaseConvTranspose refuse it
                raise ShapeMismatch(
                    "strides > 1 cannot be combined with dilation_rate > 1",
                    "dilation_rate",
                    hint="use strides: 1 with the dilation, or dilation_rate: 1 with the strides",
                )
        out_spatial = conv_spatial(args, spatial, cf, n, transpose=kind == "transpose")
        dm = int_arg(args, "depth_multiplier", 1)
        if kind == "depthwise":
            cout = cin * dm
            return join(shape[:1], out_spatial, cout, cf), k * cin * dm + bias * cout, 0
        filters = int_arg(args, "filters")
        if kind == "separable":
            return join(shape[:1], out_spatial, filters, cf), k * cin * dm + cin * dm * filters + bias * filters, 0
        groups = int_arg(args, "groups", 1) if kind == "conv" else 1
        if cin % groups or filters % groups:
            raise ShapeMismatch(
                f"{name} with groups {groups} needs input channels ({cin}) and filters ({filters}) "
                f"divisible by {groups}",
                "groups",
            )
        return join(shape[:1], out_spatial, filters, cf), k * (cin // groups) * filters + bias * filters, 0

    return rule


for _n in (1, 2, 3):
    register(f"Conv{_n}D")(conv_rule(f"Conv{_n}D", _n, "conv"))
    register(f"Conv{_n}DTranspose")(conv_rule(f"Conv{_n}DTranspose", _n, "transpose"))
for _n in (1, 2):
    register(f"SeparableConv{_n}D")(conv_rule(f"SeparableConv{_n}D", _n, "separable"))
    register(f"DepthwiseConv{_n}D")(conv_rule(f"DepthwiseConv{_n}D", _n, "depthwise"))
