"""Stage render: DOT statement lines for nodes, edges and clusters, the same text `graphviz.Digraph` writes.

`graphviz`'s methods check their arguments and quote every name and value on every call, and each subgraph is a full
`Digraph`; for a diagram of thousands of layers and block instances that was most of `kspec draw`'s time. Here
names and values are quoted by graphviz's rules (`quote_once`), repeated ones once, and a cluster's lines are written
in order into the one list of the whole graph (`Writer`), one tab deeper per level, rather than copied into their
parent. The `graphviz` package itself (a tenth of `kspec draw`'s start-up) is imported only to escape the rare
string holding a double quote or a backslash. Tests hold these lines equal to graphviz's. No keras.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Protocol

#: DOT's keywords (any case), which a bare ID cannot be
_KEYWORDS = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})
#: how a bare string other than a name starts: an HTML-like label or a numeral
_MAYBE_BARE = frozenset("<-.0123456789")
#: a DOT numeral, as graphviz recognises one (ASCII digits)
_NUMERAL = re.compile(r"-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)", re.ASCII)


def _bare(text: str) -> bool:
    """Whether graphviz writes `text` unquoted: an HTML-like `<...>` label, or an ID (a letter or `_` then letters,
    digits and `_`, or a numeral) that is not a keyword. Like graphviz's patterns (`$`), one final newline is let
    through."""
    core = text[:-1] if text[-1:] == "\n" else text
    if text[:1] == "<":
        return core[-1:] == ">" and len(core) > 1
    if core.isascii() and core.isidentifier():
        return text.lower() not in _KEYWORDS
    return _NUMERAL.fullmatch(core) is not None


def quote_once(text: str) -> str:
    """`text` as a DOT ID: bare where graphviz leaves it bare (`_bare`), else in double quotes. A string holding a
    double quote or a backslash is passed to graphviz's own `quote` (its escaping and its warnings)."""
    if text.isidentifier() and text.isascii():  # the common case first: a name
        return f'"{text}"' if text.lower() in _KEYWORDS else text
    if '"' in text or "\\" in text:
        from graphviz import quoting

        return str(quoting.quote(text))
    if text and text[0] not in _MAYBE_BARE and text[-1] != "\n":  # not HTML, not a numeral, not a name
        return f'"{text}"'
    return text if text and _bare(text) else f'"{text}"'


#: `quote_once` for strings that repeat (attribute names and values, node names used by several edges)
quote = lru_cache(maxsize=1 << 16)(quote_once)


@lru_cache(maxsize=1 << 16)
def quote_edge(text: str) -> str:
    """graphviz's `quote_edge` (`node[:port[:compass]]`)."""
    node, _, rest = text.partition(":")
    if not rest:
        return quote(node)
    port, _, compass = rest.partition(":")
    return ":".join([quote(node), quote(port), *([compass] if compass else [])])


def _label(text: str) -> str:
    """An HTML-like label `<...>` is written as it is (what `quote` does, without caching one-off labels)."""
    return text if text[:1] == "<" and text[-1:] == ">" else quote(text)


@lru_cache(maxsize=4096)
def attrs_text(items: tuple[tuple[str, str], ...]) -> str:
    """` k=v k=v`: attributes (none of them `label`) sorted and quoted, as graphviz writes them after the label."""
    return "".join(f" {quote(k)}={quote(v)}" for k, v in sorted(items))


def attr_list(label: str | None, attrs: Mapping[str, str | None]) -> str:
    """` [label=... k=v ...]` as graphviz writes it (label first, then the other attributes sorted); `` if none."""
    rest = "".join(f" {quote(k)}={quote(v)}" for k, v in sorted(attrs.items()) if v is not None)
    if label is None:
        return f" [{rest[1:]}]" if rest else ""
    return f" [label={_label(label)}{rest}]"


def attr_statement(attrs: Mapping[str, str | None]) -> str:
    """`Digraph.attr(**attrs)`'s statement: the graph attributes, keys sorted."""
    given = sorted((k, v) for k, v in attrs.items() if v is not None)
    return " ".join(f"{quote(k)}={_label(v) if k == 'label' else quote(v)}" for k, v in given)


class Graph(Protocol):
    """What nodes and edges are added to: `graphviz.Digraph`, or anything with its `body` list of lines."""

    body: list[str]


class Writer:
    """Writes statements at one nesting level into a shared list of lines: the root graph's body, or a cluster's
    place inside it (`cluster` returns the writer of a subgraph opened here; `close` ends it)."""

    __slots__ = ("body", "indent")

    def __init__(self, body: list[str], indent: str = "\t") -> None:
        self.body, self.indent = body, indent

    def cluster(self, name: str) -> Writer:
        """`subgraph NAME {`, its statements one tab deeper; what `self.subgraph(...)` writes for a cluster."""
        self.body.append(f"{self.indent}subgraph {quote(name)} {{\n")
        return Writer(self.body, self.indent + "\t")

    def close(self) -> None:
        """The `}` that ends this writer's subgraph."""
        self.body.append(f"{self.indent[:-1]}}}\n")

    def line(self, text: str) -> None:
        """A finished statement at this level."""
        self.body.append(f"{self.indent}{text}\n")

    def attr(self, **attrs: str | None) -> None:
        """`Digraph.attr(**attrs)`: one graph attribute statement, keys sorted."""
        self.body.append(f"{self.indent}{attr_statement(attrs)}\n")

    def node(self, name: str, label: str | None = None, **attrs: str | None) -> None:
        """`Digraph.node(name, label, **attrs)`, byte for byte."""
        self.body.append(f"{self.indent}{quote(name)}{attr_list(label, attrs)}\n")


def add_node(g: Graph, name: str, label: str | None = None, **attrs: str | None) -> None:
    """`g.node(name, label, **attrs)`, byte for byte."""
    g.body.append(f"\t{quote(name)}{attr_list(label, attrs)}\n")


def add_edge(g: Graph, tail: str, head: str, **attrs: str | None) -> None:
    """`g.edge(tail, head, **attrs)` of a directed graph, byte for byte."""
    g.body.append(f"\t{quote_edge(tail)} -> {quote_edge(head)}{attr_list(None, attrs)}\n")
