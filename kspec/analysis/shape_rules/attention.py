"""Stage 4, check: shape and parameter rules of the attention layers (MultiHeadAttention, GroupQueryAttention,
Attention, AdditiveAttention), called with named tensors (`query`, `value`, `key`, masks); must not import keras."""

from __future__ import annotations

from typing import Any

from .arguments import bool_arg, int_arg, known
from .core import Result, Shape, ShapeMismatch, Unsupported, call_rule, fmt


def _seq(name: str, arg: str, shape: Any) -> Shape:
    if not isinstance(shape, tuple):
        raise ShapeMismatch(f"{name}: '{arg}' takes one tensor; received {len(shape)}")
    if len(shape) != 3:
        raise ShapeMismatch(f"{name} expects '{arg}' of rank 3 (batch, sequence, features); received {fmt(shape)}")
    return shape


def _same(name: str, what: str, a: int | None, b: int | None) -> None:
    if a is not None and b is not None and a != b:
        raise ShapeMismatch(f"{name}: {what} differ ({a} vs {b})")


def _mask(name: str, arg: str, shape: Any, want: tuple[int | None, ...]) -> None:
    """A mask's shape must match `want` (batch first), axis by axis, where both are known (1 broadcasts)."""
    if shape is None:
        return
    if not isinstance(shape, tuple) or len(shape) != len(want):
        raise ShapeMismatch(
            f"{name}: '{arg}' must have shape {fmt(want)}; received {fmt(shape)}",
            hint=f"a rank-{len(want)} mask: batch, then {'query and key positions' if len(want) == 3 else 'positions'}",
        )
    for got, need in zip(shape[1:], want[1:], strict=True):
        if got is not None and need is not None and got not in (need, 1):
            raise ShapeMismatch(f"{name}: '{arg}' must have shape {fmt(want)}; received {fmt(shape)}")


def _qkv(name: str, named: dict[str, Any]) -> tuple[Shape, Shape, Shape]:
    query, value = _seq(name, "query", named["query"]), _seq(name, "value", named["value"])
    key = _seq(name, "key", named["key"]) if named.get("key") is not None else value
    _same(name, "the sequence lengths of 'key' and 'value'", key[1], value[1])
    return query, value, key


def _masks(name: str, named: dict[str, Any], query: Shape, key: Shape, full: bool) -> None:
    _mask(name, "query_mask", named.get("query_mask"), (query[0], query[1]))
    _mask(name, "value_mask", named.get("value_mask"), (key[0], key[1]))
    _mask(name, "key_mask", named.get("key_mask"), (key[0], key[1]))
    if full:
        _mask(name, "attention_mask", named.get("attention_mask"), (query[0], query[1], key[1]))


def _dense_params(fan_in: int, units: int, bias: bool) -> int:
    return fan_in * units + (units if bias else 0)


@call_rule("MultiHeadAttention")
def _mha(args: dict[str, Any], options: dict[str, Any], named: dict[str, Any]) -> Result:
    name = "MultiHeadAttention"
    if args.get("attention_axes") is not None:
        raise Unsupported("attention_axes")
    query, value, key = _qkv(name, named)
    _masks(name, named, query, key, full=True)
    heads, key_dim = int_arg(args, "num_heads"), int_arg(args, "key_dim")
    value_dim = key_dim if args.get("value_dim") is None else int_arg(args, "value_dim")
    bias = bool_arg(args, "use_bias", True)
    dq, dk, dv = known(name, query, -1), known(name, key, -1), known(name, value, -1)
    out_dim = args.get("output_shape")
    if out_dim is None:
        out_dim = dq
    elif isinstance(out_dim, list) and len(out_dim) == 1 and isinstance(out_dim[0], int):
        out_dim = out_dim[0]
    elif not isinstance(out_dim, int) or isinstance(out_dim, bool):
        raise Unsupported(f"output_shape {out_dim!r}")
    params = (
        _dense_params(dq, heads * key_dim, bias)
        + _dense_params(dk, heads * key_dim, bias)
        + _dense_params(dv, heads * value_dim, bias)
        + _dense_params(heads * value_dim, out_dim, bias)
    )
    out: Shape = (query[0], query[1], out_dim)
    if options.get("return_attention_scores") is True:
        return [out, (query[0], heads, query[1], key[1])], params, 0
    return out, params, 0


@call_rule("GroupQueryAttention")
def _gqa(args: dict[str, Any], options: dict[str, Any], named: dict[str, Any]) -> Result:
    name = "GroupQueryAttention"
    query, value, key = _qkv(name, named)
    _masks(name, named, query, key, full=True)
    head_dim, hq = int_arg(args, "head_dim"), int_arg(args, "num_query_heads")
    hkv = int_arg(args, "num_key_value_heads")
    if hkv < 1 or hq % hkv:
        raise ShapeMismatch(
            f"{name}: num_query_heads ({hq}) must be a multiple of num_key_value_heads ({hkv})", "num_key_value_heads"
        )
    bias = bool_arg(args, "use_bias", True)
    dq, dk, dv = known(name, query, -1), known(name, key, -1), known(name, value, -1)
    params = (
        _dense_params(dq, hq * head_dim, bias)
        + _dense_params(dk, hkv * head_dim, bias)
        + _dense_params(dv, hkv * head_dim, bias)
        + _dense_params(hq * head_dim, dq, bias)
    )
    out: Shape = (query[0], query[1], dq)
    if options.get("return_attention_scores") is True:
        return [out, (query[0], hq, query[1], key[1])], params, 0
    return out, params, 0


def _dot(name: str, additive: bool) -> Any:
    def rule(args: dict[str, Any], options: dict[str, Any], named: dict[str, Any]) -> Result:
        query, value, key = _qkv(name, named)
        _masks(name, named, query, key, full=False)
        _same(name, "the feature sizes of 'query' and 'key'", query[-1], key[-1])
        if additive:
            params = known(name, query, -1) if bool_arg(args, "use_scale", True) else 0
        else:
            params = int(bool_arg(args, "use_scale", False)) + int(args.get("score_mode", "dot") == "concat")
        out: Shape = (query[0], query[1], value[-1])
        if options.get("return_attention_scores") is True:
            return [out, (query[0], query[1], key[1])], params, 0
        return out, params, 0

    return rule


call_rule("Attention")(_dot("Attention", additive=False))
call_rule("AdditiveAttention")(_dot("AdditiveAttention", additive=True))
