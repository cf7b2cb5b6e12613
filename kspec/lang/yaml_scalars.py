"""The scalars of a YAML event stream: tags checked, text resolved and built with the loader's own rules (YAML 1.2
booleans and floats, see `loader`), bounds on length and integers, and a cache of the results shared by the
documents of a process. Errors are located `SpecError`s. Used by `events`; imports yaml and kspec.errors only.
"""

from __future__ import annotations

import datetime
from typing import Any

import yaml

from kspec.errors import Path, SpecError, shorten

MAX_SCALAR = 10_000
MAX_INT = 2**63 - 1
#: longer integer literals are refused before conversion (room for a sign, `_` separators and a 0x/0o prefix)
_MAX_INT_TEXT = 2 * len(str(MAX_INT)) + 4

TAG = "tag:yaml.org,2002:"
STR = TAG + "str"
MERGE = TAG + "merge"
_INT = TAG + "int"
SAFE_TAGS = frozenset(
    TAG + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge", "binary", "timestamp")
)
MAP, SEQ = TAG + "map", TAG + "seq"
_COLLECTION_TAGS = frozenset((MAP, SEQ))  # SafeConstructor builds these with generators
#: what the cache may hold: a value shared by every later document must be one no stage can change
_IMMUTABLE = frozenset((str, int, float, bool, type(None), bytes, datetime.date, datetime.datetime))
_NOT_PLAIN = "kspec reads plain YAML only; remove the tag"
#: resolved scalars, per loader class, shared by the documents of a process (`validate specs/` reads the same keys and
#: values again and again); only short texts, at most `CACHED` of them
SCALARS: dict[type, dict[tuple[str | None, str, bool], tuple[str, Any]]] = {}
CACHED, _CACHED_TEXT = 20_000, 200

Pos = tuple[int, int]


def position(event: yaml.Event) -> Pos:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def located(event: yaml.Event, message: str, code: str, path: Path, hint: str | None = None) -> SpecError:
    line, column = position(event)
    return SpecError(message, path, code, hint=hint, line=line, column=column)


def tag_error(event: yaml.Event, tag: str, path: Path) -> SpecError:
    return located(event, f"the tag {shorten(tag, 60)} is not allowed", "yaml-unsafe", path, _NOT_PLAIN)


def int_error(event: Any, path: Path, text_checked: bool = False) -> SpecError:
    most = len(str(MAX_INT))
    digits = sum(c.isdigit() for c in event.value)
    message = (
        f"the integer has {digits} digits, more than {most}"
        if text_checked
        else f"the integer has more than {most} digits"
    )
    return located(event, message, "yaml-limits", path, "kspec reads integers up to 2**63 - 1")


def construct(loader: Any, cache: dict[Any, tuple[str, Any]], event: Any, path: Path) -> tuple[str, Any]:
    """The resolved tag and the value of a scalar event. Cached (short texts): every value kept is immutable, and
    depends only on the tag, the text and whether the tag was implicit."""
    tag, text = event.tag, event.value
    if tag is not None and tag != "!" and tag not in SAFE_TAGS:
        raise tag_error(event, tag, path)
    if len(text) > MAX_SCALAR:
        raise located(event, f"a scalar is longer than {MAX_SCALAR} characters", "yaml-limits", path)
    key = (tag, text, event.implicit[0])
    hit = cache.get(key)
    if hit is not None:
        return hit
    if tag is None or tag == "!":
        tag = loader.resolve(yaml.ScalarNode, text, event.implicit)
    if tag == STR or tag == MERGE:
        out = (tag, text)
    elif tag in _COLLECTION_TAGS:
        message = f"the tag !!{tag.rsplit(':', 1)[-1]} is for a collection, not a scalar"
        raise located(event, message, "yaml-syntax", path, _NOT_PLAIN)
    elif tag == _INT and len(text) > _MAX_INT_TEXT:
        raise int_error(event, path, True)  # checked on the text: converting thousands of digits is refused by Python
    else:
        node = yaml.ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)
        try:
            out = (tag, loader.yaml_constructors[tag](loader, node))
        except (ValueError, TypeError, AttributeError, LookupError, yaml.YAMLError):  # `!!bool maybe`, `!!int ''`
            kind = tag.rsplit(":", 1)[-1]
            raise located(event, f"{shorten(text, 40)} is not a valid {kind}", "yaml-syntax", path) from None
    if len(text) <= _CACHED_TEXT and type(out[1]) in _IMMUTABLE:
        cache[key] = out
    return out
