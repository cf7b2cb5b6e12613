"""Stage 1, read: the short form of a block, `name(param, param=default): [layers]`, as its long form.

A block is written like a Python function: its parameters in its name, its layers as its value,

    blocks:
      stage(filters, strides=2):          # = stage: {params: {filters: null, strides: 2}, layers: [...]}
        - {type: Conv2D, filters: "${filters}", strides: "${strides}"}

A parameter without a default is required (as `null` in `params:`); a default is a YAML scalar or flow value
(`rate=0.1`, `size=[2, 2]`, `act=relu`). The value may also be a mapping of the long form's other keys (`inputs:`,
`output:`, `description:`, `layers:`), but not `params:`. `rewrite` turns each short form into the long form in
place, before overrides, variables and validation, and gives each moved path the position of the text it came
from, so every later message points at the user's line. `loader` calls it with its own YAML reader for the defaults
(the spec's rules: `1e-3` is a float, no tags). `literal_repeats` checks the blocks' `repeat:`s. Imports
kspec.errors only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kspec.errors import Path, SpecError, SpecErrors, shorten

__all__ = ["SIGNATURE_KEY", "literal_repeats", "parse_signature", "rewrite"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SIGNATURE = re.compile(rf"^\s*({_NAME})\s*\((.*)\)\s*$", re.S)
#: the JSON Schema pattern of a signature key (the editor's view; `parse_signature` says what is wrong in detail)
SIGNATURE_KEY = r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*\(.*\)\s*$"
_PARAM = re.compile(rf"^\s*({_NAME})\s*(?:=(.*))?$", re.S)
_CODE = "wrong-type"
_HINT = "write a block's signature as name(param, param=default), e.g. stage(filters, strides=2)"


def _split(text: str) -> list[str]:
    """Split `text` at commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts if text.strip() else []


Reader = Callable[[str], Any]


def _default(text: str, path: Path, read: Reader) -> Any:
    try:
        value = read(text.strip())
    except SpecErrors:
        value = ...
    if value is ... or isinstance(value, dict) or not text.strip():
        raise SpecErrors(
            [SpecError(f"the default {text.strip()!r} is not a YAML value", path, _CODE, hint=_HINT)]
        ) from None
    return value


def parse_signature(key: str, path: Path, read: Reader) -> tuple[str, dict[str, Any]] | None:
    """`stage(filters, strides=2)` -> (`stage`, {filters: None, strides: 2}); None when `key` has no `(`."""
    if "(" not in key:
        return None
    match = _SIGNATURE.match(key)
    if match is None:
        raise SpecErrors([SpecError(f"the block name {key!r} is not a signature", path, _CODE, hint=_HINT)])
    params: dict[str, Any] = {}
    for part in _split(match.group(2)):
        item = _PARAM.match(part)
        if item is None:
            raise SpecErrors([SpecError(f"{part.strip()!r} is not a parameter", path, _CODE, hint=_HINT)])
        name, default = item.group(1), item.group(2)
        if name in params:
            raise SpecErrors([SpecError(f"parameter '{name}' is named twice", path, _CODE, hint=_HINT)])
        params[name] = None if default is None else _default(default, path, read)
    return match.group(1), params


def rewrite(data: Any, positions: dict[Path, tuple[int, int]], read: Reader) -> None:
    """Rewrite the short-form blocks of `data` (a parsed document) into the long form, moving their positions."""
    blocks = data.get("blocks") if isinstance(data, dict) else None
    if not isinstance(blocks, dict) or not any(isinstance(k, str) and "(" in k for k in blocks):
        return
    out: dict[Any, Any] = {}
    for key, value in blocks.items():
        here: Path = ("blocks", key)
        parsed = parse_signature(key, here, read) if isinstance(key, str) else None
        if parsed is None:
            out[key] = value
            continue
        name, params = parsed
        if name in out or name in blocks:
            raise SpecErrors([SpecError(f"block '{name}' is defined twice", here, "duplicate-key")])
        if isinstance(value, dict) and "params" in value:
            raise SpecErrors(
                [SpecError("a block with a signature takes its parameters from it, not from `params:`",
                           (*here, "params"), _CODE, hint=f"move them into the signature: {name}(...)")]
            )  # fmt: skip
        long = isinstance(value, dict)
        moved: Path = ("blocks", name) if long else ("blocks", name, "layers")
        out[name] = {"params": params, **value} if long else {"params": params, "layers": value}
        for old in [p for p in positions if p[: len(here)] == here]:
            positions[(*moved, *old[len(here) :])] = positions[old]
        positions[("blocks", name)] = positions[here]
        for param in params:
            positions[("blocks", name, "params", param)] = positions[here]
    data["blocks"] = out


def literal_repeats(data: Any) -> list[SpecError]:
    """An error for each block layer whose whole `repeat:` (a count, or one list) is a variable: a block is read when
    it is defined, before any instance gives its parameters."""
    blocks = data.get("blocks") if isinstance(data, dict) else None
    errors = []
    for name, block in blocks.items() if isinstance(blocks, dict) else ():
        layers = block.get("layers") if isinstance(block, dict) else None
        for i, entry in enumerate(layers if isinstance(layers, list) else []):
            repeat = entry.get("repeat") if isinstance(entry, dict) else None
            values = repeat.values() if isinstance(repeat, dict) else [repeat]
            bad = next((v for v in values if isinstance(v, str) and "${" in v), None)
            if bad is not None:
                errors.append(SpecError(
                    f"`repeat:` inside a block takes a literal count or literal lists, not {shorten(bad)}",
                    ("blocks", name, "layers", i, "repeat"), "wrong-type",
                    hint="list the values here; each may be a variable or parameter: "
                    'repeat: {units: ["${ff_dim}", "${hidden_dim}"]}, or repeat the block instance instead',
                ))  # fmt: skip
    return errors
