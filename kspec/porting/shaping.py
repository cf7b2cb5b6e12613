"""Stage: the import IR -> the sections of a readable spec: `defaults:`, `blocks:` and layer entries.

Pure Python. Arguments shared by most layers of a type move to `defaults:`; repeated sub-structures whose layer
names follow one instance prefix (`conv2_block1_1_conv`, `conv2_block2_1_conv`, ...) become parameterised blocks;
names Keras would give anyway are left out.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kspec.porting.model import Entry, ImportedModel

_MISSING = object()


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@dataclass
class Shaped:
    """The spec sections made from the IR, and what the detector found."""

    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    blocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    block_uses: Counter[str] = field(default_factory=Counter)


# -- defaults ------------------------------------------------------------------------------------------------------
def find_defaults(models: list[ImportedModel]) -> dict[str, dict[str, Any]]:
    """Per layer type, the arguments whose most common value differs from Keras's default and holds for most layers."""
    by_type: dict[str, list[Entry]] = {}
    for model in models:
        for entry in model.entries:
            if entry.kind == "type":
                by_type.setdefault(entry.type, []).append(entry)
    defaults: dict[str, dict[str, Any]] = {}
    for type_name, entries in by_type.items():
        if len(entries) < 2:
            continue
        keys = {k for e in entries for k in e.args if k not in ("name", "trainable")}
        chosen: dict[str, Any] = {}
        for key in sorted(keys):
            if any(key not in e.args and key not in e.keras_defaults for e in entries):
                continue
            found = {_key(v): v for v in (e.args.get(key, e.keras_defaults.get(key)) for e in entries)}
            values = Counter(_key(e.args.get(key, e.keras_defaults.get(key))) for e in entries)
            best, count = values.most_common(1)[0]
            at_default = any(key in e.keras_defaults and _key(e.keras_defaults[key]) == best for e in entries)
            if count >= 2 and count * 2 > len(entries) and not at_default:
                chosen[key] = found[best]  # as written, keys in their order (`{type: X, ...}` first)
        if chosen:
            defaults[type_name] = chosen
    for type_name, chosen in defaults.items():
        for entry in by_type[type_name]:
            for key, value in chosen.items():
                if key not in entry.args:
                    entry.args[key] = entry.keras_defaults[key]  # Keras's default differs from the spec's
                elif _key(entry.args[key]) == _key(value):
                    del entry.args[key]
    return defaults


def effective(entry: Entry, key: str, defaults: dict[str, dict[str, Any]]) -> Any:
    """The value a layer gets for `key` once `defaults:` and Keras's defaults apply; `_MISSING` when unknown."""
    if key in entry.args:
        return entry.args[key]
    spec_default = defaults.get(entry.type, {})
    if key in spec_default:
        return spec_default[key]
    return entry.keras_defaults.get(key, _MISSING)
