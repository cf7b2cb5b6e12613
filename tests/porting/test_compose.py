"""`kspec import`'s Keras-free stages: defaults, blocks with parameters, repeats, implicit inputs and auto names.

The IR is written by hand here; the spec text each test composes is validated by kspec itself (no TensorFlow).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

import kspec
from kspec.porting.blocks import find_blocks
from kspec.porting.compose import PLACEHOLDER, compose
from kspec.porting.model import Entry, Imported, ImportedModel, Problem
from kspec.porting.shaping import find_defaults

CONV_DEFAULTS = {"strides": 1, "padding": "valid", "activation": None, "use_bias": True}


def conv(name: str, inputs: list[str], **args: Any) -> Entry:
    return Entry(name, "type", "Conv2D", {"kernel_size": 3, **args}, dict(CONV_DEFAULTS), inputs)


def unit(prefix: str, prev: str, filters: int, strides: int = 1) -> list[Entry]:
    """A residual unit named like Keras's ResNet: <prefix>_1_conv, <prefix>_2_conv, <prefix>_add."""
    return [
        conv(
            f"{prefix}_1_conv", [prev], filters=filters, padding="same", **({"strides": strides} if strides > 1 else {})
        ),
        conv(f"{prefix}_2_conv", [f"{prefix}_1_conv"], filters=filters, padding="same"),
        Entry(f"{prefix}_add", "type", "Add", {}, {}, [f"{prefix}_1_conv", f"{prefix}_2_conv"]),
    ]


def resnetish() -> ImportedModel:
    entries: list[Entry] = []
    prev = "image"
    for i, (filters, strides) in enumerate([(8, 1), (8, 1), (16, 2), (16, 1)]):
        entries += unit(f"stage_unit{i}", prev, filters, strides)
        prev = entries[-1].name
    entries.append(Entry("flat", "type", "Flatten", {}, {}, [prev]))
    return ImportedModel("resnetish", {"image": {"shape": [16, 16, 3]}}, entries, ["flat"])


def text_of(model: ImportedModel, problems: list[Problem] | None = None) -> str:
    imported = Imported({model.name: model}, model.name, "a test", "3.x", problems=problems or [])
    return compose(imported, ["provenance"], None).text


def validate_text(tmp_path: Path, text: str) -> kspec.Resolved:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    kspec.validate(path)  # raises on any error; warnings and notes are allowed
    return kspec.load(path)


def test_defaults_take_the_majority_value_and_undo_it_where_needed() -> None:
    model = resnetish()
    defaults = find_defaults([model])
    assert defaults == {"Conv2D": {"kernel_size": 3, "padding": "same"}}
    assert all("padding" not in e.args for e in model.entries if e.type == "Conv2D")


def test_blocks_parameterise_what_differs_between_instances() -> None:
    model = resnetish()
    defaults = find_defaults([model])
    (block,) = find_blocks(model.entries, defaults, set())
    assert [i.prefix for i in block.instances] == [f"stage_unit{i}" for i in range(4)]
    assert block.params == {"filters": 8, "strides": 1}
    assert [i.params for i in block.instances] == [{}, {}, {"filters": 16, "strides": 2}, {"filters": 16}]
    assert block.layers[0] == {"type": "Conv2D", "name": "1_conv", "filters": "${filters}", "strides": "${strides}"}
    assert block.layers[2] == {"type": "Add", "name": "add", "inputs": ["1_conv", "2_conv"]}


def test_composed_spec_validates_and_keeps_every_name(tmp_path: Path) -> None:
    model = resnetish()
    text = text_of(resnetish())
    assert text.startswith("# provenance\n")
    doc = yaml.safe_load(text)
    assert [e.get("block") for e in doc["model"]["layers"][:4]] == ["stage_unit"] * 4
    res = validate_text(tmp_path, text)
    names = [n.name for n in res.models[model.name].order() if n.kind != "input"]
    assert names == [e.name for e in model.entries]
    graph = res.models[model.name]
    assert {e.name: e.inputs for e in model.entries} == {n: graph.nodes[n].inputs for n in names}


def test_repeats_and_auto_names(tmp_path: Path) -> None:
    dense = {"activation": None, "use_bias": True}
    entries = [Entry(f"hidden_{k}", "type", "Dense", {"units": 32, "activation": "relu"}, dict(dense),
                     ["x" if k == 1 else f"hidden_{k - 1}"]) for k in (1, 2, 3)]  # fmt: skip
    entries += [Entry("dense", "type", "Dense", {"units": 4}, dict(dense), ["hidden_3"])]
    entries += [Entry("dense_1", "type", "Dense", {"units": 2}, dict(dense), ["dense"])]
    text = text_of(ImportedModel("mlp", {"x": {"shape": [8]}}, entries, ["dense_1"]))
    layers = yaml.safe_load(text)["model"]["layers"]
    assert yaml.safe_load(text)["defaults"] == {"Dense": {"activation": "relu", "units": 32}}
    assert layers == [
        {"type": "Dense", "name": "hidden", "repeat": 3},  # hidden_1..3
        {"type": "Dense", "units": 4, "activation": None},  # auto-named dense, dense_1
        {"type": "Dense", "units": 2, "activation": None},
    ]
    res = validate_text(tmp_path, text)
    assert [n.name for n in res.models["mlp"].order()] == ["x", "hidden_1", "hidden_2", "hidden_3", "dense", "dense_1"]


def test_placeholder_is_marked_and_does_not_validate(tmp_path: Path) -> None:
    entries = [
        Entry("d", "type", "Dense", {"units": 4}, {}, ["x"]),
        Entry("scale", "unsupported", "Lambda", {}, {}, ["d"]),
    ]
    problem = Problem("scale", "Lambda", ("config", "layers", 2), "runs arbitrary code", "unsafe-layer")
    text = text_of(ImportedModel("m", {"x": {"shape": [8]}}, entries, ["scale"]), [problem])
    line = next(line for line in text.splitlines() if PLACEHOLDER in line)
    assert "runs arbitrary code [unsafe-layer]" in line
    path = tmp_path / "partial.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        kspec.validate(path)
    except kspec.SpecErrors as exc:
        assert [e.code for e in exc.errors] == ["unknown-layer"]
        assert exc.errors[0].line == text.splitlines().index(line) + 1
    else:
        raise AssertionError("a NOT-IMPORTED placeholder validated")
