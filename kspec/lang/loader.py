"""Stage 1, read: YAML text -> `Document` (plain data plus a map from spec path to line and column).

Safe by construction: PyYAML's pure-Python SafeLoader (no Python tags), YAML 1.2 numbers and booleans,
duplicate keys refused, and bounds on size, depth and alias expansion. Imports yaml and the standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath
from typing import Any

import yaml

from kspec.errors import SET_SOURCE, Path, SpecError, SpecErrors, shorten

MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_SCALAR = 10_000
MAX_INT = 2**63 - 1
#: longer integer literals are refused before conversion (room for a sign, `_` separators and a 0x/0o prefix)
_MAX_INT_TEXT = 2 * len(str(MAX_INT)) + 4


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema booleans and floats (`1e-3` is a float, `no` is a string)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)

_SAFE_TAGS = {
    "tag:yaml.org,2002:" + t
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge", "binary", "timestamp")
}


@dataclass
class Document:
    """A parsed spec file: its data and where each path starts in the text."""

    file: str
    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    #: the `--set` overrides applied to `data`: the path each one set -> its text (`train.epochs=3`)
    overrides: dict[Path, str] = field(default_factory=dict)
    #: paths whose value an alias repeats elsewhere (a `vars:` entry holding an anchor is used that way)
    aliased: set[Path] = field(default_factory=set)
    #: the data after `--set`, before `${var}` expansion (`kspec.load` keeps it: `kspec tune` applies trial values)
    source: Any = None
    #: the folder relative paths in the spec start from, when not the file's own (a run folder's copy of a spec
    #: reads its data where the original spec did)
    base: FsPath | None = None

    @property
    def folder(self) -> FsPath:
        return self.base if self.base is not None else FsPath(self.file).resolve().parent

    def locate(self, err: SpecError) -> SpecError:
        """`err` with file, line and column of the longest prefix of its path that has a position.

        An error inside a value that a `--set` override put there is located at that override instead (file
        `<--set>`, the override echoed in a note): the file's line would point at text the user never touched.
        """
        if err.line is not None or err.file == SET_SOURCE:
            return err if err.file else replace(err, file=self.file)
        source = self._override_of(err.path)
        if source is not None:
            return replace(err, file=SET_SOURCE, notes=[*err.notes, f"from --set {shorten(source)} ({self.file})"])
        path = err.path
        while path and path not in self.positions:
            path = path[:-1]
        line, col = self.positions.get(path, (1, 1))
        return replace(err, file=self.file, line=line, column=col)

    def _override_of(self, path: Path) -> str | None:
        """The `--set` text that set `path` or a mapping or list around it (the longest such path)."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.overrides:
                return self.overrides[path[:n]]
        return None


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns a composed node tree into plain data, recording positions and enforcing bounds."""

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.positions: dict[Path, tuple[int, int]] = {(): (1, 1)}
        self.count = 0
        self.first_path: dict[int, Path] = {}  # id(node) -> where it was built first
        self.aliased: set[Path] = set()  # paths of nodes an alias (`*name`, `<<: *name`) repeats elsewhere

    def error(self, node: yaml.Node, message: str, code: str, path: Path, hint: str | None = None) -> SpecError:
        line, col = _mark(node)
        return SpecError(message, path, code, hint=hint, line=line, column=col)

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        first = self.first_path.setdefault(id(node), path)
        if first != path:
            self.aliased.add(first)
        if self.count > MAX_NODES:
            raise self.error(
                node,
                f"the document expands to more than {MAX_NODES} nodes",
                "yaml-limits",
                path,
                "aliases may be multiplying a mapping; write the values out or use blocks",
            )
        if len(path) > MAX_DEPTH:
            raise self.error(node, f"the document nests deeper than {MAX_DEPTH} levels", "yaml-limits", path)
        if node.tag not in _SAFE_TAGS:
            raise self.error(
                node,
                f"the tag {shorten(node.tag, 60)} is not allowed",
                "yaml-unsafe",
                path,
                "kspec reads plain YAML only; remove the tag",
            )
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            out = []
            for i, item in enumerate(node.value):
                self.positions.setdefault((*path, i), _mark(item))
                out.append(self.build(item, (*path, i)))
            return out
        if isinstance(node.value, str) and len(node.value) > MAX_SCALAR:
            raise self.error(node, f"a scalar is longer than {MAX_SCALAR} characters", "yaml-limits", path)
        if node.tag == "tag:yaml.org,2002:int" and len(node.value) > _MAX_INT_TEXT:
            raise self.error(  # checked on the text: converting thousands of digits is itself refused by Python
                node,
                f"the integer has {sum(c.isdigit() for c in node.value)} digits, more than {len(str(MAX_INT))}",
                "yaml-limits",
                path,
                "kspec reads integers up to 2**63 - 1",
            )
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise self.error(
                node,
                f"the integer has more than {len(str(MAX_INT))} digits",
                "yaml-limits",
                path,
                "kspec reads integers up to 2**63 - 1",
            )
        return value

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for src in sources:
                    value = self.build(src, path)
                    if not isinstance(value, dict):
                        raise self.error(src, "a merge key `<<` needs a mapping", "yaml-syntax", path)
                    for k, v in value.items():
                        merged.setdefault(k, v)
                continue
            if key_node.tag not in _SAFE_TAGS:
                raise self.error(
                    key_node,
                    f"the tag {shorten(key_node.tag, 60)} is not allowed",
                    "yaml-unsafe",
                    path,
                    "kspec reads plain YAML only; remove the tag",
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(key_node, "mapping keys must be plain scalars", "yaml-syntax", path)
            key = self.loader.construct_object(key_node)
            if isinstance(key, bool | float) or key is None:
                key = key_node.value
            if key in out:
                first = self.positions.get((*path, key), (0, 0))[0]
                raise self.error(
                    key_node,
                    f"duplicate key {shorten(key, 60)} (first given on line {first})",
                    "duplicate-key",
                    (*path, key),
                    "each key may appear once; remove one of them",
                )
            self.positions[(*path, key)] = _mark(key_node)
            out[key] = self.build(value_node, (*path, key))
        for k, v in merged.items():
            out.setdefault(k, v)
        return out


def _scan(text: str) -> None:
    """Walk the YAML events once, before anything is built: bound nesting depth and alias expansion, and report the
    event (e.g. the `*alias`) that crosses a bound. Composing the node tree is recursive; this pass is not."""
    loader = _Loader(text)
    open_: list[list[Any]] = []  # per open collection: [expanded size so far, anchor, is mapping, children seen]
    anchors: dict[str, int] = {}
    total = 0
    try:
        while loader.check_event():
            event = loader.get_event()  # type: ignore[no-untyped-call]
            if isinstance(event, yaml.CollectionEndEvent):
                size, anchor, _, _ = open_.pop()
                if anchor:
                    anchors[anchor] = size
                if open_:
                    open_[-1][0] += size
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            is_key = False
            if open_:
                parent = open_[-1]
                is_key = parent[2] and parent[3] % 2 == 0  # mapping keys are not counted: they are plain scalars
                parent[3] += 1
            if isinstance(event, yaml.CollectionStartEvent):
                if len(open_) > MAX_DEPTH:
                    raise _limit(event, f"the document nests deeper than {MAX_DEPTH} levels")
                open_.append([1, event.anchor, isinstance(event, yaml.MappingStartEvent), 0])
                total += 1
                continue
            size = anchors.get(event.anchor or "", 1) if isinstance(event, yaml.AliasEvent) else 1
            if isinstance(event, yaml.ScalarEvent) and event.anchor:
                anchors[event.anchor] = 1
            if is_key:
                continue
            if open_:
                open_[-1][0] += size
            total += size
            if total > MAX_NODES:
                raise _limit(
                    event,
                    f"the document expands to more than {MAX_NODES} nodes",
                    "aliases multiply what they refer to; write the values out or use blocks",
                )
    finally:
        loader.dispose()


def _limit(event: yaml.Event, message: str, hint: str | None = None) -> SpecError:
    mark = event.start_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return SpecError(message, (), "yaml-limits", hint=hint, line=line, column=column)


def _yaml_error(exc: yaml.YAMLError, file: str, text: str = "") -> SpecError:
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    mark = problem_mark or context_mark
    if problem_mark is not None and context_mark is not None and problem_mark.line + 1 > len(text.splitlines()):
        mark = context_mark  # the problem is the end of the file; the context says where it started
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {context}, {problem}" if context else f"invalid YAML: {problem}"
    code = "yaml-syntax"
    hint = None
    if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in str(problem):
        code, hint = "yaml-unsafe", "kspec reads plain YAML only; remove the tag"
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return SpecError(message, (), code, hint=hint, file=file, line=line, column=col)


def parse_text(text: str, file: str = "<string>") -> Document:
    """Parse YAML text into a `Document`; raises `SpecErrors` for bad YAML."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SpecErrors(
            [SpecError(f"the file is larger than {MAX_BYTES} bytes", (), "yaml-limits", file=file, line=1, column=1)]
        )
    try:
        _scan(text)
    except SpecError as err:
        raise SpecErrors([replace(err, file=file)]) from None
    except yaml.YAMLError as exc:
        raise SpecErrors([_yaml_error(exc, file, text)]) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        builder = _Builder(loader)
        data = builder.build(node, ()) if node is not None else None
    except SpecError as err:
        raise SpecErrors([replace(err, file=file)]) from None
    except yaml.YAMLError as exc:
        raise SpecErrors([_yaml_error(exc, file, text)]) from None
    except RecursionError:
        raise SpecErrors(
            [
                SpecError(
                    f"the document nests deeper than {MAX_DEPTH} levels", (), "yaml-limits", file=file, line=1, column=1
                )
            ]
        ) from None
    finally:
        loader.dispose()
    return Document(file, data, builder.positions, aliased=builder.aliased)


def read(path: str | FsPath) -> Document:
    """Read and parse a spec file. OSError (missing file, no permission) propagates as an environment error."""
    p = FsPath(path)
    with p.open("rb") as fh:
        raw = fh.read(MAX_BYTES + 1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"the file is not UTF-8 text (byte {exc.start})"
        raise SpecErrors([SpecError(message, (), "yaml-syntax", file=str(path), line=line, column=column)]) from None
    return parse_text(text, str(path))
