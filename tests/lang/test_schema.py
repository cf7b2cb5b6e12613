"""The exported JSON Schema is current, and every valid spec (examples and fixtures) validates against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kspec.lang import loader, schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / schema.DEFAULT_PATH
VALID = sorted((ROOT / "specs").rglob("*.yaml")) + sorted((ROOT / "tests" / "cases" / "valid").glob("*.yaml"))

INLINE_VALID = """
kspec: 1
name: inline
vars: {width: 64}
model:
  inputs: {image: {shape: [28, 28, 1]}}
  layers:
    - {type: Conv2D, filters: 8, kernel_size: 3, padding: SAME, activation: relu,
       kernel_initializer: {type: HeNormal, seed: 1}, kernel_regularizer: {type: L2, l2: 0.01}}
    - {type: MaxPool2D}
    - {type: Flatten}
    - {type: Dense, units: "${width}", activation: null}
    - {type: TimeDistributed, layer: {type: Dense, units: 2}, inputs: image}
    - {op: mean, axis: [1, 2], inputs: image}
    - {type: my_pkg>Residual, anything: goes}
    - {type: Dense, name: probs, units: 10, activation: softmax}
  outputs: [probs]
"""


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    data = schema.generate()
    jsonschema.Draft202012Validator.check_schema(data)
    return jsonschema.Draft202012Validator(data)


def test_schema_file_is_current() -> None:
    assert SCHEMA_FILE.exists(), "schemas/kspec.schema.json is missing: run `kspec schema`"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema.dumps(schema.generate()), (
        "schemas/kspec.schema.json is out of date: run `kspec schema` (or `python -m kspec.lang.schema`)"
    )


def test_write_is_deterministic(tmp_path: Path) -> None:
    a, b = schema.write(tmp_path / "a.json"), schema.write(tmp_path / "b" / "b.json")
    text = a.read_text(encoding="utf-8")
    assert text == b.read_text(encoding="utf-8") and text.endswith("}\n")
    assert json.loads(text)["$schema"] == schema.DRAFT


@pytest.mark.parametrize("path", VALID, ids=lambda p: str(p.relative_to(ROOT)))
def test_valid_spec_matches_schema(path: Path, validator: jsonschema.Draft202012Validator) -> None:
    errors = [f"{e.json_path}: {e.message[:200]}" for e in validator.iter_errors(loader.read(path).data)]
    assert not errors, "\n".join(errors)


def _errors(validator: jsonschema.Draft202012Validator, text: str) -> list[str]:
    return [e.json_path for e in validator.iter_errors(loader.parse_text(text, "<inline>").data)]


def test_inline_valid_spec(validator: jsonschema.Draft202012Validator) -> None:
    assert _errors(validator, INLINE_VALID) == []


@pytest.mark.parametrize(
    ("layer", "where"),
    [
        ("{type: Conv2d, filters: 3, kernel_size: 3}", "type"),
        ("{type: Conv2D, filters: 3, kernel_size: 3, padding: sme}", "padding"),
        ("{type: Dense, units: 3, activation: relux}", "activation"),
        ("{type: Dense, units: abc}", "units"),
        ("{type: Dense, units: 0}", "units"),
        ("{type: Dense, units: true}", "units"),
        ("{type: Dropout, rate: 1.5}", "rate"),
        ("{type: Dense, units: 3, kernel_initializer: {type: HeNormal, seed: x}}", "kernel_initializer.seed"),
        ("{type: TimeDistributed, layer: {type: Dens}}", "layer.type"),
        ("{op: map}", "op"),
        ("{type: Conv2D, filter: 3, kernel_size: 3}", ""),
        ("{type: Dense, units: 3, kernel_size: 3}", ""),
        ("{units: 3}", ""),
    ],
)
def test_schema_rejects_bad_layers(layer: str, where: str, validator: jsonschema.Draft202012Validator) -> None:
    """Each mistake is reported once, at the value itself (not at `$.model` as `anyOf` noise would)."""
    text = f"kspec: 1\nname: bad\nmodel:\n  inputs: {{x: {{shape: [4]}}}}\n  layers:\n    - {layer}\n"
    assert _errors(validator, text) == ["$.model.layers[0]" + (f".{where}" if where else "")]


def test_layer_arguments_are_described() -> None:
    defs: dict[str, Any] = schema.generate()["$defs"]
    dense = defs["kspec.layer.Dense"]["properties"]
    assert dense["units"]["description"].startswith("Positive integer")
    assert dense["use_bias"]["default"] is True
    cases = defs["kspec.typed_entry"]["allOf"]
    conv = next(c for c in cases if "Conv2D" in json.dumps(c["if"]))
    assert conv["if"]["properties"]["type"]["pattern"] == "^(Conv2D|Convolution2D)$"
    assert defs["kspec.layer_entry.Conv2D"]["unevaluatedProperties"] is False  # other layers' arguments are errors


def test_every_property_is_described() -> None:
    """Editors show descriptions on hover: every property outside an `if` condition has one (or a `$ref` that has)."""
    data = schema.generate()
    missing: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, where)
        if not isinstance(node, dict):
            return
        for key, sub in node.get("properties", {}).items():
            if isinstance(sub, dict) and "description" not in sub and "$ref" not in sub:
                missing.append(f"{where}.{key}")
        for key, sub in node.items():
            if key != "if":
                walk(sub, f"{where}/{key}")

    walk(data, "")
    assert not missing, missing[:20]


def test_schema_is_shipped_with_the_package() -> None:
    shipped = schema.package_path()
    assert shipped.read_text(encoding="utf-8") == SCHEMA_FILE.read_text(encoding="utf-8")
    assert json.loads(shipped.read_text(encoding="utf-8"))["$id"] == schema.SCHEMA_ID


def test_loss_per_output_name(validator: jsonschema.Draft202012Validator) -> None:
    base = "kspec: 1\nname: two\nmodel:\n  inputs: {x: {shape: [4]}}\n  layers: [{type: Dense, units: 2}]\n"
    good = base + "train: {loss: {decoded: mse, label: categorical_crossentropy}}\n"
    assert _errors(validator, good) == []
    assert _errors(validator, base + "train: {loss: {decoded: msee}}\n") == ["$.train.loss.decoded"]
    assert _errors(validator, base + "train: {loss: {type: Huber, delta: 1.0}}\n") == []


def test_losses_section_names_in_train(validator: jsonschema.Draft202012Validator) -> None:
    """With a `losses:` section, `train.loss` and `train.metrics` may name its losses; without one they stay strict."""
    base = "kspec: 1\nname: two\nmodel:\n  inputs: {x: {shape: [4]}}\n  layers: [{type: Dense, units: 2}]\n"
    losses = "losses:\n  mine: {params: {m: 1}, formula: square(y_true - m * y_pred)}\n"
    uses = "train: {loss: {type: mine, m: 2}, metrics: [mine, accuracy]}\n"
    assert _errors(validator, base + losses + uses) == []
    bad = "train: {loss: {decoded: mine}, metrics: [{type: mine, m: x}]}\n"  # a parameter is a number
    assert _errors(validator, base + losses + bad) == ["$.train.metrics[0]"]
    assert sorted(_errors(validator, base + uses)) == ["$.train.loss.type", "$.train.metrics[0]"]
