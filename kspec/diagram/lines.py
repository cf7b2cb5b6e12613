"""Stage render: DOT statement lines for nodes and edges, the same text `graphviz.Digraph.node`/`.edge` write.

`graphviz`'s methods check their arguments and quote every name and value on every call; for a diagram of thousands
of layers that was most of `kspec draw`'s time. These functions use graphviz's own quoting, once per distinct
string (most attribute values repeat), and append finished lines to a graph's body. No keras.
"""

from __future__ import annotations

from functools import lru_cache

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


def add_node(g: graphviz.Digraph, name: str, label: str | None = None, **attrs: str | None) -> None:
    """`g.node(name, label, **attrs)`, byte for byte."""
    g.body.append(f"\t{quote(name)}{_attr_list(label, attrs)}\n")


def add_edge(g: graphviz.Digraph, tail: str, head: str, **attrs: str | None) -> None:
    """`g.edge(tail, head, **attrs)` of a directed graph, byte for byte."""
    g.body.append(f"\t{quote_edge(tail)} -> {quote_edge(head)}{_attr_list(None, attrs)}\n")
