"""Argument checks against the catalogue. Stdlib only; never keras.

Checks yield `SpecError`s whose paths are relative to the checked entry (a layer entry, an optimizer value, ...); the
caller prefixes them with the entry's document path.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any, NamedTuple

from kspec.catalog.entries import (
    OBJECT_KINDS,
    RESERVED_KEYS,
    ParamInfo,
    layer_info,
    layer_names,
    load,
    object_info,
    object_names,
    op_info,
    op_names,
)
from kspec.catalog.values import check_value, is_variable
from kspec.errors import SpecError, closest, did_you_mean, shorten

_LABELS = {"schedule": "learning-rate schedule"}
_UNSAFE_HINT = "it runs code from outside the spec; use the `op:` building blocks or a registered plugin layer"
_UNSAFE_CALLBACK_HINT = "it runs Python code from outside the spec or sends data over the network"
_EXAMPLES = {
    "activation": "`relu`",
    "callback": "`{type: EarlyStopping, patience: 3}`",
    "constraint": "`{type: MaxNorm, max_value: 3}`",
    "initializer": "`{type: HeNormal, seed: 0}`",
    "loss": "`mse`",
    "metric": "`accuracy`",
    "optimizer": "`{type: Adam, learning_rate: 0.001}`",
    "regularizer": "`{type: L2, l2: 0.01}`",
    "schedule": "`{type: ExponentialDecay, initial_learning_rate: 0.01, decay_steps: 1000, decay_rate: 0.9}`",
}
#: Hints for arguments that Keras 2 code (and the book) passes but kspec spells differently.
_MOVED = {
    "input_shape": "declare shapes under the model's `inputs:`",
    "input_dim": "declare shapes under the model's `inputs:`",
    "batch_input_shape": "declare shapes under the model's `inputs:`",
    "lr": "did you mean 'learning_rate'? (Keras 3 spelling)",
}


class _Context(NamedTuple):
    plugins: Collection[str] = ()
    allow_unsafe: bool = False


def check_layer(
    type_name: str,
    args: Mapping[str, Any],
    *,
    plugins: Collection[str] = (),
    allow_unsafe: bool = False,
    partial: bool = False,
) -> Iterator[SpecError]:
    """Check a layer entry's type and keyword arguments against the catalogue.

    Args:
        type_name: the entry's `type:`, a Keras layer, alias, application or `package>Name` plugin layer.
        args: the entry's keyword arguments; spec keys (`type`, `inputs`, `repeat`, ...) are skipped.
        plugins: plugin packages the spec declares; their layers are checked only when the model is built.
        allow_unsafe: accept layers that run code from outside the spec (Lambda, TFSMLayer, ...).
        partial: skip the missing-argument check (for `defaults:` entries that complete other entries).

    Yields:
        Errors with paths relative to the layer entry: `("type",)` for the type, `(argument, ...)` for arguments.
    """
    yield from _check_layer(type_name, args, _Context(plugins, allow_unsafe), partial=partial, skip=RESERVED_KEYS)


def _check_layer(
    type_name: str, args: Mapping[str, Any], context: _Context, *, partial: bool = False, skip: Collection[str] = ()
) -> Iterator[SpecError]:
    if ">" in type_name:
        yield from _check_plugin(type_name, context.plugins)
        return
    info = layer_info(type_name)
    if info is None:
        yield SpecError(f"no Keras layer named '{type_name}'", ("type",), "unknown-layer",
                        hint=did_you_mean(type_name, layer_names(aliases=True)))  # fmt: skip
        return
    if info.is_unsafe and not context.allow_unsafe:
        yield SpecError(f"layer type '{type_name}' is refused", ("type",), "unsafe-layer", hint=_UNSAFE_HINT)
        return
    yield from _check_args(info.name, info.params, args, context, partial=partial, skip=skip)


def _check_plugin(type_name: str, plugins: Collection[str]) -> Iterator[SpecError]:
    package = type_name.partition(">")[0]
    if package in plugins:
        yield SpecError(f"plugin layer '{type_name}' is checked when the model is built", ("type",), "unchecked-layer",
                        severity="note")  # fmt: skip
    else:
        yield SpecError(f"no registered plugin provides layer '{type_name}'", ("type",), "unknown-layer",
                        hint=f"install a package that registers '{package}' in the `kspec.plugins` entry-point group "
                        f"and list it under `plugins:`")  # fmt: skip


def check_object(kind: str, value: Any, *, allow_unsafe: bool = False) -> Iterator[SpecError]:
    """Check an optimizer, loss, metric, callback, schedule, activation, initializer, regularizer or constraint.

    Args:
        kind: one of `OBJECT_KINDS`.
        value: an identifier string (`adam`) or a mapping `{type: ClassName, ...arguments}`.
        allow_unsafe: accept callbacks that run code from outside the spec (LambdaCallback, ...).

    Yields:
        Errors with paths relative to the value (`("type",)`, `(argument,)`).
    """
    if kind not in OBJECT_KINDS:
        raise ValueError(f"unknown object kind {kind!r}; expected one of {OBJECT_KINDS}")
    if is_variable(value):
        return
    label = _LABELS.get(kind, kind)
    if isinstance(value, Mapping):
        yield from _check_object_mapping(kind, label, value, allow_unsafe)
    elif not isinstance(value, str):
        yield SpecError(f"expected a Keras {label} name or a mapping with `type:`, received {shorten(value)}", (),
                        "bad-value", hint=f"e.g. {_EXAMPLES[kind]}")  # fmt: skip
    elif _refused(kind, value, allow_unsafe):
        yield SpecError(f"{label} '{value}' is refused", (), "unsafe-layer", hint=_UNSAFE_CALLBACK_HINT)
    elif value not in load().objects[kind]["names"]:
        yield from _check_object_name(kind, label, value)


def _check_object_name(kind: str, label: str, value: str) -> Iterator[SpecError]:
    info = object_info(kind, value)
    if info is None:
        yield SpecError(f"'{value}' is not a Keras {label}", (), "unknown-object",
                        hint=did_you_mean(value, object_names(kind)))  # fmt: skip
        return
    required = [n for n, p in info.params.items() if p.required]
    example = f"`{{type: {info.name}" + "".join(f", {n}: ..." for n in required) + "}`"
    if required:
        yield SpecError(f"{info.name} is missing required argument '{required[0]}'", (), "missing-argument",
                        hint=f"write it as {example}")  # fmt: skip
    else:
        yield SpecError(f"Keras does not know the {label} name '{value}'", (), "unknown-object",
                        hint=f"write it as {example}")  # fmt: skip


def _check_object_mapping(kind: str, label: str, value: Mapping[str, Any], allow_unsafe: bool) -> Iterator[SpecError]:
    type_name = value.get("type")
    args = {k: v for k, v in value.items() if k != "type"}
    if not isinstance(type_name, str):
        yield SpecError(f"a {label} written as a mapping needs `type:`", (), "missing-argument",
                        hint=f"e.g. {_EXAMPLES[kind]}")  # fmt: skip
        return
    if _refused(kind, type_name, allow_unsafe):
        yield SpecError(f"{label} '{type_name}' is refused", ("type",), "unsafe-layer", hint=_UNSAFE_CALLBACK_HINT)
        return
    info = object_info(kind, type_name)
    if info is not None:
        yield from _check_args(info.name, info.params, args, _Context((), allow_unsafe))
    elif type_name in load().objects[kind]["names"]:
        for key in args:
            yield SpecError(f"{label} '{type_name}' takes no arguments", (key,), "unknown-argument")
    else:
        yield SpecError(f"'{type_name}' is not a Keras {label}", ("type",), "unknown-object",
                        hint=did_you_mean(type_name, object_names(kind)))  # fmt: skip


def _refused(kind: str, name: str, allow_unsafe: bool) -> bool:
    return kind == "callback" and not allow_unsafe and name in load().unsafe_callbacks


def check_op(name: str, args: Mapping[str, Any], *, n_inputs: int | None = None) -> Iterator[SpecError]:
    """Check an `op:` entry: the function is on the allow-list and its non-tensor arguments are known.

    Args:
        name: the entry's `op:` value, e.g. `mean`.
        args: the entry's keyword arguments; spec keys (`op`, `name`, `inputs`, ...) are skipped.
        n_inputs: how many tensors the entry receives, when known; checked against the op's tensor parameters.

    Yields:
        Errors with paths relative to the entry: `("op",)`, `("inputs",)` or `(argument,)`.
    """
    info = op_info(name)
    if info is None:
        alt = {"normal": "random_normal", "uniform": "random_uniform", "arange": "positions"}.get(name)
        yield SpecError(f"'{name}' is not an allowed keras.ops function", ("op",), "unknown-op",
                        hint=f"did you mean '{alt}'?" if alt else did_you_mean(name, op_names())
                        or "only pure tensor functions are allowed")  # fmt: skip
        return
    constants = [t for t in info.tensors if t in args]
    if n_inputs is not None and not info.variadic:
        need = [t for t in info.tensors if info.params[t].required and t not in args]
        most = len(info.tensors) - len(constants)
        if not len(need) <= n_inputs <= most:
            count = f"{len(need)}" if len(need) == most else f"{len(need)} to {most}"
            yield SpecError(f"op '{name}' takes {count} input tensors ({', '.join(info.tensors)}), received {n_inputs}",
                            ("inputs",), "bad-value")  # fmt: skip
    params = {n: p for n, p in info.params.items() if n not in info.tensors or n in constants}
    yield from _check_args(f"op '{name}'", params, args, _Context(), skip=RESERVED_KEYS | {"name"},
                           required=[n for n, p in params.items() if p.required and p.kind != "tensor"],
                           missing_path=("op",))  # fmt: skip


def _check_args(
    owner: str,
    params: Mapping[str, ParamInfo],
    args: Mapping[str, Any],
    context: _Context,
    *,
    partial: bool = False,
    skip: Collection[str] = (),
    required: list[str] | None = None,
    missing_path: tuple[str, ...] = ("type",),
) -> Iterator[SpecError]:
    suggested: set[str] = set()  # a misspelt required argument is one mistake: no extra "missing `units`"
    for key, value in args.items():
        if key in skip:
            continue
        param = params.get(key)
        if param is None:
            close = closest(key, params)
            suggested.update(close)
            hint = did_you_mean(key, params) or _MOVED.get(key) or _accepted(owner, params)
            yield SpecError(f"{owner} has no argument '{key}'", (key,), "unknown-argument", hint=hint)
        elif param.kind in ("layer", "layers"):
            yield from _check_nested_layers(param, value, context)
        elif param.kind in OBJECT_KINDS and not is_variable(value) and value is not None:
            yield from (e.prefixed((key,)) for e in check_object(param.kind, value, allow_unsafe=context.allow_unsafe))
        elif param.kind == "learning_rate" and isinstance(value, Mapping):
            yield from (e.prefixed((key,)) for e in check_object("schedule", value))
        elif _is_path_value(param, value):
            continue  # a file path: checked against the spec's folder (`kspec.analysis.checks.check_layer_paths`)
        else:
            yield from check_value(owner, param, value, load().dtypes)
    if partial:
        return
    for name in required if required is not None else [n for n, p in params.items() if p.required]:
        if name not in args and name not in suggested:
            doc = params[name].doc
            yield SpecError(f"{owner} is missing required argument '{name}'", missing_path, "missing-argument",
                            hint=f"add `{name}: ...`" + (f" ({doc})" if doc else ""))  # fmt: skip


def _accepted(owner: str, params: Mapping[str, ParamInfo]) -> str:
    names = sorted(params)
    if not names:
        return f"{owner} takes no arguments"
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"{owner} accepts {shown}"


def _check_nested_layers(param: ParamInfo, value: Any, context: _Context) -> Iterator[SpecError]:
    """A wrapper's `layer:` (or `cells:` list): `{type: LSTM, units: 8}` or a bare type name."""
    if value is None and (param.nullable or not param.required):
        return
    items = list(enumerate(value)) if param.kind == "layers" and isinstance(value, list) else [(None, value)]
    if param.kind == "layers" and not isinstance(value, list):
        yield SpecError(f"expected a list of layers for '{param.name}', received {shorten(value)}", (param.name,),
                        "bad-value", hint="e.g. [{type: LSTMCell, units: 8}]")  # fmt: skip
        return
    for index, item in items:
        prefix: tuple[str | int, ...] = (param.name,) if index is None else (param.name, index)
        if isinstance(item, str):
            type_name, args = item, {}
        elif isinstance(item, Mapping) and isinstance(item.get("type"), str):
            type_name, args = item["type"], {k: v for k, v in item.items() if k != "type"}
        else:
            yield SpecError(f"expected a layer `{{type: ..., ...}}` for '{param.name}', received {shorten(item)}",
                            prefix, "bad-value", hint="e.g. {type: LSTM, units: 8}")  # fmt: skip
            continue
        yield from (err.prefixed(prefix) for err in _check_layer(type_name, args, context))


def _is_path_value(param: ParamInfo, value: Any) -> bool:
    """A string that Keras would open as a file or folder (for an enum, one that is not a choice: `weights: w.h5`)."""
    if param.path is None or not isinstance(value, str) or value in param.choices or is_variable(value):
        return False
    return not param.choices or any(c in value for c in "./\\")  # `weights: imagent` is a misspelt choice


def path_arguments(type_name: str, args: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str, str]]:
    """The arguments of a layer entry (and of the layers nested in it) that Keras would open as a path.

    Which arguments are paths comes from the catalogue (`ParamInfo.path`, derived from the Keras docs).

    Yields:
        (path relative to the entry, the string value, `file` or `folder`).
    """
    info = layer_info(type_name) if ">" not in type_name else None
    if info is None:
        return
    for key, value in args.items():
        param = info.params.get(key)
        if param is None:
            continue
        if _is_path_value(param, value):
            assert param.path is not None
            yield (key,), value, param.path
        elif param.kind in ("layer", "layers"):
            items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for index, item in items:
                if isinstance(item, Mapping) and isinstance(item.get("type"), str):
                    prefix: tuple[str | int, ...] = (key,) if index is None else (key, index)
                    inner = {k: v for k, v in item.items() if k != "type"}
                    for rel, text, kind in path_arguments(item["type"], inner):
                        yield (*prefix, *rel), text, kind
