"""Plain data from a parser's YAML events in one pass: positions, bounds, tags, duplicate keys, anchors and merges.

The parser (libyaml's, or PyYAML's pure-Python one for error messages) only produces events. This module does what
PyYAML's composer and constructor would do, without recursion, and refuses what kspec does not read before it is
built: tags outside plain YAML, nesting deeper than `MAX_DEPTH`, more than `MAX_NODES` nodes after alias expansion
(the "billion laughs", and nesting that aliases repeat deeper), long scalars, huge integers. Scalars are resolved
and built by `yaml_scalars`, with the loader's own rules. Imports yaml, kspec.errors and yaml_scalars only.
"""

from __future__ import annotations

from typing import Any

import yaml

from kspec.errors import Path, SpecError, shorten
from kspec.lang.yaml_scalars import (
    CACHED,
    MAP,
    MAX_INT,
    MERGE,
    SAFE_TAGS,
    SCALARS,
    SEQ,
    STR,
    Pos,
    construct,
    int_error,
    located,
    position,
    tag_error,
)

MAX_DEPTH = 64
MAX_NODES = 200_000
_MERGE_KEY = object()  # a mapping's pending key while the value of its `<<` is read


class _Open:
    """One open collection: its value so far, and what the next node is for."""

    __slots__ = (
        "value",
        "path",
        "pos",
        "anchor",
        "start",
        "key",
        "merged",
        "merge_list",
        "log_start",
        "is_map",
        "outer",
    )

    def __init__(
        self, value: Any, path: Path, pos: Pos, anchor: str | None, log_start: int, merge_list: bool, start: int
    ) -> None:
        self.value = value
        self.path = path
        self.pos = pos
        self.anchor = anchor
        self.start = start  # nodes counted before this collection; its size is the count at its end less this
        self.key: Any = None  # mappings: the key waiting for its value; None: the next scalar is a key
        self.merged: dict[Any, Any] | None = None
        self.merge_list = merge_list  # a sequence that is the value of `<<`: a list of mappings to merge
        self.log_start = log_start
        self.is_map = type(value) is dict
        self.outer = 0  # anchored collections: the builder's `deepest` when it opened


def plain_copy(value: Any) -> Any:
    """A deep copy of data as `Builder` makes it (mappings, lists, immutable scalars), a third of the cost of
    `copy.deepcopy`, which also keeps shared parts shared (the data read here shares none: aliases are copied)."""
    kind = type(value)
    if kind is dict:
        return {k: plain_copy(v) for k, v in value.items()}
    if kind is list:
        return [plain_copy(v) for v in value]
    return value


def _merge_error(pos: Pos, path: Path) -> SpecError:
    return SpecError("a merge key `<<` needs a mapping", path, "yaml-syntax", line=pos[0], column=pos[1])


class Builder:
    """Reads the events of one document from `loader` (get_event, resolve, yaml_constructors) and returns its data;
    `positions` maps each spec path to the line and column where it starts. Raises a located `SpecError`, or the
    parser's `yaml.YAMLError`. `run` handles common events inline (scalars resolved before, keys, collections);
    anchors, aliases, merges, tags, new scalars and errors go through the methods below it."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.positions: dict[Path, Pos] = {(): (1, 1)}
        #: positions in the order recorded while an anchored collection is open, to repeat them under its aliases
        self.log: list[tuple[Path, Pos]] = []
        self.logging = 0  # anchored collections open
        #: anchor -> (value, nodes, inner positions, path, levels of collections in the value); None: still open
        self.anchors: dict[str, tuple[Any, int, list[tuple[Path, Pos]], Path, int] | None] = {}
        self.deepest = 0  # the deepest level reached (aliases expanded) since the innermost anchored collection opened
        self.aliased: set[Path] = set()  # paths of nodes an alias (`*name`, `<<: *name`) repeats elsewhere
        self.anchor_marks: dict[str, Any] = {}
        self.total = 0  # nodes so far, after alias expansion (mapping keys not counted)
        self.stack: list[_Open] = []
        self.scalars = SCALARS.setdefault(type(loader), {})
        if len(self.scalars) > CACHED:
            self.scalars.clear()

    def run(self) -> Any:
        get_event, stack, scalars = self.loader.get_event, self.stack, self.scalars
        scalar_event, alias_event, mapping_start = yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent
        sequence_start, end_events = yaml.SequenceStartEvent, (yaml.MappingEndEvent, yaml.SequenceEndEvent)
        result: Any = None
        document: Any = None
        while (event := get_event()) is not None:
            kind = type(event)
            if kind is scalar_event and stack and event.anchor is None:
                parent = stack[-1]
                hit = scalars.get((event.tag, event.value, event.implicit[0]))
                if hit is None or parent.merge_list or parent.key is _MERGE_KEY:
                    self.node(event, parent)
                elif parent.is_map and parent.key is None:  # a key seen before
                    tag, key = hit
                    if tag == MERGE:
                        if parent.merged is not None:
                            self.key(event, parent)  # reports the second one
                        parent.key = _MERGE_KEY
                        continue
                    if key is None or type(key) is bool or type(key) is float:
                        key = event.value
                    if key in parent.value:
                        self.key(event, parent)  # reports the duplicate
                    self.record((*parent.path, key), (event.start_mark.line + 1, event.start_mark.column + 1))
                    parent.key = key
                else:  # a value seen before
                    value = event.value if hit[0] == MERGE else hit[1]
                    if type(value) is int and abs(value) > MAX_INT:
                        self.node(event, parent)  # reports it
                    if parent.is_map:
                        parent.value[parent.key] = value
                        parent.key = None
                    else:
                        self.place(parent, event)
                        parent.value.append(value)
                    self.total += 1
                    if self.total > MAX_NODES:
                        self.count(event, 0)
            elif kind is scalar_event or kind is alias_event:
                if stack:
                    self.node(event, stack[-1])
                else:
                    result = self.alias(event, ())[0] if kind is alias_event else self.scalar(event, ())
            elif kind is mapping_start or kind is sequence_start:
                outer = stack[-1] if stack else None
                if (outer is None or event.tag is not None or event.anchor is not None or outer.merge_list
                        or outer.key is _MERGE_KEY or (outer.is_map and outer.key is None)
                        or len(stack) > MAX_DEPTH):  # fmt: skip
                    self.start(event)
                    continue
                path, pos = self.place(outer, event)
                start = self.total
                self.total += 1
                if self.total > MAX_NODES:
                    self.count(event, 0)
                stack.append(_Open({} if kind is mapping_start else [], path, pos, None, len(self.log), False, start))
                if len(stack) > self.deepest:
                    self.deepest = len(stack)
            elif kind in end_events:
                result = self.end()
            elif kind is yaml.DocumentStartEvent:
                if document is not None:
                    raise yaml.composer.ComposerError(
                        "expected a single document in the stream",
                        document.start_mark,
                        "but found another document",
                        event.start_mark,
                    )
                document = event
        return result

    # -- collections ------------------------------------------------------------------------------------------------
    def start(self, event: Any) -> None:
        stack = self.stack
        parent = stack[-1] if stack else None
        unsafe = event.tag is not None and event.tag != "!" and event.tag not in SAFE_TAGS
        if parent is not None and parent.key is None and parent.is_map:
            if unsafe:
                raise tag_error(event, event.tag, parent.path)
            raise located(event, "mapping keys must be plain scalars", "yaml-syntax", parent.path)
        path, pos = self.place(parent, event)
        if unsafe:
            raise tag_error(event, event.tag, path)
        is_map = type(event) is yaml.MappingStartEvent
        if event.tag is not None and event.tag != "!" and event.tag != (MAP if is_map else SEQ):  # `!!str {x: 1}`
            fits = "a mapping" if is_map else "a sequence"
            raise located(event, f"the tag !!{event.tag.rsplit(':', 1)[-1]} does not fit {fits}", "yaml-syntax", path)
        if len(stack) > MAX_DEPTH:
            raise located(event, f"the document nests deeper than {MAX_DEPTH} levels", "yaml-limits", ())
        start = self.total
        self.count(event, 1)
        self.open_anchor(event)
        merge_list = not is_map and parent is not None and parent.key is _MERGE_KEY
        frame = _Open({} if is_map else [], path, pos, event.anchor, len(self.log), merge_list, start)
        stack.append(frame)
        if event.anchor is not None:
            self.logging += 1
            frame.outer, self.deepest = self.deepest, len(stack)
        self.deepest = max(self.deepest, len(stack))

    def end(self) -> Any:
        frame = self.stack.pop()
        value = frame.value
        if frame.merged is not None:
            for k, v in frame.merged.items():
                value.setdefault(k, v)
        if frame.anchor is not None:
            n = len(frame.path)
            inner = [(p[n:], pos) for p, pos in self.log[frame.log_start :] if p[:n] == frame.path]
            height = self.deepest - len(self.stack)  # the stack without this frame: its own level counts
            self.anchors[frame.anchor] = (value, self.total - frame.start, inner, frame.path, height)
            self.deepest = max(self.deepest, frame.outer)
            self.logging -= 1
            if not self.logging:
                del self.log[:]
        if self.stack:
            self.add(self.stack[-1], value, frame.pos)
        return value

    def place(self, parent: _Open | None, event: yaml.Event) -> tuple[Path, Pos]:
        """The spec path of the node that `event` starts, with its position recorded."""
        pos = position(event)
        if parent is None:
            return (), pos
        if parent.merge_list or parent.key is _MERGE_KEY:
            return parent.path, pos
        if not parent.is_map:
            path = (*parent.path, len(parent.value))
            self.record(path, pos, keep=True)
            return path, pos
        return (*parent.path, parent.key), pos

    def record(self, path: Path, pos: Pos, keep: bool = False) -> None:
        if keep and path in self.positions:
            return
        self.positions[path] = pos
        if self.logging:
            self.log.append((path, pos))

    def count(self, event: yaml.Event, size: int) -> None:
        """Add `size` nodes (after alias expansion); the bound is reported, like a syntax error, at the document."""
        self.total += size
        if self.total > MAX_NODES:
            raise located(
                event,
                f"the document expands to more than {MAX_NODES} nodes",
                "yaml-limits",
                (),
                "aliases multiply what they refer to; write the values out or use blocks",
            )

    def open_anchor(self, event: Any) -> None:
        anchor = event.anchor
        if anchor is None:
            return
        if anchor in self.anchor_marks:
            raise yaml.composer.ComposerError(
                f"found duplicate anchor {anchor!r}; first occurrence",
                self.anchor_marks[anchor],
                "second occurrence",
                event.start_mark,
            )
        self.anchor_marks[anchor] = event.start_mark
        self.anchors[anchor] = None

    # -- scalars, aliases, keys -------------------------------------------------------------------------------------
    def node(self, event: Any, parent: _Open) -> None:
        if parent.key is None and parent.is_map:
            self.key(event, parent)
            return
        path, pos = self.place(parent, event)
        if type(event) is yaml.AliasEvent:
            value, size, inner = self.alias(event, path)
            self.count(event, size)
            for rel, at in inner:
                self.record((*path, *rel), at, keep=True)
        else:
            self.count(event, 1)
            self.open_anchor(event)
            value = self.scalar(event, path)
            if event.anchor is not None:
                self.anchors[event.anchor] = (value, 1, [], path, 0)
        self.add(parent, value, pos)

    def alias(self, event: Any, path: Path) -> tuple[Any, int, list[tuple[Path, Pos]]]:
        if event.anchor not in self.anchors:
            raise yaml.composer.ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
        entry = self.anchors[event.anchor]
        if entry is None:
            raise located(
                event,
                f"the alias *{event.anchor[:40]} refers to a collection that contains it",
                "yaml-limits",
                path,
                "a structure that contains itself never ends; write the values out",
            )
        value, size, inner, where, height = entry
        level = len(self.stack) + height  # the deepest level the copy reaches; a collection opens past it
        if level - 1 > MAX_DEPTH:  # refused as `start` refuses a collection written out that deep
            raise located(
                event,
                f"the alias *{event.anchor[:40]} nests the document deeper than {MAX_DEPTH} levels",
                "yaml-limits",
                path,
                "aliases nest what they refer to where they are used; flatten the structure",
            )
        self.deepest = max(self.deepest, level)
        self.aliased.add(where)
        self.aliased.update((*where, *rel) for rel, _ in inner)
        return plain_copy(value), size, inner

    def key(self, event: Any, parent: _Open) -> None:
        path = parent.path
        if type(event) is yaml.AliasEvent:
            key = self.alias(event, path)[0]
            if isinstance(key, dict | list):
                raise located(event, "mapping keys must be plain scalars", "yaml-syntax", path)
            tag, raw = STR, str(key)
        else:
            self.open_anchor(event)
            tag, key = construct(self.loader, self.scalars, event, path)
            raw = event.value
            if event.anchor is not None:
                self.anchors[event.anchor] = (key, 1, [], (*path, event.value), 0)
        if tag == MERGE:
            if parent.merged is not None:
                hint = "a mapping takes one `<<`; merge several with `<<: [*a, *b]`"
                raise located(event, "duplicate merge key `<<`", "duplicate-key", path, hint)
            parent.key = _MERGE_KEY
            return
        if isinstance(key, bool | float) or key is None:
            key = raw
        if key in parent.value:
            first = self.positions.get((*path, key), (0, 0))[0]
            raise located(
                event,
                f"duplicate key {shorten(key, 60)} (first given on line {first})",
                "duplicate-key",
                (*path, key),
                "each key may appear once; remove one of them",
            )
        self.record((*path, key), position(event))
        parent.key = key

    def scalar(self, event: Any, path: Path) -> Any:
        tag, value = construct(self.loader, self.scalars, event, path)
        if tag == MERGE:
            return event.value
        if type(value) is int and abs(value) > MAX_INT:
            raise int_error(event, path)
        return value

    def add(self, parent: _Open, value: Any, pos: Pos) -> None:
        """Put a finished value (which started at `pos`) into its parent collection."""
        if parent.merge_list:
            if not isinstance(value, dict):
                raise _merge_error(pos, parent.path)
            parent.value.append(value)
        elif type(parent.value) is list:
            parent.value.append(value)
        elif parent.key is _MERGE_KEY:
            merged = parent.merged if parent.merged is not None else {}
            for source in value if isinstance(value, list) else [value]:
                if not isinstance(source, dict):
                    raise _merge_error(pos, parent.path)
                for k, v in source.items():
                    merged.setdefault(k, v)
            parent.merged = merged
            parent.key = None
        else:
            parent.value[parent.key] = value
            parent.key = None
