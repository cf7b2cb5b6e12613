"""Stage 4, check: shape rules of `keras.ops` functions (elementwise with broadcasting, reductions, joins,
reshapes, products, ...), filed in `OP_RULES`; must not import keras."""

from __future__ import annotations

from typing import Any

from .arguments import int_arg, norm_axis, prod
from .core import Shape, ShapeMismatch, Unsupported, fmt, op_rule
from .merge import concat
from .reshaping import reshape_dims


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


# -- kspec's own ops (`kspec.catalog.kspec_ops`) ---------------------------------------------------------------------
@op_rule("random_normal", "random_uniform")
def _noise_like(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    return shapes[0]


@op_rule("positions")
def _positions(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    if len(shapes[0]) < 2:
        raise ShapeMismatch(f"positions needs a (batch, T, ...) input; received {fmt(shapes[0])}")
    return shapes[0][:2]


@op_rule("add_loss")
def _add_loss(name: str, args: dict[str, Any], shapes: list[Shape]) -> Shape:
    return shapes[0]
