"""Stage render: DOT statement lines for nodes, edges and clusters, the same text `graphviz.Digraph` writes.

`graphviz`'s methods check their arguments and quote every name and value on every call, and each subgraph is a full
`Digraph`; for a diagram of thousands of layers and block instances that was most of `kspec draw`'s time. These
functions use graphviz's own quoting, once per distinct string (most attribute values repeat), and append finished
lines to a graph's body. No keras.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TypeAlias

import graphviz
from graphviz import quoting


@lru_cache(maxsize=1 << 16)
def quote(text: str) -> str:
    """graphviz's `quote` (bare when it is a valid ID or an HTML-like `<...>` label, else double-quoted)."""
    return str(quoting.quote(text))


@lru_cache(maxsize=1 << 16)
def quote_edge(text: str) -> str:
    """graphviz's `quote_edge` (`node[:port[:compass]]`)."""
    return str(quoting.quote_edge(text))


def _label(text: str) -> str:
    """An HTML-like label `<...>` is written as it is (what `quote` does, without caching one-off labels)."""
    return text if text[:1] == "<" and text[-1:] == ">" else quote(text)


def _attr_list(label: str | None, attrs: dict[str, str | None]) -> str:
    items = [f"label={_label(label)}"] if label is not None else []
    items += [f"{quote(k)}={quote(v)}" for k, v in sorted(attrs.items()) if v is not None]
    return f" [{' '.join(items)}]" if items else ""


class Cluster:
    """A subgraph as `graphviz.Digraph(name=...)` holds it (its `body` lines), added to its parent with `add_to`."""

    __slots__ = ("body", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.body: list[str] = []

    def attr(self, **attrs: str | None) -> None:
        """`Digraph.attr(**attrs)`: one graph attribute statement, keys sorted."""
        given = sorted((k, v) for k, v in attrs.items() if v is not None)
        items = [f"{quote(k)}={_label(v) if k == 'label' else quote(v)}" for k, v in given]
        self.body.append(f"\t{' '.join(items)}\n")

    def add_to(self, parent: Graph) -> None:
        """`parent.subgraph(self)`: the subgraph's lines, one tab deeper."""
        parent.body.append(f"\tsubgraph {quote(self.name)} {{\n")
        parent.body.extend([f"\t{line}" for line in self.body])
        parent.body.append("\t}\n")


#: what nodes and edges are added to: the root `graphviz.Digraph` or a `Cluster`
Graph: TypeAlias = "graphviz.Digraph | Cluster"


def add_node(g: Graph, name: str, label: str | None = None, **attrs: str | None) -> None:
    """`g.node(name, label, **attrs)`, byte for byte."""
    g.body.append(f"\t{quote(name)}{_attr_list(label, attrs)}\n")


def add_edge(g: Graph, tail: str, head: str, **attrs: str | None) -> None:
    """`g.edge(tail, head, **attrs)` of a directed graph, byte for byte."""
    g.body.append(f"\t{quote_edge(tail)} -> {quote_edge(head)}{_attr_list(None, attrs)}\n")
