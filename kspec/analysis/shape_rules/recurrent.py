"""Stage 4, check: shape and parameter rules of the recurrent layers (SimpleRNN, GRU, LSTM, ConvLSTM) and of the
wrappers Bidirectional and TimeDistributed; must not import keras."""

from __future__ import annotations

import math
from typing import Any

from .arguments import bool_arg, int_arg, ints, join, known, one, rank, spatial_input, split
from .conv import conv_spatial
from .core import ALIASES, OutShape, Result, Rule, Shape, ShapeMismatch, Unsupported, fmt, lookup, register

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
