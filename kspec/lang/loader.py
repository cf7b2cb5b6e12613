"""Stage 1, read: YAML text -> `Document` (plain data plus a map from spec path to line and column).

Safe by construction: the YAML is parsed once, by libyaml (PyYAML's C parser) when it is installed, into events
that `events.Builder` turns into plain data: no Python tags, YAML 1.2 numbers and booleans, duplicate keys refused,
bounds on size, depth and alias expansion. When libyaml reports bad YAML, the text is parsed again by PyYAML's
pure-Python parser, whose messages kspec has always shown. Imports yaml and the standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath
from typing import Any

import yaml

from kspec.errors import SET_SOURCE, Path, SpecError, SpecErrors, shorten
from kspec.lang import signatures
from kspec.lang.events import MAX_DEPTH, MAX_NODES, Builder
from kspec.lang.yaml_scalars import MAX_INT, MAX_SCALAR

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_INT", "MAX_NODES", "MAX_SCALAR", "Document", "parse_text", "read"]

MAX_BYTES = 1_000_000
_BOOL = "tag:yaml.org,2002:bool"
_FLOAT = "tag:yaml.org,2002:float"
_RESOLVERS = {
    key: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _FLOAT)]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_BOOL_RX = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_FLOAT_RX = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _PyLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema booleans and floats (`1e-3` is a float, `no` is a string)."""


_LOADERS: list[type[Any]] = [_PyLoader]
if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(yaml.CSafeLoader):
        """The same rules over libyaml's parser."""

    _LOADERS.insert(0, _CLoader)

for _cls in _LOADERS:
    _cls.yaml_implicit_resolvers = {key: list(value) for key, value in _RESOLVERS.items()}
    _cls.add_implicit_resolver(_BOOL, _BOOL_RX, list("tTfF"))
    _cls.add_implicit_resolver(_FLOAT, _FLOAT_RX, list("-+0123456789."))


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


def _yaml_error(exc: yaml.YAMLError, file: str, text: str = "") -> SpecError:
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    mark = problem_mark or context_mark
    if problem_mark is not None and context_mark is not None and problem_mark.line + 1 > len(text.splitlines()):
        mark = context_mark  # the problem is the end of the file; the context says where it started
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {context}, {problem}" if context else f"invalid YAML: {problem}"
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return SpecError(message, (), "yaml-syntax", file=file, line=line, column=col)


def _build(loader_cls: type[Any], text: str, file: str) -> Document:
    loader = loader_cls(text)
    try:
        builder = Builder(loader)
        data = builder.run()
        doc = Document(file, data, builder.positions, aliased=builder.aliased)
        try:
            signatures.rewrite(data, builder.positions, _value)  # `name(param=default): [layers]` blocks
            errors = signatures.literal_repeats(data)
            if errors:
                raise SpecErrors(errors)
        except SpecErrors as exc:
            raise SpecErrors([doc.locate(e) for e in exc.errors]) from None
        return doc
    finally:
        loader.dispose()


def _value(text: str) -> Any:
    """One YAML value read with the spec's rules (a block signature's default)."""
    return parse_text(text, "<signature>").data


def parse_text(text: str, file: str = "<string>") -> Document:
    """Parse YAML text into a `Document`; raises `SpecErrors` for bad YAML."""
    if len(text) > MAX_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SpecErrors(
            [SpecError(f"the file is larger than {MAX_BYTES} bytes", (), "yaml-limits", file=file, line=1, column=1)]
        )
    for loader_cls in _LOADERS:
        try:
            return _build(loader_cls, text, file)
        except SpecError as err:
            raise SpecErrors([replace(err, file=file)]) from None
        except yaml.YAMLError as exc:
            if loader_cls is not _LOADERS[-1]:
                continue  # word it as the pure-Python parser does
            raise SpecErrors([_yaml_error(exc, file, text)]) from None
    raise AssertionError("unreachable: the last loader returns or raises")


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
