"""Plain data from a parser's YAML events in one pass: positions, bounds, tags, duplicate keys, anchors and merges.

The parser (libyaml's, or PyYAML's pure-Python one for error messages) only produces events. This module does what
PyYAML's composer and constructor would do, without recursion, and refuses what kspec does not read before it is
built: tags outside plain YAML, nesting deeper than `MAX_DEPTH`, more than `MAX_NODES` nodes after alias expansion
(the "billion laughs"), long scalars, huge integers. Scalars are resolved with the loader's own rules (YAML 1.2
booleans and floats, see `loader`). Imports yaml and kspec.errors only.
"""

from __future__ import annotations

from typing import Any

import yaml

from kspec.errors import Path, SpecError, shorten

MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_SCALAR = 10_000
MAX_INT = 2**63 - 1
#: longer integer literals are refused before conversion (room for a sign, `_` separators and a 0x/0o prefix)
_MAX_INT_TEXT = 2 * len(str(MAX_INT)) + 4

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_MERGE = _TAG + "merge"
_INT = _TAG + "int"
SAFE_TAGS = frozenset(
    _TAG + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge", "binary", "timestamp")
)
_NOT_PLAIN = "kspec reads plain YAML only; remove the tag"
_MERGE_KEY = object()  # a mapping's pending key while the value of its `<<` is read
#: resolved scalars, per loader class, shared by the documents of a process (`validate specs/` reads the same keys and
#: values again and again); only short texts, at most `_CACHED` of them
_SCALARS: dict[type, dict[tuple[str | None, str, bool], tuple[str, Any]]] = {}
_CACHED, _CACHED_TEXT = 20_000, 200

Pos = tuple[int, int]


class _Open:
    """One open collection: its value so far, and what the next node is for."""

    __slots__ = ("value", "path", "pos", "anchor", "start", "key", "merged", "merge_list", "log_start", "is_map")

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


def plain_copy(value: Any) -> Any:
    """A deep copy of data as `Builder` makes it (mappings, lists, immutable scalars), a third of the cost of
    `copy.deepcopy`, which also keeps shared parts shared (the data read here shares none: aliases are copied)."""
    kind = type(value)
    if kind is dict:
        return {k: plain_copy(v) for k, v in value.items()}
    if kind is list:
        return [plain_copy(v) for v in value]
    return value


def _pos(event: yaml.Event) -> Pos:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _error(event: yaml.Event, message: str, code: str, path: Path, hint: str | None = None) -> SpecError:
    line, column = _pos(event)
    return SpecError(message, path, code, hint=hint, line=line, column=column)


def _tag_error(event: yaml.Event, tag: str, path: Path) -> SpecError:
    return _error(event, f"the tag {shorten(tag, 60)} is not allowed", "yaml-unsafe", path, _NOT_PLAIN)


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
        self.anchors: dict[str, tuple[Any, int, list[tuple[Path, Pos]], Path] | None] = {}  # None: still open
        self.aliased: set[Path] = set()  # paths of nodes an alias (`*name`, `<<: *name`) repeats elsewhere
        self.anchor_marks: dict[str, Any] = {}
        self.total = 0  # nodes so far, after alias expansion (mapping keys not counted)
        self.stack: list[_Open] = []
        self.scalars = _SCALARS.setdefault(type(loader), {})
        if len(self.scalars) > _CACHED:
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
                    if tag == _MERGE:
                        parent.key = _MERGE_KEY
                        continue
                    if key is None or type(key) is bool or type(key) is float:
                        key = event.value
                    if key in parent.value:
                        self.key(event, parent)  # reports the duplicate
                    self.record((*parent.path, key), (event.start_mark.line + 1, event.start_mark.column + 1))
                    parent.key = key
                else:  # a value seen before
                    value = event.value if hit[0] == _MERGE else hit[1]
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
                raise _tag_error(event, event.tag, parent.path)
            raise _error(event, "mapping keys must be plain scalars", "yaml-syntax", parent.path)
        path, pos = self.place(parent, event)
        if unsafe:
            raise _tag_error(event, event.tag, path)
        if len(stack) > MAX_DEPTH:
            raise _error(event, f"the document nests deeper than {MAX_DEPTH} levels", "yaml-limits", ())
        start = self.total
        self.count(event, 1)
        self.open_anchor(event)
        is_map = type(event) is yaml.MappingStartEvent
        merge_list = not is_map and parent is not None and parent.key is _MERGE_KEY
        if event.anchor is not None:
            self.logging += 1
        stack.append(_Open({} if is_map else [], path, pos, event.anchor, len(self.log), merge_list, start))

    def end(self) -> Any:
        frame = self.stack.pop()
        value = frame.value
        if frame.merged is not None:
            for k, v in frame.merged.items():
                value.setdefault(k, v)
        if frame.anchor is not None:
            n = len(frame.path)
            inner = [(p[n:], pos) for p, pos in self.log[frame.log_start :] if p[:n] == frame.path]
            self.anchors[frame.anchor] = (value, self.total - frame.start, inner, frame.path)
            self.logging -= 1
            if not self.logging:
                del self.log[:]
        if self.stack:
            self.add(self.stack[-1], value, frame.pos)
        return value

    def place(self, parent: _Open | None, event: yaml.Event) -> tuple[Path, Pos]:
        """The spec path of the node that `event` starts, with its position recorded."""
        pos = _pos(event)
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
            raise _error(
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
                self.anchors[event.anchor] = (value, 1, [], path)
        self.add(parent, value, pos)

    def alias(self, event: Any, path: Path) -> tuple[Any, int, list[tuple[Path, Pos]]]:
        if event.anchor not in self.anchors:
            raise yaml.composer.ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
        entry = self.anchors[event.anchor]
        if entry is None:
            raise _error(
                event,
                f"the alias *{event.anchor[:40]} refers to a collection that contains it",
                "yaml-limits",
                path,
                "a structure that contains itself never ends; write the values out",
            )
        value, size, inner, where = entry
        self.aliased.add(where)
        self.aliased.update((*where, *rel) for rel, _ in inner)
        return plain_copy(value), size, inner

    def key(self, event: Any, parent: _Open) -> None:
        path = parent.path
        if type(event) is yaml.AliasEvent:
            key = self.alias(event, path)[0]
            if isinstance(key, dict | list):
                raise _error(event, "mapping keys must be plain scalars", "yaml-syntax", path)
            tag, raw = _STR, str(key)
        else:
            self.open_anchor(event)
            tag, key = self.construct(event, path)
            raw = event.value
            if event.anchor is not None:
                self.anchors[event.anchor] = (key, 1, [], (*path, event.value))
        if tag == _MERGE:
            parent.key = _MERGE_KEY
            return
        if isinstance(key, bool | float) or key is None:
            key = raw
        if key in parent.value:
            first = self.positions.get((*path, key), (0, 0))[0]
            raise _error(
                event,
                f"duplicate key {shorten(key, 60)} (first given on line {first})",
                "duplicate-key",
                (*path, key),
                "each key may appear once; remove one of them",
            )
        self.record((*path, key), _pos(event))
        parent.key = key

    def scalar(self, event: Any, path: Path) -> Any:
        tag, value = self.construct(event, path)
        if tag == _MERGE:
            return event.value
        if type(value) is int and abs(value) > MAX_INT:
            raise _error(
                event,
                f"the integer has more than {len(str(MAX_INT))} digits",
                "yaml-limits",
                path,
                "kspec reads integers up to 2**63 - 1",
            )
        return value

    def construct(self, event: Any, path: Path) -> tuple[str, Any]:
        """The resolved tag and the value of a scalar event. Cached (short texts): every value built here is
        immutable, and depends only on the tag, the text and whether the tag was implicit."""
        tag, text = event.tag, event.value
        if tag is not None and tag != "!" and tag not in SAFE_TAGS:
            raise _tag_error(event, tag, path)
        if len(text) > MAX_SCALAR:
            raise _error(event, f"a scalar is longer than {MAX_SCALAR} characters", "yaml-limits", path)
        key = (tag, text, event.implicit[0])
        hit = self.scalars.get(key)
        if hit is not None:
            return hit
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, text, event.implicit)
        if tag == _STR or tag == _MERGE:
            out = (tag, text)
        elif tag == _INT and len(text) > _MAX_INT_TEXT:
            raise _error(  # checked on the text: converting thousands of digits is itself refused by Python
                event,
                f"the integer has {sum(c.isdigit() for c in text)} digits, more than {len(str(MAX_INT))}",
                "yaml-limits",
                path,
                "kspec reads integers up to 2**63 - 1",
            )
        else:
            node = yaml.ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)
            try:
                out = (tag, self.loader.yaml_constructors[tag](self.loader, node))
            except (ValueError, TypeError, AttributeError, yaml.YAMLError):
                kind = tag.rsplit(":", 1)[-1]
                raise _error(event, f"{shorten(text, 40)} is not a valid {kind}", "yaml-syntax", path) from None
        if len(text) <= _CACHED_TEXT:
            self.scalars[key] = out
        return out

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
