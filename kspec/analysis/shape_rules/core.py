"""Stage 4, check: the shared types, exceptions and registries of the shape rules (`RULES`, `ALIASES`, `OP_RULES`);
must not import keras.

A rule takes a layer's keyword arguments and its input shapes (tuples, `None` for the batch axis and unknown sizes)
and returns `(output shape or list of shapes, params, non-trainable params)`, or raises `ShapeMismatch` (an error at
the layer, or at the argument named by `arg`) or `Unsupported` (the layer is reported as unchecked). Rules are filed
by the `register` and `op_rule` decorators where they are defined, in the sibling modules of this package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Shape = tuple[int | None, ...]
OutShape = Shape | list[Shape]
Result = tuple[OutShape, int, int]
Rule = Callable[[dict[str, Any], list[Shape]], Result]

#: Canonical Keras class name -> rule. Filled by `register` below; read through `lookup`.
RULES: dict[str, Rule] = {}
#: Keras's alternative spellings of layer classes (`keras.layers.Convolution2D is keras.layers.Conv2D`).
ALIASES: dict[str, str] = {
    **{f"Convolution{n}D": f"Conv{n}D" for n in (1, 2, 3)},
    **{f"Convolution{n}DTranspose": f"Conv{n}DTranspose" for n in (1, 2, 3)},
    **{f"SeparableConvolution{n}D": f"SeparableConv{n}D" for n in (1, 2)},
    **{f"MaxPool{n}D": f"MaxPooling{n}D" for n in (1, 2, 3)},
    **{f"AvgPool{n}D": f"AveragePooling{n}D" for n in (1, 2, 3)},
    **{f"GlobalMaxPool{n}D": f"GlobalMaxPooling{n}D" for n in (1, 2, 3)},
    **{f"GlobalAvgPool{n}D": f"GlobalAveragePooling{n}D" for n in (1, 2, 3)},
}


class ShapeMismatch(Exception):
    """The layer cannot accept its input shapes; `arg` names the argument at fault, if one is."""

    def __init__(self, message: str, arg: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.arg, self.hint = message, arg, hint


class Unsupported(Exception):
    """The rule cannot decide for these arguments (e.g. a value kspec does not model); the layer stays unchecked."""


def register(*names: str) -> Callable[[Rule], Rule]:
    """Decorator: file `rule` under each canonical layer name."""

    def deco(rule: Rule) -> Rule:
        for name in names:
            RULES[name] = rule
        return rule

    return deco


def lookup(type_name: str) -> Rule | None:
    """The rule for a layer type written as in the spec (aliases resolved), or None."""
    return RULES.get(ALIASES.get(type_name, type_name))


def constant_shape(value: Any) -> Shape:
    """The shape of a constant argument: `()` for a number, nested list lengths for a list."""
    shape: list[int | None] = []
    while isinstance(value, list | tuple):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def fmt(shape: OutShape) -> str:
    """Shapes as Keras prints them: `(None, 28, 28, 1)`."""
    return ", ".join(map(fmt, shape)) if isinstance(shape, list) else str(tuple(shape))


OpRule = Callable[[str, dict[str, Any], list[Shape]], Shape]
#: `keras.ops` function name -> rule `(name, args, operand shapes) -> output shape`; operands are the function's
#: tensor parameters in order (inputs of the node, or constants given as arguments, whose shape is `()`).
OP_RULES: dict[str, OpRule] = {}


def op_rule(*names: str) -> Callable[[OpRule], OpRule]:
    """Decorator: file an op rule under each `keras.ops` function name."""

    def deco(rule: OpRule) -> OpRule:
        for name in names:
            OP_RULES[name] = rule
        return rule

    return deco


def identity(args: dict[str, Any], shapes: list[Shape]) -> Result:
    """Shape-preserving layers without weights."""
    if len(shapes) != 1:
        raise ShapeMismatch(f"this layer takes one input; received {len(shapes)}")
    return shapes[0], 0, 0


#: Layers without weights whose output has the shape of their input.
SHAPE_PRESERVING = """
    Activation Dropout GaussianNoise GaussianDropout AlphaDropout ActivityRegularization ReLU LeakyReLU ELU Softmax
    Identity Masking UnitNormalization Rescaling RandomFlip RandomRotation RandomZoom RandomTranslation RandomContrast
    RandomBrightness RandomGrayscale RandomHue RandomSaturation RandomSharpness RandomShear RandomInvert
    RandomPosterization RandomColorDegeneration RandomColorJitter RandomGaussianBlur RandomErasing RandomPerspective
    RandomElasticTransform AutoContrast Equalization Solarization
""".split()
register(*SHAPE_PRESERVING)(identity)


#: A rule for a layer called with named tensors: `(layer args, call options, call argument -> shape(s)) -> Result`.
CallRule = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], Result]
#: Canonical layer class -> rule over its call arguments (attention layers); filed by `call_rule`.
CALL_RULES: dict[str, CallRule] = {}


def call_rule(*names: str) -> Callable[[CallRule], CallRule]:
    """Decorator: file a named-tensor rule under each canonical layer name."""

    def deco(rule: CallRule) -> CallRule:
        for name in names:
            CALL_RULES[name] = rule
        return rule

    return deco
