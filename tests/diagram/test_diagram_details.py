"""Diagram details: the legend shows only colours the nodes use, multi-model diagrams keep the spec's description,
arguments are shown as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kspec
from kspec.analysis import shapes
from kspec.diagram import DrawOptions, to_dot
from kspec.diagram.style import SKIP_COLOR

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
MARKERS = {"#ffffff", "#e8e8e8", "#f2f2f2", SKIP_COLOR}  # output, frozen, ×N and skip-connection swatches


def _dot(path: Path) -> str:
    resolved = kspec.load(path)
    return to_dot(resolved, DrawOptions(), shapes=shapes.infer(resolved))


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_the_legend_lists_only_colours_the_nodes_use(spec: Path) -> None:
    dot = _dot(spec)
    legend = set(re.findall(r'BGCOLOR="(#[0-9a-f]{6})" WIDTH', dot))
    nodes = set(re.findall(r'fillcolor="(#[0-9a-f]{6})"', dot))
    assert legend - MARKERS <= nodes


def test_a_frozen_application_adds_no_family_colour(tmp_path: Path) -> None:
    dot = _dot(ROOT / "specs" / "ch09_2_vgg16_transfer.yaml")
    assert "#cbc9e2" not in dot  # the application family's colour: the frozen VGG16 node is grey


def test_a_multi_model_diagram_keeps_the_specs_description() -> None:
    resolved = kspec.load(ROOT / "specs" / "ch07_gan_cnn_mnist.yaml")
    assert len(resolved.models) > 1 and resolved.spec.description
    assert f"<I>{resolved.spec.description}</I>" in _dot(ROOT / "specs" / "ch07_gan_cnn_mnist.yaml")


def test_arguments_are_shown_as_written(tmp_path: Path) -> None:
    spec = tmp_path / "cat.yaml"
    spec.write_text(
        "kspec: 1\nname: cat\nmodel:\n  inputs: {a: {shape: [4, 4, 2]}, b: {shape: [4, 4, 3]}}\n  layers:\n"
        "    - {type: Concatenate, name: c, inputs: [a, b], axis: -1}\n"
    )
    assert "axis -1" in _dot(spec) and "axis 3" not in _dot(spec)


SELECTIONS = """
kspec: 1
name: selections
models:
  encoder:
    inputs: {x: {shape: [4]}}
    layers:
      - {type: Dense, name: z_mean, units: 2}
      - {type: Dense, name: z_log_var, units: 2, inputs: [x]}
    outputs: [z_mean, z_log_var]
  seq:
    inputs: {tokens: {shape: [5, 3]}, x: {shape: [4]}}
    layers:
      - {type: LSTM, name: lstm, units: 2, return_state: true, inputs: [tokens]}
      - {type: LSTM, name: again, units: 2, inputs: {sequences: tokens, initial_state: ["lstm[1]", lstm.state_c]}}
      - {model: encoder, name: enc, inputs: [x]}
      - {type: Add, name: add, inputs: ["lstm[0]", again, "enc[1]"]}
"""


def test_an_edge_carrying_a_selected_output_is_labelled_with_it(tmp_path: Path) -> None:
    path = tmp_path / "selections.yaml"
    path.write_text(SELECTIONS, encoding="utf-8")
    resolved = kspec.load(path)
    dot = to_dot(resolved, DrawOptions(expand_nested=False), shapes=shapes.infer(resolved))
    edges = re.findall(r"\t(\S+) -> (\S+)(?: \[(.*)\])?\n", dot)
    labels = {(a, b, m.group(1) if (m := re.search(r'label="([^"]*)"', attrs)) else None) for a, b, attrs in edges}
    assert {
        ("\"seq/lstm\"", "\"seq/again\"", "[1] state_h"),  # by position: the output's name beside it
        ("\"seq/lstm\"", "\"seq/again\"", "[2] state_c"),  # by name: the same words
        ("\"seq/lstm\"", "\"seq/add\"", "[0] output"),
        ("\"seq/enc\"", "\"seq/add\"", "[1] z_log_var"),  # a nested model's output, named after its layer
        ("\"seq/tokens\"", "\"seq/lstm\"", None),  # a whole tensor: no label
    } <= labels
