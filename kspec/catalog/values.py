"""Stage 3, check: does one argument value fit its catalogue kind (int, enum, dtype, ...)? Stdlib only; never keras."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any

from kspec.errors import SpecError, did_you_mean, shorten

if TYPE_CHECKING:
    from kspec.catalog.entries import ParamInfo

_VARIABLE = re.compile(r"\$\{[A-Za-z_]\w*\}")
_BOOL_HINT = "true and false are booleans, not numbers; write 1 or 0"


def is_variable(value: object) -> bool:
    """True for a string holding a `${name}` reference, checked once the variable is substituted."""
    return isinstance(value, str) and _VARIABLE.search(value) is not None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int_or_tuple(value: object) -> bool:
    if isinstance(value, list | tuple):
        return all(_is_int(v) or (isinstance(v, list | tuple) and all(map(_is_int, v))) for v in value)
    return _is_int(value)


def _is_constant(value: object) -> bool:
    return _is_number(value) or (isinstance(value, list | tuple) and all(map(_is_constant, value)))


_TESTS: dict[str, Callable[[Any], bool]] = {
    "bool": lambda v: isinstance(v, bool),
    "int": _is_int,
    "number": _is_number,
    "str": lambda v: isinstance(v, str),
    "list": lambda v: isinstance(v, list | tuple),
    "int_or_tuple": _is_int_or_tuple,
    "tensor": _is_constant,
    "learning_rate": _is_number,
}


def expectation(param: ParamInfo) -> str:
    """What `param` accepts, as the `expected ...` part of a message."""
    kind, low, high = param.kind, param.minimum, param.maximum
    if kind == "learning_rate":
        return "a number or a learning-rate schedule `{type: ExponentialDecay, ...}`"
    if kind in ("int", "number"):
        noun = "an integer" if kind == "int" else "a number"
        if low is not None and high is not None:
            return f"{noun} between {low:g} and {high:g}"
        if low == 1 and kind == "int":
            return "a positive integer"
        return f"{noun} >= {low:g}" if low is not None else noun
    if kind == "enum":
        words = [f"'{c}'" if isinstance(c, str) else str(c).lower() for c in param.choices]
        return "one of " + ", ".join(words) + (" or null" if param.nullable else "")
    return {
        "bool": "true or false",
        "str": "a string",
        "list": "a list",
        "int_or_tuple": "an integer or a list of integers",
        "tensor": "a number or a list of numbers (tensors come from `inputs:`)",
        "dtype": "a dtype name such as 'float32'",
    }.get(kind, kind)


def check_value(owner: str, param: ParamInfo, value: Any, dtypes: Collection[str]) -> Iterator[SpecError]:
    """Yield a `bad-value` error at `(param.name,)` when `value` does not fit `param` (plain kinds only)."""
    if is_variable(value) or param.kind == "any":
        return
    if value is None:
        if not param.nullable:
            yield _bad(owner, param, value)
        return
    if param.kind == "enum":
        if not _chosen(value, param):
            words = [c for c in param.choices if isinstance(c, str)]
            hint = did_you_mean(value, words) if isinstance(value, str) else None
            yield _bad(owner, param, value, hint or "allowed: " + expectation(param).removeprefix("one of "))
        return
    if param.kind == "dtype":
        if isinstance(value, str) and value not in dtypes:
            yield _bad(owner, param, value, did_you_mean(value, dtypes))
        elif not isinstance(value, str | dict):
            yield _bad(owner, param, value)
        return
    test = _TESTS.get(param.kind)
    if test is not None and not test(value):
        yield _bad(owner, param, value, _BOOL_HINT if isinstance(value, bool) else None)
    elif _is_number(value) and not _in_range(value, param):
        yield _bad(owner, param, value)


def _chosen(value: Any, param: ParamInfo) -> bool:
    """Whether `value` is one of the enum's choices (`True` is not `1`; case only where Keras ignores it)."""
    if isinstance(value, str):
        return (value.lower() if param.ignore_case else value) in [c for c in param.choices if isinstance(c, str)]
    return isinstance(value, bool) and any(c is value for c in param.choices)


def _in_range(value: float, param: ParamInfo) -> bool:
    return (param.minimum is None or value >= param.minimum) and (param.maximum is None or value <= param.maximum)


def _bad(owner: str, param: ParamInfo, value: Any, hint: str | None = None) -> SpecError:
    message = f"expected {expectation(param)} for '{param.name}' of {owner}, received {shorten(value)}"
    return SpecError(message, (param.name,), "bad-value", hint=hint)
