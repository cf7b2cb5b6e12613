"""Stage 4, check: the registry of per-layer shape and parameter rules used by `shapes.py`; must not import keras.

A rule takes a layer's keyword arguments and its input shapes (tuples, `None` for the batch axis and unknown sizes)
and returns `(output shape or list of shapes, params, non-trainable params)`, or raises `ShapeMismatch` (an error at
the layer, or at the argument named by `arg`) or `Unsupported` (the layer is reported as unchecked).
"""

from __future__ import annotations

import math
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


def fmt(shape: OutShape) -> str:
    """Shapes as Keras prints them: `(None, 28, 28, 1)`."""
    return ", ".join(map(fmt, shape)) if isinstance(shape, list) else str(tuple(shape))


# -- argument helpers ---------------------------------------------------------------------------------------------
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


# -- convolution and pooling --------------------------------------------------------------------------------------
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


# -- core, normalization, reshaping -------------------------------------------------------------------------------
@register("InputLayer")
def _input_layer(args: dict[str, Any], shapes: list[Shape]) -> Result:
    if shapes:
        return one("InputLayer", shapes), 0, 0
    shape = args.get("shape")
    if not isinstance(shape, list | tuple):
        raise Unsupported("InputLayer without a shape")
    return (None, *shape), 0, 0


@register("Dense")
def _dense(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("Dense", shapes)
    if args.get("lora_rank") or args.get("quantization_config"):
        raise Unsupported("Dense with LoRA or quantization")
    rank("Dense", shape, tuple(range(2, 10)), "(batch, ..., features)")
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


# -- recurrent layers and wrappers --------------------------------------------------------------------------------
#: gates and states per recurrent layer: params = gates * (features*units + units*units + units)
_RNN = {"SimpleRNN": (1, 1), "GRU": (3, 1), "LSTM": (4, 2)}


def rnn_rule(name: str) -> Rule:
    def rule(args: dict[str, Any], shapes: list[Shape]) -> Result:
        shape = one(name, shapes)
        rank(name, shape, (3,), "(batch, timesteps, features)")
        gates, states = _RNN[name]
        units, fan_in, bias = int_arg(args, "units"), known(name, shape, -1), bool_arg(args, "use_bias", True)
        params = gates * (fan_in * units + units * units + bias * units)
        if name == "GRU" and bias and bool_arg(args, "reset_after", True):
            params += gates * units
        out = (shape[0], shape[1], units) if bool_arg(args, "return_sequences", False) else (shape[0], units)
        if bool_arg(args, "return_state", False):
            return [out, *[(shape[0], units)] * states], params, 0
        return out, params, 0

    return rule


def conv_lstm_rule(name: str, n: int) -> Rule:
    def rule(args: dict[str, Any], shapes: list[Shape]) -> Result:
        shape, cf = spatial_input(name, args, shapes, n, extra=1)
        spatial, _ = split(shape, cf, lead=2)
        cin = known(name, shape, 2 if cf else -1, "channel axis")
        filters, k = int_arg(args, "filters"), math.prod(ints(args, "kernel_size", n, 1))
        params = 4 * (k * cin * filters + k * filters * filters + bool_arg(args, "use_bias", True) * filters)
        out_spatial = conv_spatial(args, spatial, cf, n, lead=2)
        state = join(shape[:1], out_spatial, filters, cf)
        out = join(shape[:2], out_spatial, filters, cf) if bool_arg(args, "return_sequences", False) else state
        if bool_arg(args, "return_state", False):
            return [out, state, state], params, 0
        return out, params, 0

    return rule


for _name in _RNN:
    register(_name)(rnn_rule(_name))
for _n in (1, 2, 3):
    register(f"ConvLSTM{_n}D")(conv_lstm_rule(f"ConvLSTM{_n}D", _n))


def nested(args: dict[str, Any], key: str, allowed: tuple[str, ...] | None = None) -> tuple[Rule, dict[str, Any]]:
    """The rule and arguments of a wrapped layer given as `{type: LSTM, units: 8, ...}`."""
    spec = args.get(key)
    kind = spec.get("type") if isinstance(spec, dict) else None
    if not isinstance(spec, dict) or not isinstance(kind, str):
        raise Unsupported(f"wrapped layer {spec!r}")
    rule = lookup(kind)
    if rule is None or (allowed is not None and ALIASES.get(kind, kind) not in allowed):
        raise Unsupported(f"no shape rule for a wrapped {kind}")
    return rule, {k: v for k, v in spec.items() if k not in ("type", "name")}


@register("Bidirectional")
def _bidirectional(args: dict[str, Any], shapes: list[Shape]) -> Result:
    recurrent = (*_RNN, "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
    rule, inner = nested(args, "layer", recurrent)
    fwd, params, nt = rule(inner, shapes)
    bwd, b_params, b_nt = fwd, params, nt
    if args.get("backward_layer") is not None:
        b_rule, b_inner = nested(args, "backward_layer", recurrent)
        bwd, b_params, b_nt = b_rule(b_inner, shapes)
    (y_f, *s_f), (y_b, *s_b) = (fwd if isinstance(fwd, list) else [fwd]), (bwd if isinstance(bwd, list) else [bwd])
    if y_f != y_b:
        raise ShapeMismatch(
            f"Bidirectional needs the backward layer's output {fmt(y_b)} to equal the forward layer's {fmt(y_f)}",
            "backward_layer",
            hint="give both layers the same units",
        )
    mode = args.get("merge_mode", "concat")
    if mode is None:
        outs = [y_f, y_b]
    elif mode == "concat":
        last = None if y_f[-1] is None or y_b[-1] is None else y_f[-1] + y_b[-1]
        outs = [(*y_f[:-1], last)]
    elif mode in ("sum", "ave", "mul"):
        outs = [y_f]
    else:
        raise ShapeMismatch(
            f"merge_mode must be one of 'sum', 'mul', 'ave', 'concat' or null; received {mode!r}", "merge_mode"
        )
    result: OutShape = [*outs, *s_f, *s_b] if s_f or len(outs) > 1 else outs[0]
    return result, params + b_params, nt + b_nt


@register("TimeDistributed")
def _time_distributed(args: dict[str, Any], shapes: list[Shape]) -> Result:
    shape = one("TimeDistributed", shapes)
    rank("TimeDistributed", shape, tuple(range(3, 10)), "(batch, time, ...)")
    rule, inner = nested(args, "layer")
    out, params, nt = rule(inner, [(shape[0], *shape[2:])])
    if isinstance(out, list):
        raise Unsupported("TimeDistributed over a layer with several outputs")
    return (shape[0], shape[1], *out[1:]), params, nt


# -- merging ------------------------------------------------------------------------------------------------------
def merge_pair(name: str, a: Shape, b: Shape) -> Shape:
    """Keras's `Merge._compute_elemwise_op_output_shape` on shapes without the batch axis."""
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


# -- applications -------------------------------------------------------------------------------------------------
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


# -- keras.ops functions ------------------------------------------------------------------------------------------
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


def broadcast(name: str, a: Shape, b: Shape) -> Shape:
    """`keras.ops` broadcasting (numpy rules; an unknown size takes the other's size unless that is 1)."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out: list[int | None] = []
    for i, j in zip(a, b, strict=True):
        if i is not None and j is not None and i != j and 1 not in (i, j):
            raise ShapeMismatch(f"{name} cannot broadcast shapes {fmt(a)} and {fmt(b)}")
        out.append(j if i == 1 else None if i is None and j == 1 else i if i is not None else j)
    return tuple(out)


ELEMENTWISE = """
    abs absolute add arccos arccosh arcsin arcsinh arctan arctan2 arctanh cast ceil clip cos cosh divide divide_no_nan
    elu equal erf exp exp2 expm1 floor floor_divide full_like gelu greater greater_equal hard_sigmoid hard_silu
    hard_swish hypot isfinite isinf isnan leaky_relu less less_equal log log10 log1p log2 log_sigmoid log_softmax
    logaddexp logical_and logical_not logical_or logical_xor maximum minimum mod multiply nan_to_num negative normalize
    not_equal ones_like power reciprocal relu relu6 round rsqrt selu sigmoid sign silu sin sinh softmax softplus
    softsign sort argsort flip roll sqrt square stop_gradient subtract swish tan tanh tril triu true_divide trunc where
    zeros_like
""".split()


@op_rule(*ELEMENTWISE)
def _elementwise(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    out = shapes[0]
    for shape in shapes[1:]:
        out = broadcast(name, out, shape)
    return out


def axes_of(name: str, args: dict[str, Any], shape: Shape, key: str = "axis") -> list[int]:
    axis = args.get(key)
    if axis is None:
        return list(range(len(shape)))
    return sorted({norm_axis(name, a, shape, key) for a in (axis if isinstance(axis, list | tuple) else [axis])})


@op_rule(
    "all",
    "amax",
    "amin",
    "any",
    "argmax",
    "argmin",
    "count_nonzero",
    "logsumexp",
    "max",
    "mean",
    "median",
    "min",
    "prod",
    "std",
    "sum",
    "var",
    "average",
    "norm",
)
def _reduce(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    x, keep = shapes[0], bool(args.get("keepdims", False))
    axes = axes_of(name, args, x)
    return tuple(1 if i in axes else d for i, d in enumerate(x) if keep or i not in axes)


@op_rule("concatenate", "hstack", "vstack")
def _concat_op(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    default = 1 if name == "hstack" and len(shapes[0]) > 1 else 0
    return concat(name, shapes, int_arg(args, "axis", default) if name == "concatenate" else default)


@op_rule("stack")
def _stack(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    out = shapes[0]
    for shape in shapes[1:]:
        if len(shape) != len(out) or any(
            a is not None and b is not None and a != b for a, b in zip(out, shape, strict=True)
        ):
            raise ShapeMismatch(f"stack needs inputs of the same shape; received {fmt(out)} and {fmt(shape)}")
        out = tuple(a if a is not None else b for a, b in zip(out, shape, strict=True))
    ax = norm_axis(name, int_arg(args, "axis", 0), (*out, 1))
    return (*out[:ax], len(shapes), *out[ax:])


@op_rule("reshape")
def _reshape_op(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    target = args.get("newshape")
    target = [target] if isinstance(target, int) else target
    if not isinstance(target, list | tuple) or not all(isinstance(d, int) for d in target):
        raise Unsupported(f"newshape {target!r}")
    return reshape_dims("reshape", shapes[0], tuple(target), "newshape")


@op_rule("transpose")
def _transpose(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    x, axes = shapes[0], args.get("axes")
    if axes is None:
        return x[::-1]
    if not isinstance(axes, list | tuple) or sorted(a % len(x) if isinstance(a, int) else -1 for a in axes) != list(
        range(len(x))
    ):
        raise ShapeMismatch(f"transpose axes must order all {len(x)} axes of {fmt(x)}; received {axes!r}", "axes")
    return tuple(x[a % len(x)] for a in axes)


@op_rule("swapaxes", "moveaxis")
def _swap(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    x = list(shapes[0])
    keys = ("axis1", "axis2") if name == "swapaxes" else ("source", "destination")
    a, b = (norm_axis(name, int_arg(args, k), shapes[0], k) for k in keys)
    if name == "swapaxes":
        x[a], x[b] = x[b], x[a]
    else:
        x.insert(b, x.pop(a))
    return tuple(x)


@op_rule("expand_dims")
def _expand_dims(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    axis = args.get("axis")
    axes = [axis] if isinstance(axis, int) else axis
    if not isinstance(axes, list | tuple):
        raise Unsupported(f"axis {axis!r}")
    out: list[int | None] = list(shapes[0])
    new = len(out) + len(axes)
    for a in sorted(norm_axis(name, a, (1,) * new) for a in axes):
        out.insert(a, 1)
    return tuple(out)


@op_rule("squeeze")
def _squeeze(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    x = shapes[0]
    if args.get("axis") is None:
        return tuple(d for d in x if d != 1)
    axes = axes_of(name, args, x)
    for a in axes:
        if x[a] is not None and x[a] != 1:
            raise ShapeMismatch(f"squeeze cannot remove axis {a} of {fmt(x)}: its size is {x[a]}, not 1", "axis")
    return tuple(d for i, d in enumerate(x) if i not in axes)


@op_rule("ravel", "cumsum", "cumprod")
def _ravel(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    if name != "ravel" and args.get("axis") is not None:
        return shapes[0]
    return (prod(shapes[0]),)


@op_rule("matmul")
def _matmul(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    a, b = shapes
    if len(a) < 2 or len(b) < 2:
        raise Unsupported("matmul of a rank-1 operand")
    if a[-1] is not None and b[-2] is not None and a[-1] != b[-2]:
        raise ShapeMismatch(f"matmul needs the last axis of {fmt(a)} to match the second-to-last of {fmt(b)}")
    return (*broadcast(name, a[:-2], b[:-2]), a[-2], b[-1])


@op_rule("one_hot")
def _one_hot(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    out: list[int | None] = list(shapes[0])
    ax = norm_axis(name, int_arg(args, "axis", -1), (*out, 1))
    out.insert(ax, int_arg(args, "num_classes"))
    return tuple(out)


@op_rule("dot")
def _dot_op(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    a, b = shapes
    if len(a) < 1 or len(b) < 1 or (len(a) < 2 and len(b) < 2):
        raise Unsupported("dot of rank-0 or two rank-1 operands")
    inner = b[-2] if len(b) > 1 else b[0]
    if a[-1] is not None and inner is not None and a[-1] != inner:
        raise ShapeMismatch(f"dot needs the last axis of {fmt(a)} to match the contracted axis of {fmt(b)}")
    return (*a[:-1], *b[:-2], *b[-1:]) if len(b) > 1 else a[:-1]


@op_rule("outer")
def _outer(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    return prod(shapes[0]), prod(shapes[1])


@op_rule("tile")
def _tile(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    reps = args.get("repeats")
    reps = [reps] if isinstance(reps, int) else reps
    if not isinstance(reps, list | tuple) or not all(isinstance(r, int) for r in reps):
        raise Unsupported(f"repeats {reps!r}")
    n = max(len(reps), len(shapes[0]))
    x, r = (1,) * (n - len(shapes[0])) + shapes[0], (1,) * (n - len(reps)) + tuple(reps)
    return tuple(None if d is None else d * k for d, k in zip(x, r, strict=True))


@op_rule("repeat")
def _repeat(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    x, reps = shapes[0], int_arg(args, "repeats")
    if args.get("axis") is None:
        size = prod(x)
        return (None if size is None else size * reps,)
    ax = norm_axis(name, int_arg(args, "axis"), x)
    return tuple(None if d is None else d * reps if i == ax else d for i, d in enumerate(x))


@op_rule("pad")
def _pad(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    x, width = shapes[0], args.get("pad_width")
    if isinstance(width, int) or (
        isinstance(width, list | tuple) and len(width) == 2 and all(isinstance(w, int) for w in width)
    ):
        width = [width] * len(x)
    if not isinstance(width, list | tuple) or len(width) != len(x):
        raise ShapeMismatch(f"pad_width needs one pair per axis of {fmt(x)}; received {width!r}", "pad_width")
    pads = [(w, w) if isinstance(w, int) else tuple(w) for w in width]
    return tuple(None if d is None else d + sum(p) for d, p in zip(x, pads, strict=True))
