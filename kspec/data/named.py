"""Stage data: the inputs or targets of a split are one array, or named arrays (`{title: ..., body: ...}`) that feed
a model's inputs or outputs by name. These helpers treat both alike; NumPy only (TensorFlow code maps them with
`tf.nest`, which walks dicts and tuples the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

#: one array, or a mapping name -> array (all with the same number of examples)
Data = Any


def is_named(a: Data) -> bool:
    return isinstance(a, dict)


def leaves(a: Data) -> list[Any]:
    """The arrays of `a`: itself, or its named arrays in order."""
    if isinstance(a, dict):
        return list(a.values())
    if isinstance(a, tuple):
        return list(a)
    return [a]


def length(a: Data) -> int:
    """Number of examples (the first axis of every array)."""
    first = leaves(a)
    return len(first[0]) if first else 0


def rows(a: Data, index: Any) -> Data:
    """The examples `index` (a slice or an index array) of every array."""
    if a is None:
        return None
    if isinstance(a, dict):
        return {k: v[index] for k, v in a.items()}
    if isinstance(a, tuple):
        return tuple(v[index] for v in a)
    return a[index]


def apply(a: Data, fn: Callable[[Any], Any], names: Iterable[str] | None = None) -> Data:
    """`fn` on every array of `a`, or only on the named arrays `names` (the others are kept as they are)."""
    if a is None:
        return None
    if isinstance(a, dict):
        only = None if names is None else set(names)
        return {k: (fn(v) if only is None or k in only else v) for k, v in a.items()}
    return fn(a)


def shapes(a: Data) -> dict[str, tuple[int, ...]] | tuple[int, ...]:
    """Per-example shapes: one tuple, or one per name."""
    if isinstance(a, dict):
        return {k: tuple(v.shape[1:]) for k, v in a.items()}
    return tuple(a.shape[1:])


def describe(a: Data) -> str:
    """`x` or `{title, body}`, for messages."""
    return "{" + ", ".join(a) + "}" if isinstance(a, dict) else "one array"
