"""Stage 4, check: the registry of per-layer shape and parameter rules used by `shapes.py`; must not import keras.

A rule takes a layer's keyword arguments and its input shapes (tuples, `None` for the batch axis and unknown sizes)
and returns `(output shape or list of shapes, params, non-trainable params)`, or raises `ShapeMismatch` (an error at
the layer, or at the argument named by `arg`) or `Unsupported` (the layer is reported as unchecked).

The types and registries live in `core`, the shared argument helpers in `arguments`, and the rules in one module per
layer family (`conv`, `pooling`, `dense`, `normalization`, `reshaping`, `recurrent`, `merge`, `applications`) plus
`ops` for `keras.ops` functions. Importing this package imports every rule module, which files its rules in `RULES`
and `OP_RULES` through the `register` and `op_rule` decorators.
"""

from __future__ import annotations

# The rule modules in the order they register (the order of `RULES` and `OP_RULES`).
from . import core, arguments, conv, pooling, dense, normalization  # noqa: F401  # isort: skip
from . import reshaping, recurrent, merge, applications, ops, attention  # noqa: F401  # isort: skip
from .applications import vgg_rule
from .arguments import (
    bool_arg,
    channels_first,
    int_arg,
    ints,
    join,
    known,
    norm_axis,
    one,
    pairs,
    prod,
    rank,
    spatial_input,
    split,
)
from .conv import conv_rule, conv_spatial, deconv_len, padding_arg, window
from .core import (
    ALIASES,
    CALL_RULES,
    OP_RULES,
    RULES,
    SHAPE_PRESERVING,
    CallRule,
    OpRule,
    OutShape,
    Result,
    Rule,
    Shape,
    ShapeMismatch,
    Unsupported,
    call_rule,
    constant_shape,
    fmt,
    identity,
    lookup,
    op_rule,
    register,
)
from .merge import concat, merge_pair, merge_rule
from .normalization import axes_arg, axes_size
from .ops import ELEMENTWISE, axes_of, broadcast
from .pooling import adaptive_pool_rule, global_pool_rule, pool_rule, resample_rule
from .recurrent import conv_lstm_rule, nested, rnn_rule
from .reshaping import image_resize_rule, reshape_dims, spatial_dropout_rule

__all__ = [
    "constant_shape",
    "ALIASES",
    "CALL_RULES",
    "CallRule",
    "ELEMENTWISE",
    "OP_RULES",
    "OpRule",
    "OutShape",
    "RULES",
    "Result",
    "Rule",
    "SHAPE_PRESERVING",
    "Shape",
    "ShapeMismatch",
    "Unsupported",
    "adaptive_pool_rule",
    "axes_arg",
    "axes_of",
    "axes_size",
    "bool_arg",
    "call_rule",
    "broadcast",
    "channels_first",
    "concat",
    "conv_lstm_rule",
    "conv_rule",
    "conv_spatial",
    "deconv_len",
    "fmt",
    "global_pool_rule",
    "identity",
    "image_resize_rule",
    "int_arg",
    "ints",
    "join",
    "known",
    "lookup",
    "merge_pair",
    "merge_rule",
    "nested",
    "norm_axis",
    "one",
    "op_rule",
    "padding_arg",
    "pairs",
    "pool_rule",
    "prod",
    "rank",
    "register",
    "resample_rule",
    "reshape_dims",
    "rnn_rule",
    "spatial_dropout_rule",
    "spatial_input",
    "split",
    "vgg_rule",
    "window",
]
