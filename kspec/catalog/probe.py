"""Developer tool, part of `introspect`: which string values Keras accepts for a layer's arguments, found by trying.

`narrow` turns a layer's string arguments into enumerations where Keras refuses a made-up value (at construction
or on the first call) and records which values it takes, in which case; it narrows `padding` to what the
constructor accepts. Every recorded value has been accepted by Keras. Imports keras and numpy (inside functions);
only `introspect` and the tests import it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["narrow", "probe_args", "value_probe"]

_PADDINGS = ("causal", "same", "valid")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_A_LAYER = object()
#: Dummy values for required arguments, to probe which strings (`padding`, `score_mode`, ...) a layer accepts.
_PROBE_ARGS: dict[str, Any] = {"filters": 1, "kernel_size": 1, "pool_size": 1, "units": 1, "num_bins": 2,
                               "num_tokens": 2, "axes": 1, "layer": _A_LAYER, "num_heads": 1, "key_dim": 1,
                               "head_dim": 1, "num_query_heads": 1, "num_key_value_heads": 1, "height": 2,
                               "width": 2, "factor": 0.1, "height_factor": 0.1, "input_dim": 2, "output_dim": 2,
                               "rate": 0.1, "stddev": 0.1, "output_size": 1}  # fmt: skip
#: Where the common values do not fit a layer.
_PROBE_OVERRIDES: dict[str, dict[str, Any]] = {"RandomPosterization": {"factor": 2}}
_NOT_A_CHOICE = "not-a-choice"
#: Inputs a layer is run on when its constructor checks nothing: image, sequence, vector, volume (batch of one).
_PROBE_SHAPES = ((1, 8, 8, 3), (1, 8, 3), (1, 8), (1, 4, 4, 4, 3))


def probe_args(layer: str, params: dict[str, dict[str, Any]], keras: Any) -> dict[str, Any] | None:
    """Values for a layer's required arguments with which it constructs, or None when kspec has none."""
    out: dict[str, Any] = {}
    for name, p in params.items():
        if p["required"]:
            value = _PROBE_OVERRIDES.get(layer, {}).get(name, _PROBE_ARGS.get(name, _A_LAYER))
            if value is _A_LAYER and name not in ("layer", "backward_layer"):
                return None
            out[name] = keras.layers.LSTM(1) if value is _A_LAYER else value
    try:
        getattr(keras.layers, layer)(**out)
    except Exception:  # noqa: BLE001 - the probe values do not fit this layer
        return None
    return out


def _accepts(cls: type, required: dict[str, Any], name: str, value: Any, data: Any = None) -> tuple[bool, str]:
    """Whether `cls(**required, name=value)` constructs (and, given `data`, runs on it); the error's message if not."""
    try:
        layer = cls(**{**required, name: value})
        if data is not None:
            layer(data)
    except Exception as exc:  # noqa: BLE001 - Keras refuses values with ValueError, TypeError, ...
        return False, str(exc)
    return True, ""


def _runs_on(cls: type, required: dict[str, Any]) -> Any:
    """A small float array the layer with its defaults runs on (image, sequence, vector, volume), or None."""
    import numpy as np

    for shape in _PROBE_SHAPES:
        data = np.zeros(shape, "float32")
        if _accepts(cls, required, "name", None, data)[0]:
            return data
    return None


Probe = Callable[[Any], bool]


def value_probe(cls: type, required: dict[str, Any], name: str) -> tuple[Probe, str] | None:
    """How to test a value of argument `name`: by constructing the layer, or -- when the constructor takes anything
    (`UpSampling2D(interpolation)`) -- by running it on a small input; with the refusal of a made-up value. None
    when Keras refuses no value of it at construction or on the first call."""
    free, message = _accepts(cls, required, name, _NOT_A_CHOICE)
    if not free:
        return (lambda v: _accepts(cls, required, name, v)[0]), message
    data = _runs_on(cls, required)
    if data is None:
        return None
    free, message = _accepts(cls, required, name, _NOT_A_CHOICE, data)
    return None if free else ((lambda v: _accepts(cls, required, name, v, data)[0]), message)


def _paddings(cls: type, params: dict[str, dict[str, Any]], required: dict[str, Any]) -> None:
    """Narrow a string `padding` to the values this layer's constructor really accepts."""
    entry = params.get("padding")
    if entry is None or entry["kind"] != "enum":
        return
    accepted = [v for v in (*_PADDINGS, _NOT_A_CHOICE) if _accepts(cls, required, "padding", v)[0]]
    if _NOT_A_CHOICE not in accepted:  # else the constructor checks nothing (pooling); keep what the docs say
        entry["choices"] = accepted


def _cases(cls: type, params: dict[str, dict[str, Any]], required: dict[str, Any]) -> None:
    """`padding` and `data_format` ignore case where the constructor takes upper case, or checks nothing (Keras
    lower-cases them where it uses them)."""
    for name in ("padding", "data_format"):
        entry = params.get(name)
        if entry is not None and entry["kind"] == "enum" and not _accepts(cls, required, name, _NOT_A_CHOICE)[0]:
            entry["ignore_case"] = all(_accepts(cls, required, name, c.upper())[0] for c in entry["choices"])


def _enumerations(cls: type, params: dict[str, dict[str, Any]], required: dict[str, Any]) -> None:
    """Record a string argument as an enumeration when Keras refuses other values.

    A parameter is enumerated when its default is a string and Keras refuses a made-up value, at construction or on
    the first call (`value_probe`). Its choices are the words of that refusal's message (Keras names the allowed
    values there: "Expected one of {'dot', 'concat'}") that Keras accepts, each tried, in alphabetical order (Keras
    may print a set); `true`/`false` when the message names them and they are accepted, null when accepted. Words
    Keras refuses are dropped, so every recorded value is one Keras takes; a message that does not name the default
    (a scipy window name) leaves the parameter a plain string.
    """
    for name, entry in params.items():
        default = entry.get("default")
        if name == "name" or entry["kind"] not in ("str", "any") or not isinstance(default, str):
            continue
        found = value_probe(cls, required, name)
        if found is None:
            continue
        accepts, message = found
        words = [w for w in dict.fromkeys(_WORD.findall(message)) if w != _NOT_A_CHOICE]
        choices: list[Any] = sorted(w for w in words if accepts(w))  # Keras may print a set
        if default not in choices:
            continue
        choices += [b for b in (True, False) if str(b) in words and accepts(b)]
        entry.update(kind="enum", choices=choices, nullable=accepts(None))
        if all(accepts(c.upper()) for c in choices if isinstance(c, str)):
            entry["ignore_case"] = True


def narrow(layer: str, cls: type, params: dict[str, dict[str, Any]], keras: Any) -> None:
    """Narrow `padding`, record the case rule of `padding`/`data_format` and find enumerations, in place."""
    required = probe_args(layer, params, keras)
    if required is not None:
        _paddings(cls, params, required)
        _cases(cls, params, required)
        _enumerations(cls, params, required)
