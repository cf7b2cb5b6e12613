"""How layers are called: the tensor arguments and constant call options a spec may pass by name, and the names of
the outputs of multi-output layers. Plain data, never keras.

`inputs: {query: x, value: x, attention_mask: mask}` passes tensors by call argument; `call: {use_causal_mask:
true}` passes constant options; a plain list `inputs: [q, v]` fills the tensor arguments in order. Layers without an
entry here take their inputs positionally only (`layer(x)` or `layer([a, b])`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from kspec.errors import SpecError, did_you_mean, shorten


class CallForm(NamedTuple):
    """The call signature kspec knows for a layer type.

    `tensors` are the tensor arguments in call order; the first `positional` of them are what a plain `inputs:` list
    fills. `packed`: Keras takes the first tensors as one list (`Attention()([query, value, key])`) and the masks as
    `mask=[query_mask, value_mask]`. `lists`: arguments that take a list of tensors (`initial_state`). `outputs`:
    names of the outputs when the layer returns several, by the option that makes it do so.
    """

    tensors: tuple[str, ...]
    required: tuple[str, ...]
    positional: int
    options: tuple[str, ...] = ("training",)
    packed: tuple[str, ...] = ()
    masks: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    outputs: Mapping[str, tuple[str, ...]] = {}


_ATTENTION_OPTIONS = ("return_attention_scores", "use_causal_mask", "training")
_MHA = CallForm(
    tensors=("query", "value", "key", "query_mask", "value_mask", "key_mask", "attention_mask"),
    required=("query", "value"),
    positional=3,
    options=_ATTENTION_OPTIONS,
    outputs={"return_attention_scores": ("output", "scores")},
)
_DOT = CallForm(
    tensors=("query", "value", "key", "query_mask", "value_mask"),
    required=("query", "value"),
    positional=3,
    options=_ATTENTION_OPTIONS,
    packed=("query", "value", "key"),
    masks=("query_mask", "value_mask"),
    outputs={"return_attention_scores": ("output", "scores")},
)


def _rnn(states: tuple[str, ...]) -> CallForm:
    return CallForm(
        tensors=("sequences", "mask", "initial_state"),
        required=("sequences",),
        positional=1,
        lists=("initial_state",),
        outputs={"return_state": ("output", *states)},
    )


#: Canonical layer class -> how it is called.
CALL_FORMS: dict[str, CallForm] = {
    "MultiHeadAttention": _MHA,
    "GroupQueryAttention": _MHA,
    "Attention": _DOT,
    "AdditiveAttention": _DOT,
    "LSTM": _rnn(("state_h", "state_c")),
    "GRU": _rnn(("state",)),
    "SimpleRNN": _rnn(("state",)),
}

#: kspec's own spellings of layer classes that Keras exports under another name.
LAYER_ALIASES = {"GroupedQueryAttention": "GroupQueryAttention"}


def call_form(canonical: str) -> CallForm | None:
    return CALL_FORMS.get(LAYER_ALIASES.get(canonical, canonical))


def output_names(canonical: str, args: dict[str, Any]) -> tuple[str, ...]:
    """Names of the outputs of a layer that returns several with these arguments; () when it returns one."""
    form = call_form(canonical)
    if form is None:
        return ()
    return next((names for option, names in form.outputs.items() if args.get(option) is True), ())


def named_inputs(form: CallForm, keys: list[tuple[str | int, ...]] | None, n: int) -> list[str]:
    """The call argument each of a node's `n` inputs fills (a plain list fills the tensor arguments in order)."""
    if keys is None:
        return list(form.tensors[: min(n, form.positional)]) + ["?"] * max(0, n - form.positional)
    return [str(k[0]) for k in keys]


def check_call(
    type_name: str, form: CallForm | None, keys: list[tuple[str | int, ...]] | None, n: int, options: dict[str, Any]
) -> Iterator[SpecError]:
    """Errors (paths relative to the layer entry) for the tensors passed by name and the `call:` options."""
    supported = ", ".join(sorted(CALL_FORMS))
    if form is None:
        if keys is not None:
            yield SpecError(
                f"{type_name} takes its inputs as a list, not by call argument",
                ("inputs",),
                "wrong-type",
                hint=f"write `inputs: [a, b]`; tensors by name are supported for {supported}",
            )
        if options:
            yield SpecError(
                f"kspec knows no call options of {type_name}",
                ("call",),
                "unknown-argument",
                hint=f"`call:` is supported for {supported}",
            )
        return
    given = named_inputs(form, keys, n)
    if keys is None and n > form.positional:
        yield SpecError(
            f"{type_name} takes at most {form.positional} positional input(s) "
            f"({', '.join(form.tensors[: form.positional])}); received {n}",
            ("inputs",),
            "wrong-type",
            hint=f"pass the others by name: `inputs: {{{form.tensors[0]}: x, {form.tensors[-1]}: ...}}`",
        )
    for i, name in enumerate(given):
        if name not in form.tensors and name != "?":
            yield SpecError(
                f"{type_name} has no tensor argument {shorten(name, 40)}",
                ("inputs", name),
                "unknown-argument",
                hint=did_you_mean(name, form.tensors) or f"one of: {', '.join(form.tensors)}",
            )
        elif keys is not None and name not in form.lists and len(keys[i]) > 1:
            yield SpecError(f"'{name}' takes one tensor, not a list", ("inputs", name), "wrong-type")
    for name in form.required:
        if name not in given:
            yield SpecError(
                f"{type_name} needs the tensor argument '{name}'",
                ("inputs",),
                "missing-argument",
                hint=f"add it: `inputs: {{{', '.join(f'{r}: ...' for r in form.required)}}}`",
            )
    for key, value in options.items():
        if key in form.tensors:
            yield SpecError(
                f"'{key}' is a tensor argument of {type_name}",
                ("call", key),
                "wrong-type",
                hint=f"pass it under `inputs:`, e.g. `inputs: {{{form.tensors[0]}: x, {key}: {key}}}`",
            )
        elif key not in form.options:
            yield SpecError(
                f"{type_name} has no call option {shorten(key, 40)}",
                ("call", key),
                "unknown-argument",
                hint=did_you_mean(key, form.options) or f"one of: {', '.join(form.options)}",
            )
        elif not isinstance(value, bool):
            yield SpecError(f"call option '{key}' must be true or false", ("call", key), "wrong-type")
