"""Stage 4, check: shape and parameter rules of the `keras.applications` models used as layers (VGG16,
VGG19); must not import keras."""

from __future__ import annotations

from typing import Any

from .arguments import _LAYOUTS, bool_arg, int_arg, known, one, prod, rank
from .core import Result, Rule, Shape, ShapeMismatch, fmt, register

_VGG = {"VGG16": (2, 2, 3, 3, 3), "VGG19": (2, 2, 4, 4, 4)}


def vgg_rule(name: str) -> Rule:
    def rule(args: dict[str, Any], shapes: list[Shape]) -> Result:
        shape = one(name, shapes)
        rank(name, shape, (4,), _LAYOUTS[2])
        declared = args.get("input_shape")
        if isinstance(declared, list | tuple) and (
            len(declared) != 3
            or any(d is not None and s is not None and d != s for d, s in zip(declared, shape[1:], strict=False))
        ):
            raise ShapeMismatch(
                f"{name} was given input_shape {tuple(declared)}; it receives {fmt(shape)}", "input_shape"
            )
        h, w, cin = shape[1:]
        cin = known(name, shape, -1, "channel axis")
        if args.get("weights", "imagenet") == "imagenet" and cin != 3:
            raise ShapeMismatch(f"{name} with weights 'imagenet' needs 3 input channels; received shape {fmt(shape)}")
        if any(d is not None and d < 32 for d in (h, w)):
            raise ShapeMismatch(f"{name} needs inputs of at least 32x32; received shape {fmt(shape)}")
        params = 0
        for convs, filters in zip(_VGG[name], (64, 128, 256, 512, 512), strict=True):
            for _ in range(convs):
                params, cin = params + 9 * cin * filters + filters, filters
            h, w = (None if h is None else h // 2), (None if w is None else w // 2)
        if bool_arg(args, "include_top", True):
            flat, classes = known(name, (None, prod((h, w, 512))), -1, "spatial size"), int_arg(args, "classes", 1000)
            params += flat * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * classes + classes
            return (shape[0], classes), params, 0
        if args.get("pooling") in ("avg", "max"):
            return (shape[0], 512), params, 0
        return (shape[0], h, w, 512), params, 0

    return rule


for _name in _VGG:
    register(_name)(vgg_rule(_name))
