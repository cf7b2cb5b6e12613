"""Stage 3, resolve: what the resolver reads of one layer entry, read once per entry.

A block's entries are resolved once per block instance and a `repeat:` entry once per repetition, so a deep stack
resolves the same few `LayerEntry` objects thousands of times. Their kind, arguments, input names and whether any
argument holds a `${var}` do not change from one time to the next. Imports kspec only (no keras).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from kspec.errors import Path
from kspec.lang.spec import ENTRY_KINDS, LayerEntry


@dataclass(frozen=True)
class EntryFacts:
    """One entry, as the resolver uses it (see `LayerEntry` for each field's meaning)."""

    kind: str  # type, block, use, model or op
    node_kind: str  # the node it makes: layer (for `type:`), use, model or op
    type_name: str  # the layer type, used layer, model, op or block it names
    base: str  # what an auto name starts from: the layer type in snake_case, or the used layer, model or op
    args: dict[str, Any]  # its arguments (never changed: each node copies them)
    times: int
    names: list[str] | None  # the inputs it names, in order (None: the previous layer)
    locs: tuple[Path, ...]  # where each named input is written, relative to the entry
    named: bool  # inputs given by call argument (`inputs: {query: x, ...}`)
    varying: bool  # `repeat: {arg: [values]}`
    has_vars: bool  # some argument (or repeated value) holds `${...}`
    defaults: dict[str, Any]  # the spec's `defaults:` for its layer type ({} for other kinds)


def read(entry: LayerEntry, defaults: dict[str, dict[str, Any]]) -> EntryFacts:
    """The facts of `entry` in a spec with these `defaults:`."""
    kind = next(k for k in ENTRY_KINDS if getattr(entry, k) is not None)
    args = entry.args
    names = entry.input_names
    locs: tuple[Path, ...] = ()
    if names is not None:
        keys = entry.input_keys or [(i,) for i in range(len(names))]
        listed = isinstance(entry.inputs, list | dict)
        locs = tuple(("inputs", *k) for k in keys) if listed else (("inputs",),) * len(names)
    named_by = str(getattr(entry, kind))
    base = snake_case(named_by.split(">")[-1]) if kind == "type" else named_by
    varying = isinstance(entry.repeat, dict)
    repeated = list(entry.repeat.values()) if isinstance(entry.repeat, dict) else []
    return EntryFacts(
        kind=kind,
        node_kind="layer" if kind == "type" else kind,
        type_name=named_by,
        base=base,
        args=args,
        times=entry.times,
        names=names,
        locs=locs,
        named=isinstance(entry.inputs, dict),
        varying=varying,
        has_vars=_mentions_var(args) or _mentions_var(repeated),
        defaults=defaults.get(named_by, {}) if kind == "type" else {},
    )


def arg_paths(
    entry: LayerEntry, facts: EntryFacts, path: Path, defaults: dict[str, Any], repeated: dict[str, Any], rep: int
) -> dict[str, Path]:
    """Argument -> where it is written: under `defaults:`, in the entry at `path`, or in its `repeat:` lists."""
    out: dict[str, Path] = {k: ("defaults", str(entry.type), k) for k in defaults}
    out |= {k: (*path, k) for k in [*facts.args, *repeated]}
    out.update({k: (*path, "repeat", k, rep) for k in repeated})
    return out


@functools.lru_cache(maxsize=4096)
def snake_case(name: str) -> str:
    """Keras's auto-name rule: `Conv2D` -> `conv2d`, `BatchNormalization` -> `batch_normalization`."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _mentions_var(value: Any) -> bool:
    """Whether a string inside `value` holds `${` (a variable `expand.substitute` would replace)."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(_mentions_var(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_var(v) for v in value)
    return False
