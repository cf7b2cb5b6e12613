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
