"""Blocks written as signatures, `name(param, param=default): [layers]`, read as the long form."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import kspec
from kspec.analysis.graph import Resolved
from kspec.analysis.shapes import infer
from kspec.errors import SpecErrors
from kspec.lang.loader import parse_text

LONG = """
kspec: 1
name: blocks
blocks:
  stage:
    params: {filters: null, strides: 2, size: [3, 3], rate: 1.0e-3, act: relu}
    layers:
      - {type: Conv2D, filters: "${filters}", kernel_size: "${size}", strides: "${strides}", activation: "${act}"}
      - {type: Dropout, rate: "${rate}"}
model:
  inputs: {x: {shape: [16, 16, 3]}}
  layers:
    - {block: stage, name: s, repeat: {filters: [4, 8]}}
"""

SHORT = """
kspec: 1
name: blocks
blocks:
  stage(filters, strides=2, size=[3, 3], rate=1e-3, act=relu):
    - {type: Conv2D, filters: "${filters}", kernel_size: "${size}", strides: "${strides}", activation: "${act}"}
    - {type: Dropout, rate: "${rate}"}
model:
  inputs: {x: {shape: [16, 16, 3]}}
  layers:
    - {block: stage, name: s, repeat: {filters: [4, 8]}}
"""


def _load(tmp_path: Path, text: str, overrides: tuple[str, ...] = ()) -> Resolved:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return kspec.load(path, overrides)


def test_a_signature_is_the_long_form(tmp_path: Path) -> None:
    long, short = parse_text(LONG).data, parse_text(SHORT).data
    assert short == long
    assert short["blocks"]["stage"]["params"] == {"filters": None, "strides": 2, "size": [3, 3], "rate": 0.001,
                                                  "act": "relu"}  # fmt: skip
    a, b = _load(tmp_path, LONG), _load(tmp_path, SHORT)
    assert list(a.models["blocks"].nodes) == list(b.models["blocks"].nodes)
    ra, rb = infer(a), infer(b)
    assert ra.models["blocks"].params == rb.models["blocks"].params == 4 * 3 * 3 * 3 + 4 + 8 * 3 * 3 * 4 + 8


def test_the_value_may_be_the_long_forms_mapping_without_params() -> None:
    doc = parse_text("blocks:\n  up(filters):\n    inputs: [x, skip]\n    layers: [{type: Dense, units: 1}]\n")
    assert doc.data["blocks"]["up"] == {"params": {"filters": None}, "inputs": ["x", "skip"],
                                        "layers": [{"type": "Dense", "units": 1}]}  # fmt: skip
    assert doc.positions[("blocks", "up", "inputs")] == (3, 5)


def test_errors_inside_a_signature_block_point_at_the_users_line(tmp_path: Path) -> None:
    text = SHORT.replace("{type: Dropout, rate", "{type: Dropout, rat")
    with pytest.raises(SpecErrors) as exc:
        kspec.check(_load(tmp_path, text))
    (err,) = [e for e in exc.value.errors if e.severity == "error"]
    assert (err.code, err.line) == ("unknown-argument", 7)
    assert err.path == ("blocks", "stage", "layers", 1, "rat")


def test_a_missing_required_parameter_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SpecErrors) as exc:
        kspec.check(_load(tmp_path, SHORT.replace("repeat: {filters: [4, 8]}", "size: [1, 1]")))
    assert "filters" in str(exc.value)


def test_overrides_reach_a_signature_block(tmp_path: Path) -> None:
    resolved = _load(tmp_path, SHORT, ("blocks.stage.params.strides=1",))
    outputs = infer(resolved).models["blocks"].outputs
    assert outputs == {"s_2_dropout": (None, 12, 12, 8)}  # two valid 3 x 3 convolutions, stride 1


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("stage(filters", "not a signature"),
        ("stage(filters, filters)", "named twice"),
        ("stage(1x)", "not a parameter"),
        ("stage(a=[1)", "not a YAML value"),
        ("stage(a=)", "not a YAML value"),
    ],
)
def test_a_bad_signature_is_a_located_error(key: str, words: str) -> None:
    with pytest.raises(SpecErrors) as exc:
        parse_text(f"kspec: 1\nblocks:\n  {key}: [{{type: Dense, units: 1}}]\n", "s.yaml")
    (err,) = exc.value.errors
    assert words in err.message and (err.file, err.line, err.column) == ("s.yaml", 3, 3)
    assert err.hint and "name(param" in err.hint


def test_params_beside_a_signature_and_twice_defined_blocks_are_refused() -> None:
    with pytest.raises(SpecErrors, match="not from `params:`"):
        parse_text("blocks:\n  up(filters):\n    params: {x: 1}\n    layers: [{type: Dense, units: 1}]\n")
    with pytest.raises(SpecErrors, match="defined twice"):
        parse_text("blocks:\n  up: {layers: [{type: Dense, units: 1}]}\n  up(a): [{type: Dense, units: 1}]\n")


def test_a_variable_as_a_whole_repeat_inside_a_block_is_a_located_error(tmp_path: Path) -> None:
    text = SHORT.replace('{type: Dropout, rate: "${rate}"}', '{type: Dropout, rate: "${rate}", repeat: "${strides}"}')
    with pytest.raises(SpecErrors) as exc:
        _load(tmp_path, text)
    (err,) = exc.value.errors
    assert (err.code, err.path, err.line) == ("wrong-type", ("blocks", "stage", "layers", 1, "repeat"), 7)
    assert err.hint is not None and "list the values here" in err.hint
