"""`kspec draw`: golden DOT for inline specs, SVG rendering of every spec, renderer choice, determinism."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

import kspec
from kspec.analysis.graph import Node, Resolved
from kspec.diagram import DrawOptions, draw, format_shape, hyperparams, render, to_dot

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SPECS = sorted((ROOT / "specs").rglob("*.yaml"))
HAVE_SVG = render.choose("svg") is not None
needs_renderer = pytest.mark.skipif(not HAVE_SVG, reason="no Graphviz renderer (pip install graphviz-pure)")

SEQUENTIAL = """
kspec: 1
name: mnist_cnn
description: "book ch4: two convolutions, pooling, dropout <& dense>"
model:
  inputs:
    image: {shape: [28, 28, 1]}
  layers:
    - {type: Rescaling, scale: 0.00392156862745098}
    - {type: Conv2D, name: conv1, filters: 32, kernel_size: 3, activation: relu}
    - {type: Conv2D, filters: 64, kernel_size: [3, 3], activation: relu}
    - {type: MaxPooling2D, pool_size: 2}
    - {type: Dropout, rate: 0.25}
    - {type: Flatten}
    - {type: Dense, units: 128, activation: relu}
    - {type: Dropout, rate: 0.5}
    - {type: Dense, name: probs, units: 10, activation: softmax}
"""

SKIPS = """
kspec: 1
name: skips
model:
  inputs:
    x: {shape: [16]}
  layers:
    - {type: Dense, name: h, units: 16, activation: relu}
    - {type: Dense, name: f, units: 16}
    - {type: Add, name: res, inputs: [h, f]}
    - {type: Dense, name: g, units: 8}
    - {type: Concatenate, name: cat, inputs: [g, res]}
    - {type: Dense, name: out, units: 1, activation: sigmoid}
"""

BLOCKS = """
kspec: 1
name: blocks
blocks:
  conv_bn:
    params: {filters: null}
    layers:
      - {type: Conv2D, filters: "${filters}", kernel_size: 3, padding: same}
      - {type: BatchNormalization}
      - {type: ReLU}
  down:
    params: {filters: null}
    layers:
      - {type: MaxPooling2D, pool_size: 2}
      - {block: conv_bn, filters: "${filters}"}
model:
  inputs:
    image: {shape: [32, 32, 3]}
  layers:
    - {block: conv_bn, name: stem, filters: 8}
    - {block: conv_bn, name: body, filters: 16, repeat: 3}
    - {block: down, name: d, filters: 32}
    - {type: Dense, name: mix, units: 32, repeat: 2}
    - {type: GlobalAveragePooling2D}
    - {type: Dense, name: logits, units: 10}
"""

GAN = """
kspec: 1
name: gan_mnist
models:
  generator:
    inputs:
      z: {shape: [10]}
    layers:
      - {type: Dense, units: 1024, activation: tanh}
      - {type: Dense, units: 6272, activation: tanh}
      - {type: BatchNormalization}
      - {type: Reshape, target_shape: [7, 7, 128]}
      - {type: UpSampling2D, size: 2}
      - {type: Conv2D, filters: 64, kernel_size: 5, padding: same, activation: tanh}
      - {type: UpSampling2D, size: [2, 2]}
      - {type: Conv2D, name: fake, filters: 1, kernel_size: 5, padding: same, activation: tanh}
  discriminator:
    inputs:
      image: {shape: [28, 28, 1]}
    layers:
      - {type: Conv2D, filters: 64, kernel_size: 5, padding: same, activation: tanh}
      - {type: MaxPooling2D, pool_size: 2}
      - {type: Conv2D, filters: 128, kernel_size: 5, activation: tanh}
      - {type: MaxPooling2D, pool_size: 2}
      - {type: Flatten}
      - {type: Dense, units: 1024, activation: tanh}
      - {type: Dense, name: real, units: 1, activation: sigmoid}
  gan:
    layers:
      - {model: generator}
      - {model: discriminator, trainable: false}
"""

CASES = {
    "sequential": (SEQUENTIAL, DrawOptions()),
    "sequential_lr": (
        SEQUENTIAL,
        DrawOptions(
            rankdir="LR",
            dpi=150,
            show_dtype=True,
            show_trainable=True,
            show_layer_names=False,
            show_layer_activations=False,
        ),
    ),
    "skips": (SKIPS, DrawOptions()),
    "blocks": (BLOCKS, DrawOptions()),
    "blocks_collapsed": (BLOCKS, DrawOptions(collapse=True)),
    "gan": (GAN, DrawOptions()),
    "gan_nested": (GAN, DrawOptions(expand_nested=True)),
    "gan_one_model": (GAN, DrawOptions(model="gan", legend=False)),
}


def _load(text: str, tmp_path: Path) -> Resolved:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    resolved = kspec.load(path)
    kspec.check(resolved)
    return resolved


def _dot(text: str, tmp_path: Path, options: DrawOptions) -> str:
    from kspec.analysis import shapes

    resolved = _load(text, tmp_path)
    return to_dot(resolved, options, shapes=shapes.infer(resolved))


def _names(resolved: Resolved) -> set[str]:
    return {name for graph in resolved.models.values() for name in graph.nodes}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_dot(case: str, tmp_path: Path, golden: Callable[[Path, str], None]) -> None:
    text, options = CASES[case]
    golden(GOLDEN / f"diagram_{case}.dot", _dot(text, tmp_path, options))


def test_dot_is_deterministic_across_processes(tmp_path: Path) -> None:
    spec = tmp_path / "gan.yaml"
    spec.write_text(textwrap.dedent(GAN).lstrip())
    code = (
        "import sys, kspec; from kspec import diagram; from kspec.analysis import shapes; "
        "r = kspec.load(sys.argv[1]); "
        "sys.stdout.write(diagram.to_dot(r, diagram.DrawOptions(expand_nested=True), shapes=shapes.infer(r)))"
    )
    outputs = set()
    for seed in ("0", "1", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", code, str(spec)], capture_output=True, text=True, env=env, check=True, cwd=ROOT
        )
        outputs.add(proc.stdout)
    assert len(outputs) == 1
    assert outputs.pop() == _dot(GAN, tmp_path, DrawOptions(expand_nested=True))


def test_node_ids_are_spec_names(tmp_path: Path) -> None:
    one = _dot(SEQUENTIAL, tmp_path, DrawOptions())
    assert "\tconv1 [" in one and "\tprobs [" in one and "conv1 -> conv2d" in one
    several = _dot(GAN, tmp_path, DrawOptions())
    assert '"generator/fake" [' in several and '"gan/generator" -> "gan/discriminator"' in several


def test_what_the_boxes_say(tmp_path: Path) -> None:
    dot = _dot(SEQUENTIAL, tmp_path, DrawOptions())
    assert "32 filters · 3×3 · relu" in dot and "26×26×32" in dot and "320 params" in dot
    assert "rate 0.25" in dot and "pool 2×2" in dot and "peripheries=2" in dot  # the output is double-bordered
    assert "&lt;&amp; dense&gt;" in dot  # the description is escaped inside the HTML label
    skips = _dot(SKIPS, tmp_path, DrawOptions())
    assert 'res -> cat [color="#7b3294"' in skips and "skip from res" in skips
    assert 'h -> res [color="#7b3294"' in skips and "f -> res [" not in skips
    gan = _dot(GAN, tmp_path, DrawOptions())
    assert "frozen" in gan and "dashed" in gan and "shape=box3d" in gan


def test_collapse_draws_identical_chained_blocks_once(tmp_path: Path) -> None:
    full = _dot(BLOCKS, tmp_path, DrawOptions())
    short = _dot(BLOCKS, tmp_path, DrawOptions(collapse=True))
    assert "body_2_conv2d" in full and "body_2_conv2d" not in short
    assert "body_1 to body_3</B>: conv_bn ×3" in short and "(Dense) ×2" in short
    assert "stem_conv2d" in short  # stem differs (8 filters), so it is not part of the run
    assert 'subgraph "cluster_d/conv_bn" {' in full and '{rank=same; "d/conv_bn/"; d_conv_bn_conv2d}' in full


def test_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    resolved = _load(GAN, tmp_path)
    with pytest.raises(ValueError, match="no model named 'discrimnator'.*discriminator"):
        to_dot(resolved, DrawOptions(model="discrimnator"))


def test_hyperparameter_table_is_keyed_by_argument() -> None:
    node = Node(
        "c",
        "layer",
        "Conv3D",
        {
            "filters": 1,
            "kernel_size": 3,
            "strides": [1, 2, 2],
            "padding": "valid",
            "activation": {"type": "LeakyReLU"},
            "use_bias": False,
            "name": "x",
        },
    )
    assert hyperparams(node, "Conv3D", DrawOptions()) == [
        "1 filter",
        "3×3×3",
        "stride 1×2×2",
        "valid",
        "LeakyReLU",
        "no bias",
    ]
    assert "LeakyReLU" not in hyperparams(node, "Conv3D", DrawOptions(show_layer_activations=False))
    assert format_shape((None, 7, 7, 128), batch=True) == "7×7×128"
    assert format_shape([(None, 3), (None, None)], batch=True) == "3, ?"


@needs_renderer
def test_svg_parses_and_names_every_layer(tmp_path: Path) -> None:
    resolved = _load(GAN, tmp_path)
    out = draw(resolved, tmp_path / "gan.svg", options=DrawOptions(expand_nested=True))
    assert out == tmp_path / "gan.svg"
    _assert_svg_names(out, resolved)


def _assert_svg_names(svg: Path | str, resolved: Resolved) -> None:
    root = ET.parse(svg).getroot()
    titles = {el.text or "" for el in root.iter("{http://www.w3.org/2000/svg}title")}
    ids = {t.rsplit("/", 1)[-1] for t in titles}
    missing = _names(resolved) - ids
    assert not missing, f"not drawn: {sorted(missing)}"


def test_missing_renderer_writes_the_dot_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resolved = _load(SEQUENTIAL, tmp_path)
    monkeypatch.setattr(render, "renderers", lambda: [])
    with pytest.raises(render.RendererMissing, match="pip install graphviz-pure") as info:
        draw(resolved, tmp_path / "out" / "model.png")
    assert (tmp_path / "out" / "model.dot").read_text() == to_dot(resolved, DrawOptions())
    assert "model.dot" in str(info.value) and not (tmp_path / "out" / "model.png").exists()


def test_pdf_needs_system_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resolved = _load(SEQUENTIAL, tmp_path)
    monkeypatch.setattr(render, "renderers", lambda: [render.Renderer("graphviz-pure", "/nowhere/graphviz-pure")])
    with pytest.raises(render.RendererMissing, match="graphviz-pure cannot write PDF"):
        draw(resolved, tmp_path / "model.pdf")
    assert (tmp_path / "model.dot").exists()


def test_dot_output_and_bad_suffix(tmp_path: Path) -> None:
    resolved = _load(SEQUENTIAL, tmp_path)
    assert draw(resolved, tmp_path / "m.dot") == tmp_path / "m.dot"
    assert (tmp_path / "m.dot").read_text() == draw(resolved, None)
    with pytest.raises(ValueError, match="expected a .svg"):
        draw(resolved, tmp_path / "m.bmp")


def test_graphviz_pure_is_found_beside_python() -> None:
    beside = Path(sys.executable).parent / "graphviz-pure"
    if not beside.exists():
        pytest.skip("graphviz-pure is not installed beside this Python")
    assert any(r.kind == "graphviz-pure" and Path(r.path) == beside for r in render.renderers())


@needs_renderer
@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_renders_to_svg(spec: Path, tmp_path: Path) -> None:
    from kspec.analysis import shapes

    resolved = kspec.load(spec)
    out = draw(resolved, tmp_path / f"{spec.stem}.svg", shapes=shapes.infer(resolved))
    assert isinstance(out, Path)
    _assert_svg_names(out, resolved)


def test_deep_shapes_win_over_static_ones(tmp_path: Path) -> None:
    from kspec.analysis import shapes

    resolved = _load(SEQUENTIAL, tmp_path)
    deep = {"conv1": [None, 9, 9, 32], "probs": [[None, 10], [None, 2]]}
    dot = to_dot(resolved, DrawOptions(), shapes=shapes.infer(resolved), deep_shapes=deep)
    assert "→ 9×9×32 · 320 params" in dot and "→ 10, 2" in dot and "→ 24×24×64" in dot


NESTED_REPEATS = """
kspec: 1
name: stacks
blocks:
  stack:
    layers:
      - {type: Dense, units: 8, activation: relu, repeat: 2}
model:
  inputs: {x: {shape: [8]}}
  layers:
    - {block: stack, name: s, repeat: 3}
    - {type: Dense, name: out, units: 1}
"""


def test_collapse_nests_and_keeps_edges_on_drawn_nodes(tmp_path: Path) -> None:
    dot = _dot(NESTED_REPEATS, tmp_path, DrawOptions(collapse=True))
    nodes = {line.split(" [", 1)[0].strip() for line in dot.splitlines() if " [label=" in line}
    assert nodes == {"x", "s_1_dense", "out", '"s_1/"'}  # "s_1/" is the cluster's header, beside its first layer
    assert "x -> s_1_dense" in dot and "s_1_dense -> out" in dot and dot.count("->") == 2
    assert "s_1 to s_3</B>: stack ×3" in dot and "(Dense) ×2" in dot
    assert "→ 8 · 144 params" in dot  # two Dense(8) of one block instance
    assert "432 params" in dot  # the cluster counts all three instances


def test_system_dot_is_preferred_and_failures_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\necho 'Error: syntax error in line 1' >&2\nexit 1\n")
    fake.chmod(0o755)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: str(fake) if name == "dot" else real_which(name))
    assert render.renderers()[0] == render.Renderer("dot", str(fake))
    assert render.choose("pdf") == render.Renderer("dot", str(fake))
    with pytest.raises(render.RenderError, match="dot failed to render .*syntax error in line 1"):
        render.render("digraph { a -> b }", tmp_path / "g.pdf")


def test_options_are_checked_and_shared_frozen_layers_look_frozen(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rankdir must be"):
        DrawOptions(rankdir="TD")
    dot = _dot(
        """
        kspec: 1
        name: probe
        models:
          full:
            inputs: {x: {shape: [4]}}
            layers:
              - {type: Dense, name: base, units: 3, trainable: false}
              - {type: Dense, name: head, units: 1}
          probe:
            inputs: {x: {shape: [4]}}
            layers:
              - {use: base}
    """,
        tmp_path,
        DrawOptions(),
    )
    assert dot.count("frozen") >= 3  # base in both models, and the legend
    assert "shared layer" in dot
