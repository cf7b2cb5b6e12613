"""Stage 4, check: shape rules of the pooling layers (max, average, global, adaptive) and of UpSampling,
Cropping and ZeroPadding; must not import keras."""

from __future__ import annotations

from typing import Any

from .arguments import bool_arg, ints, join, pairs, spatial_input, split
from .conv import padding_arg, window
from .core import Result, Rule, Shape, ShapeMismatch, register


def pool_rule(name: str, n: int) -> Rule:
    def rule(args: dict[str, Any], shapes: list[Shape]) -> Result:
        shape, cf = spatial_input(name, args, shapes, n)
        spatial, channels = split(shape, cf)
        size = ints(args, "pool_size", n, 2)
        strides = size if args.get("strides") is None else ints(args, "strides", n, 1)
        padding = padding_arg(args, ("valid", "same"))
        out = tuple(
            window(sz, size[i], strides[i], 1, padding, i + (2 if cf else 1), "pool_size")
            for i, sz in enumerate(spatial)
        )
        return join(shape[:1], out, channels, cf), 0, 0

    return rule


def global_pool_rule(name: str, n: int) -> Rule:
    def rule(args: dict[str, Any], shapes: list[Shape]) -> Result:
        shape, cf = spatial_input(name, args, shapes, n)
        _, channels = split(shape, cf)
        if bool_arg(args, "keepdims", False):
            return join(shape[:1], (1,) * n, channels, cf), 0, 0
        return (shape[0], channels), 0, 0

    return rule


def adaptive_pool_rule(name: str, n: int) -> Rule:
    def rule(args: dict[str, Any], shapes: list[Shape]) -> Result:
        shape, cf = spatial_input(name, args, shapes, n)
        _, channels = split(shape, cf)
        return join(shape[:1], ints(args, "output_size", n, 1), channels, cf), 0, 0

    return rule


def resample_rule(name: str, n: int, kind: str) -> Rule:
    """UpSampling, Cropping and ZeroPadding in n spatial dimensions."""
    defaults: dict[str, Any] = {
        "UpSampling": 2,
        "Cropping": (1, 1) if n == 1 else ((0, 0),) * 2 if n == 2 else 1,
        "ZeroPadding": 1,
    }

    def rule(args: dict[str, Any], shapes: list[Shape]) -> Result:
        shape, cf = spatial_input(name, args, shapes, n)
        spatial, channels = split(shape, cf)
        if kind == "UpSampling":
            size = ints(args, "size", n, 2)
            out = tuple(None if d is None else d * size[i] for i, d in enumerate(spatial))
            return join(shape[:1], out, channels, cf), 0, 0
        key = "cropping" if kind == "Cropping" else "padding"
        sign = -1 if kind == "Cropping" else 1
        amounts = pairs(args, key, n, defaults[kind])
        out_list: list[int | None] = []
        for i, d in enumerate(spatial):
            new = None if d is None else d + sign * sum(amounts[i])
            if new is not None and new <= 0:
                raise ShapeMismatch(
                    f"{key} {list(amounts[i])} removes all of the input's {d} along axis {i + (2 if cf else 1)}", key
                )
            out_list.append(new)
        return join(shape[:1], tuple(out_list), channels, cf), 0, 0

    return rule


for _n in (1, 2, 3):
    for _kind in ("Max", "Average"):
        register(f"{_kind}Pooling{_n}D")(pool_rule(f"{_kind}Pooling{_n}D", _n))
        register(f"Global{_kind}Pooling{_n}D")(global_pool_rule(f"Global{_kind}Pooling{_n}D", _n))
    register(f"AdaptiveMaxPooling{_n}D")(adaptive_pool_rule(f"AdaptiveMaxPooling{_n}D", _n))
    register(f"AdaptiveAveragePooling{_n}D")(adaptive_pool_rule(f"AdaptiveAveragePooling{_n}D", _n))
    for _kind in ("UpSampling", "Cropping", "ZeroPadding"):
        register(f"{_kind}{_n}D")(resample_rule(f"{_kind}{_n}D", _n, _kind))
