"""The import IR: a Keras model read into plain entries, before it is shaped into a readable spec.

Stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kspec.errors import Path, SpecError, format_path

EntryKind = Literal["type", "use", "model", "op", "unsupported"]


@dataclass
class Entry:
    """One call in a model: a layer (`type`), a shared layer called again (`use`), a nested model or an op."""

    name: str
    kind: EntryKind
    type: str
    args: dict[str, Any] = field(default_factory=dict)
    #: Keras's default, in spec form, for every argument the layer knows (used to undo `defaults:` and to fill
    #: block parameters of instances that leave an argument at its default).
    keras_defaults: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    #: Tensors by call argument (`{query: a, value: b}`) and constant call options, for the layers that take them.
    named: dict[str, Any] | None = None
    call: dict[str, Any] = field(default_factory=dict)


@dataclass
class Problem:
    """Something the spec language cannot express, at a layer of the source model."""

    layer: str
    cls: str
    where: Path
    message: str
    code: str

    def render(self) -> str:
        return f"{format_path(self.where)}: layer '{self.layer}' ({self.cls}) {self.message} [{self.code}]"

    def diagnostic(self, source: str) -> SpecError:
        """The problem as a diagnostic located in the source model's config."""
        return SpecError(f"layer '{self.layer}' ({self.cls}) {self.message}", self.where, self.code, file=source)


@dataclass
class ImportedModel:
    """A functional model: named inputs, entries in topological order, output names."""

    name: str
    inputs: dict[str, dict[str, Any]]
    entries: list[Entry]
    outputs: list[str]


@dataclass
class Imported:
    """A Keras model as kspec models (nested models first, the source model last)."""

    models: dict[str, ImportedModel]
    main: str
    source: str
    keras_version: str
    plugins: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def layer_count(self) -> int:
        return sum(1 for m in self.models.values() for e in m.entries if e.kind in ("type", "op", "unsupported"))
