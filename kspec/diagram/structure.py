"""Stage render: what a diagram draws once or marks (repeated runs, skip connections, block names); no keras."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from kspec.analysis.graph import ModelGraph, Node


@dataclass
class _Unit:
    """A node, or a block instance, at one nesting level; a run of identical chained units collapses to one."""

    key: str
    nodes: list[Node]
    is_block: bool

    def signature(self, depth: int) -> str:
        return json.dumps(
            [(n.kind, n.type, n.args, len(n.block) - depth) for n in self.nodes], sort_keys=True, default=str
        )


@dataclass
class Collapsed:
    """Which nodes a collapse hides, what they stand for, and how many times each visible node repeats."""

    alias: dict[str, str] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    clusters: dict[tuple[str, ...], tuple[str, int]] = field(default_factory=dict)

    def find(self, name: str) -> str:
        """The drawn node that stands for `name` (itself when it is drawn)."""
        while name in self.alias:
            name = self.alias[name]
        return name


def collapse_runs(graph: ModelGraph) -> Collapsed:
    """Find chains of identical block instances (or identical layers) that feed only each other, at every level."""
    result = Collapsed()
    users = graph.consumers()
    for out in graph.outputs:
        users.setdefault(out, []).append("")

    def chained(a: _Unit, b: _Unit) -> bool:
        inside_a, inside_b = {n.name for n in a.nodes}, {n.name for n in b.nodes}
        feeds = {u for n in b.nodes for u in n.inputs if u not in inside_b}
        used_by = {c for n in a.nodes for c in users.get(n.name, []) if c not in inside_a}
        return bool(feeds) and feeds <= inside_a and used_by <= inside_b

    def level(nodes: list[Node], depth: int) -> None:
        units: dict[str, _Unit] = {}
        for n in nodes:
            key = n.block[depth] if len(n.block) > depth else n.name
            units.setdefault(key, _Unit(key, [], len(n.block) > depth)).nodes.append(n)
        seq = list(units.values())
        i = 0
        while i < len(seq):
            j = i
            while (
                j + 1 < len(seq)
                and seq[j + 1].is_block == seq[i].is_block
                and seq[j + 1].signature(depth) == seq[i].signature(depth)
                and chained(seq[j], seq[j + 1])
            ):
                j += 1
            rep = seq[i]
            for k in range(i + 1, j + 1):
                for shown, hidden in zip(rep.nodes, seq[k].nodes, strict=True):
                    result.alias[hidden.name] = shown.name
                    if not rep.is_block:  # a collapsed block says ×N on its cluster, a collapsed layer on itself
                        result.members.setdefault(shown.name, [shown.name]).append(hidden.name)
                        result.count[shown.name] = j - i + 1
            if rep.is_block:  # the hidden instances need no inner collapse: they are not drawn
                if j > i:
                    result.clusters[rep.nodes[0].block[: depth + 1]] = (seq[j].key, j - i + 1)
                level(rep.nodes, depth + 1)
            i = j + 1

    level(graph.order(), 0)
    return result


def skip_edges(graph: ModelGraph, order: list[Node] | None = None) -> set[tuple[str, str]]:
    """Edges u -> v into a merge where u is also an ancestor of another input of v (residual and U-Net skips).

    `order`: `graph.order()`, when the caller has it already. Most skips are found from a merge's inputs alone
    (u feeds w directly, as around a residual block); sets of ancestors are made only when some are not."""
    order = graph.order() if order is None else order
    pos = {node.name: i for i, node in enumerate(order)}
    out: set[tuple[str, str]] = set()
    pending: list[tuple[str, str, str]] = []  # (u, w, v): is u an ancestor of w?
    for node in graph.nodes.values():
        if len(node.inputs) < 2:
            continue
        for u in node.inputs:
            at = pos.get(u)
            if at is None:
                continue
            for w in node.inputs:
                later = pos.get(w)
                if w == u or later is None or later <= at:  # an ancestor comes first in the order
                    continue
                if u in graph.nodes[w].inputs:
                    out.add((u, node.name))
                    break
                pending.append((u, w, node.name))
    if pending:
        ancestors = _ancestors(order, pos)
        out.update((u, v) for u, w, v in pending if ancestors[w] >> pos[u] & 1)
    return out


def _ancestors(order: list[Node], pos: dict[str, int]) -> dict[str, int]:
    """Node name -> its ancestors, as bits by position in `order` (an input later in the order does not count)."""
    ancestors: dict[str, int] = {}
    for i, node in enumerate(order):
        bits = 0
        for dep in node.inputs:
            j = pos.get(dep)
            if j is not None and j <= i:
                bits |= ancestors.get(dep, 0) | (1 << j)
        ancestors[node.name] = bits
    return ancestors


def block_types(graph: ModelGraph) -> dict[tuple[str, ...], str]:
    """Block-instance path -> block name, from where the instance's layers are defined (`blocks.NAME.layers`)."""
    kinds: dict[tuple[str, ...], str] = {}
    for node in graph.nodes.values():
        if node.block and node.block not in kinds and len(node.path) > 1 and node.path[0] == "blocks":
            kinds[node.block] = str(node.path[1])
    for key in {
        node.block[:depth]
        for node in graph.nodes.values()
        if len(node.block) > 1
        for depth in range(1, len(node.block))
    }:
        kinds.setdefault(key, re.sub(r"_\d+$", "", key[-1]))
    return kinds


def block_tree(visible: list[Node]) -> dict[tuple[str, ...], list[Node | tuple[str, ...]]]:
    """Block-instance path -> what its cluster draws, in order: its own nodes and its sub-clusters (at their first
    node). One pass over the nodes, so drawing stays linear in the number of layers and block instances."""
    items: dict[tuple[str, ...], list[Node | tuple[str, ...]]] = {(): []}
    for node in visible:
        if node.block not in items:  # a new block instance (its outer ones may be new too)
            for depth in range(len(node.block)):
                child = node.block[: depth + 1]
                if child not in items:
                    items[child] = []
                    items[node.block[:depth]].append(child)
        items[node.block].append(node)
    return items


def block_members(graph: ModelGraph, col: Collapsed) -> dict[tuple[str, ...], list[str]]:
    """Block-instance path -> every node it stands for: its own and those of the instances collapsed into it."""
    members: dict[tuple[str, ...], list[str]] = {}
    for node in graph.nodes.values():
        block = graph.nodes[col.find(node.name)].block if col.alias else node.block
        if len(block) == 1:  # the common case: one level of blocks
            members.setdefault(block, []).append(node.name)
            continue
        for depth in range(1, len(block) + 1):
            members.setdefault(block[:depth], []).append(node.name)
    return members
