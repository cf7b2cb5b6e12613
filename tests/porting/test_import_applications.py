"""`kspec import` round trip on a representative subset of `keras.applications` (weights=None, 32x32 inputs).

For each model: import (spec + weights) -> `kspec validate` with every layer's static shape equal to Keras's ->
`kspec build`, which loads `init:` -> the same layer classes, names, connections and parameter counts (total and
trainable) -> the same outputs on the same input. `tools/import_applications.py` runs all of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.keras

keras = pytest.importorskip("keras")

import kspec  # noqa: E402
from kspec.porting import import_model, roundtrip, sources  # noqa: E402

# blocks with two parameters (ResNet), ops with constants (MobileNetV3's hard-sigmoid), Rescaling/Normalization and
# squeeze-excite (EfficientNet), concatenation-heavy blocks (DenseNet)
SUBSET = ["ResNet50", "MobileNetV3Small", "EfficientNetB0", "DenseNet121"]
#: What the block detector finds in each (blocks, instances); a change here is a change in readability.
BLOCKS = {"ResNet50": (2, 16), "MobileNetV3Small": (4, 28), "EfficientNetB0": (3, 15), "DenseNet121": (2, 61)}


@pytest.mark.parametrize("name", SUBSET)
def test_application_round_trip(name: str, tmp_path: Path) -> None:
    src = sources.load(f"keras.applications.{name}", {"input_shape": [32, 32, 3]})
    original = src.load_model()
    spec = tmp_path / f"{name.lower()}.yaml"
    report = import_model(src, spec, weights=True)
    assert report.problems == []
    spec.write_text(report.text, encoding="utf-8")
    assert report.text.startswith("# yaml-language-server: $schema=")
    assert f"keras.applications.{name}(weights=None, input_shape=[32, 32, 3])" in report.text.splitlines()[1]
    assert report.weights is not None and report.weights.is_file()

    notes = kspec.validate(spec)
    assert not [n for n in notes if n.code == "unchecked-layer"]
    resolved = kspec.load(spec)
    assert roundtrip.static_shape_differences(resolved, original) == []

    compiled = kspec.build(spec)  # loads init: {weights: ...}
    assert roundtrip.differences(original, compiled.model) == []
    assert roundtrip.max_output_difference(original, compiled.model) <= 1e-5

    blocks = report.composed.blocks
    assert (len(blocks), sum(blocks.values())) == BLOCKS[name]
    assert report.composed.lines < len(original.operations)


def test_resnet50_reads_as_a_handful_of_blocks(tmp_path: Path) -> None:
    src = sources.load("keras.applications.ResNet50", {"input_shape": [32, 32, 3], "classes": 10})
    report = import_model(src, tmp_path / "r.yaml", weights=False)
    layers = report.text.split("\nmodel:\n", 1)[1]
    assert layers.count("{block: ") == 16
    assert "init:" not in report.text
    assert "- {type: Dense, name: predictions, units: 10, activation: softmax}" in layers


def test_custom_layers_are_reported_by_name_and_path(tmp_path: Path) -> None:
    src = sources.load("keras.applications.ConvNeXtTiny", {"input_shape": [32, 32, 3]})
    report = import_model(src, tmp_path / "c.yaml", weights=True)
    assert report.weights is None and not (tmp_path / "c.weights.h5").exists()
    found = {(p.cls, p.code) for p in report.problems}
    assert found == {("LayerScale", "unknown-layer")}
    first = report.problems[0]
    assert first.layer == "convnext_tiny_stage_0_block_0_layer_scale"
    assert first.where[:2] == ("config", "layers") and isinstance(first.where[2], int)
    diag = report.diagnostics("keras.applications.ConvNeXtTiny")[0]
    assert diag.file == "keras.applications.ConvNeXtTiny" and diag.code == "unknown-layer"
    assert "NOT-IMPORTED:LayerScale" in report.text
