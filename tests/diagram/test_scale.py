"""Diagrams of thousands of layers: the DOT lines kspec writes itself (and its quoting) equal graphviz's, a
3,000-instance residual stack draws every instance once, skip connections are found (against a plain walk), and
rendering a large diagram is announced before it starts."""

from __future__ import annotations

import html
import random
from pathlib import Path

import graphviz
import pytest

import kspec
from kspec.analysis import shapes
from kspec.analysis.graph import ModelGraph, Node
from kspec.diagram import DrawOptions, to_dot
from kspec.diagram.lines import add_edge, add_node, quote_edge, quote_once
from kspec.diagram.render import SLOW_BOXES, slow_note
from kspec.diagram.structure import skip_edges
from kspec.diagram.style import escape

NAMES = ["x", "Hidden-1", "node", "a b", 'say "hi"', "gan/dense_1", "-4.2", "<not html", "é", "back\\\\slash"]


@pytest.mark.parametrize("name", NAMES)
def test_lines_equal_graphviz(name: str) -> None:
    ours, theirs = graphviz.Digraph(), graphviz.Digraph()
    attrs = {"fillcolor": "#9ecae1", "group": name, "style": "rounded,filled", "tooltip": f"{name} (Dense)"}
    add_node(ours, name, label="<<B>x</B>>", **attrs)
    theirs.node(name, label="<<B>x</B>>", **attrs)
    add_node(ours, name + "_plain", shape="plaintext", style="")
    theirs.node(name + "_plain", shape="plaintext", style="")
    add_edge(ours, name, "out", color="#d62728", penwidth="1.6")
    theirs.edge(name, "out", color="#d62728", penwidth="1.6")
    add_edge(ours, "out", name)
    theirs.edge("out", name)
    assert ours.body == theirs.body


QUOTED = [
    *NAMES,
    "",
    "_",
    "Node",
    "STRICT",
    "node2",
    "x\n",
    "node\n",
    "\n",
    "x\n\n",
    "1.",
    ".5",
    "-.5",
    "-",
    "1e5",
    "0x1",
    "٣",
    "<b>x</b>",
    "<>",
    "<",
    "<x>\n",
    "<x>\n\n",
    "a:b",
    "a:b:n",
    "a b:c d",
    "a:",
    'odd\\"',
    "a & b <c> 'd'",
    "&amp;",
]


@pytest.mark.parametrize("text", QUOTED)
def test_quoting_equals_graphviz(text: str) -> None:
    assert quote_once(text) == graphviz.quoting.quote(text)
    assert quote_edge(text) == graphviz.quoting.quote_edge(text)
    assert escape(text) == html.escape(text)


def residual(instances: int) -> str:
    lines = [
        "kspec: 1",
        "name: deep_residual",
        "blocks:",
        "  res:",
        "    inputs: [x]",
        "    layers:",
        "      - {type: Dense, units: 4, name: fc}",
        "      - {type: Add, name: add, inputs: [fc, x]}",
        "model:",
        "  inputs: {x: {shape: [4]}}",
        "  layers:",
    ]
    lines += [f"    - {{block: res, name: r{i}, repeat: 1000}}" for i in range(instances // 1000)]
    return "\n".join(lines) + "\n"


def test_thousands_of_block_instances_draw_once_each(tmp_path: Path) -> None:
    spec = tmp_path / "deep.yaml"
    spec.write_text(residual(3000), encoding="utf-8")
    resolved = kspec.load(spec)
    dot = to_dot(resolved, DrawOptions(), shapes=shapes.infer(resolved))
    assert dot.count("subgraph cluster_r") == 3000
    for name in ("r0_1_fc", "r0_1000_add", "r2_1000_add"):
        assert dot.count(f"\t\t\t{name} [label=") == 1
    assert dot.count(" -> ") == 3 * 3000  # per instance: x -> fc, fc -> add, x -> add (the skip)
    collapsed = to_dot(resolved, DrawOptions(collapse=True), shapes=shapes.infer(resolved))
    assert "×3000" in collapsed and collapsed.count("subgraph cluster_r") == 1  # one run of identical blocks


def test_large_renders_are_announced() -> None:
    small = "digraph { a [label=x] }"
    assert slow_note(small, "dot") is None
    large = "digraph {\n" + "".join(f"\tn{i} [label=x]\n" for i in range(SLOW_BOXES + 1)) + "}"
    note = slow_note(large, "dot")
    assert note is not None and f"{SLOW_BOXES + 1:,} boxes" in note and ".dot" in note


def _reaches(inputs: dict[str, list[str]], start: str, goal: str) -> bool:
    """Whether `goal` is an ancestor of `start` (a walk up the inputs)."""
    todo, seen = list(inputs[start]), set()
    while todo:
        name = todo.pop()
        if name == goal:
            return True
        if name not in seen and name in inputs:
            seen.add(name)
            todo.extend(inputs[name])
    return False


@pytest.mark.parametrize("seed", range(20))
def test_skip_edges_are_inputs_that_are_ancestors_of_another_input(seed: int) -> None:
    rng = random.Random(seed)
    inputs: dict[str, list[str]] = {}
    for i in range(rng.randint(2, 30)):
        earlier = list(inputs)
        inputs[f"n{i}"] = rng.sample(earlier, min(len(earlier), rng.choice([0, 1, 1, 2, 2, 3])))
    graph = ModelGraph("m", (), {n: Node(n, "layer", "Add", inputs=ins) for n, ins in inputs.items()}, [], [])
    expected = {(u, v) for v, ins in inputs.items() for u in ins if any(w != u and _reaches(inputs, w, u) for w in ins)}
    assert skip_edges(graph) == expected
