"""Stage 4, check: the inputs of a node as static shapes: selected outputs (`name[i]`) and tensors by call argument
(`inputs: {query: x, value: x}`); must not import keras."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kspec import catalog
from kspec.analysis.shape_rules import OutShape, Shape, ShapeMismatch, fmt
from kspec.catalog import calls

if TYPE_CHECKING:
    from kspec.analysis.graph import Node


class Skip(Exception):
    """The node cannot be inferred for a reason already reported elsewhere (unknown model or layer name)."""


def form_of(type_name: str) -> calls.CallForm | None:
    return calls.call_form(catalog.canonical_layer(type_name) or type_name)


def pick_out(shape: OutShape | None, select: Any) -> OutShape | None:
    if shape is None or select is None:
        return shape
    if isinstance(shape, list) and isinstance(select, int) and select < len(shape):
        return shape[select]
    return None


def pick(node: Node, raw: list[OutShape]) -> list[OutShape]:
    """Each input's shape, or the output its selector (`name[i]`) picks."""
    if node.selects.count(None) == len(raw) == len(node.selects):  # nothing selected: the shapes as they are
        return raw
    out: list[OutShape] = []
    for producer, shape, select in zip(node.inputs, raw, node.selects or [None] * len(raw), strict=True):
        if select is None:
            out.append(shape)
        elif not isinstance(select, int):
            raise Skip  # an unknown output name, reported by the resolver
        elif not isinstance(shape, list):
            raise ShapeMismatch(f"'{producer}' has one output; [{select}] selects among several",
                                hint=f"write `{producer}`")  # fmt: skip
        elif select >= len(shape):
            raise ShapeMismatch(f"'{producer}' has {len(shape)} outputs; [{select}] selects output {select + 1}",
                                hint=f"select [0] to [{len(shape) - 1}]")  # fmt: skip
        else:
            out.append(shape[select])
    return out


def collect(node: Node, target: Node, picked: list[OutShape]) -> tuple[calls.CallForm, dict[str, Any]]:
    """The call form of `target`'s type and the shape(s) passed to each of its call arguments by `node`."""
    form = form_of(target.type)
    assert form is not None
    keys = [loc[1:] for loc in node.input_locs] if node.named else None
    named: dict[str, Any] = {}
    for arg, producer, shape in zip(calls.named_inputs(form, keys, len(picked)), node.inputs, picked, strict=True):
        if isinstance(shape, list):
            raise ShapeMismatch(f"'{producer}' has {len(shape)} outputs; '{arg}' takes one",
                                hint=f"select one, e.g. `{producer}[0]`")  # fmt: skip
        if arg in form.lists:
            named.setdefault(arg, []).append(shape)
        else:
            named[arg] = shape
    return form, named


def check_recurrent(named: dict[str, Any], form: calls.CallForm, out: OutShape) -> None:
    """A recurrent layer's `mask` is (batch, timesteps); each `initial_state` is (batch, units)."""
    first: Shape = named[form.tensors[0]]
    mask = named.get("mask")
    if mask is not None and (len(mask) != 2 or None not in (mask[1], first[1]) and mask[1] != first[1]):
        raise ShapeMismatch(f"'mask' must have shape {fmt((first[0], first[1]))}; received {fmt(mask)}")
    state = (out[1] if isinstance(out, list) else out)[-1:]
    for got in named.get("initial_state", []):
        if len(got) != 2 or got[-1:] != state:
            raise ShapeMismatch(f"each initial state must have shape {fmt((None, *state))}; received {fmt(got)}")
