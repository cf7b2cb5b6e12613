"""DOT ids: clusters and their header nodes stay distinct when a block instance, a nested model and a model share a
name, and an edge from a nested model drawn open starts at the output it selects."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import kspec
from kspec.analysis import shapes
from kspec.diagram import DrawOptions, render, to_dot

#: block instance `e` and nested model `e` side by side in model `main`; `kspec validate` accepts it
NAMESAKES = """
kspec: 1
name: namesakes
blocks:
  blk:
    layers:
      - {type: Dense, units: 4}
      - {type: ReLU}
models:
  enc:
    inputs: {x: {shape: [4]}}
    layers:
      - {type: Dense, name: a, units: 2}
      - {type: Dense, name: b, units: 3, inputs: [x]}
    outputs: [a, b]
  main:
    inputs: {x: {shape: [4]}}
    layers:
      - {block: blk, name: e}
      - {model: enc, name: e, inputs: [x]}
      - {type: Dense, name: head, units: 1, inputs: [e_re_lu]}
    outputs: [head]
"""

#: a block instance named like its model
SAME_AS_MODEL = """
kspec: 1
name: same
blocks:
  blk:
    layers:
      - {type: Dense, units: 4}
      - {type: ReLU}
models:
  main:
    inputs: {x: {shape: [4]}}
    layers:
      - {block: blk, name: main}
"""

#: nested model `enc` with two outputs; `head` takes the second by position, `tail` the first by name
SELECTED = """
kspec: 1
name: selected
models:
  enc:
    inputs: {x: {shape: [4]}}
    layers:
      - {type: Dense, name: a, units: 2}
      - {type: Dense, name: b, units: 3, inputs: [x]}
      - {type: Dense, name: c1, units: 5}
      - {type: Dense, name: c2, units: 5}
      - {type: Dense, name: c3, units: 5}
    outputs: [a, c3]
  main:
    inputs: {x: {shape: [4]}}
    layers:
      - {model: enc, name: e, inputs: [x]}
      - {type: Dense, name: head, units: 1, inputs: ["e[1]"]}
      - {type: Dense, name: tail, units: 1, inputs: [e.a]}
    outputs: [head, tail]
"""

_SUBGRAPH = re.compile(r"^\s*subgraph (\S+) \{$", re.M)
_HEADER = re.compile(r"^\s*\{rank=same; (\S+);", re.M)
_EDGE = re.compile(r"^\t(\S+) -> (\S+)(?: \[(.*)\])?$", re.M)
_NODE = re.compile(r"^\s*(\"[^\"]*\"|\w+) \[label=", re.M)


def _dot(tmp_path: Path, text: str, **options: object) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    resolved = kspec.load(path)
    kspec.check(resolved)  # what `kspec validate` says ok to
    return to_dot(resolved, DrawOptions(**options), shapes=shapes.infer(resolved))  # type: ignore[arg-type]


def _repeated(ids: list[str]) -> list[str]:
    return [name for name, n in Counter(ids).items() if n > 1]


@pytest.mark.parametrize("model", [None, "main"])
def test_a_block_instance_and_a_nested_model_of_one_name_get_their_own_clusters(tmp_path: Path, model: str) -> None:
    dot = _dot(tmp_path, NAMESAKES, expand_nested=True, model=model)
    clusters, headers = _SUBGRAPH.findall(dot), _HEADER.findall(dot)
    assert not _repeated(clusters) and not _repeated(headers)
    assert len(headers) == 2  # the block instance's and the nested model's
    assert dot.count("<B>e</B>: blk") == 1 and dot.count("<B>e</B>: enc (nested model)") == 1
    assert all(":" not in name for name in clusters + headers)  # `:` would be a port where an id is an edge's end


def test_a_block_instance_named_like_its_model_is_a_cluster_of_its_own(tmp_path: Path) -> None:
    dot = _dot(tmp_path, SAME_AS_MODEL)
    clusters = _SUBGRAPH.findall(dot)
    assert len(clusters) == 2 and not _repeated(clusters)


def test_graphviz_draws_every_cluster_and_header(tmp_path: Path) -> None:
    """Rendered: two clusters of one id would merge into one, and one of the two headers would be lost."""
    if render.choose("svg") is None:
        pytest.fail("no renderer: graphviz-pure is a dependency of kspec")
    dot = _dot(tmp_path, NAMESAKES, expand_nested=True)
    svg = render.render(dot, tmp_path / "namesakes.svg").read_text(encoding="utf-8")
    titles = re.findall(r'class="cluster">\s*<title>([^<]*)</title>', svg)
    assert len(titles) == 4 and len(set(titles)) == 4  # enc, main, and in main: block e and nested model e
    nodes = re.findall(r'class="node">\s*<title>([^<]*)</title>', svg)
    assert len([n for n in nodes if n.endswith("/")]) == 2  # both header nodes


def test_an_edge_from_a_nested_model_starts_at_the_output_it_selects(tmp_path: Path) -> None:
    dot = _dot(tmp_path, SELECTED, expand_nested=True)
    edges = {(a.strip('"'), b.strip('"')) for a, b, _ in _EDGE.findall(dot)}
    assert ("main/e/c3", "main/head") in edges  # `e[1]`: the layer making the second output
    assert ("main/e/a", "main/tail") in edges  # `e.a`: by name
    assert ("main/e/a", "main/head") not in edges


def test_an_edge_from_a_collapsed_output_starts_at_the_node_drawn_for_it(tmp_path: Path) -> None:
    """c1..c3 collapse into c1 (×3): the edge from output c3 starts at c1, never at a node that is not drawn."""
    dot = _dot(tmp_path, SELECTED, expand_nested=True, collapse=True)
    drawn = {n.strip('"') for n in _NODE.findall(dot)}
    edges = {(a.strip('"'), b.strip('"')) for a, b, _ in _EDGE.findall(dot)}
    assert ("main/e/c1", "main/head") in edges
    assert {end for edge in edges for end in edge} <= drawn
