from __future__ import annotations

import pytest

from kspec.errors import SpecErrors
from kspec.lang.expand import apply_overrides, expand_document, parse_override


def test_parse_override_reads_yaml_values_and_indexes() -> None:
    assert parse_override("train.epochs=3") == (("train", "epochs"), 3)
    assert parse_override("model.layers[2].rate=1e-3") == (("model", "layers", 2, "rate"), 0.001)
    assert parse_override("model.layers.0.activation=relu") == (("model", "layers", 0, "activation"), "relu")
    assert parse_override("a.b=[1, 2]") == (("a", "b"), [1, 2])


def test_apply_overrides_changes_and_adds_keys() -> None:
    data = {"train": {"epochs": 5}, "model": {"layers": [{"type": "Dense"}]}}
    apply_overrides(data, ["train.epochs=1", "model.layers[0].units=7"])
    assert data == {"train": {"epochs": 1}, "model": {"layers": [{"type": "Dense", "units": 7}]}}


def test_override_of_missing_parent_is_an_error() -> None:
    with pytest.raises(SpecErrors) as info:
        apply_overrides({"train": {}}, ["trian.epochs=1"])
    assert info.value.errors[0].code == "bad-override"
    with pytest.raises(SpecErrors):
        apply_overrides({"train": {}}, ["no-equals-sign"])


def test_variables_keep_type_when_whole_and_interpolate_inside_strings() -> None:
    out = expand_document(
        {"vars": {"n": 100, "act": "relu"}, "a": "${n}", "b": "h${n}_${act}", "blocks": {"x": "${p}"}}
    )
    assert out["a"] == 100
    assert out["b"] == "h100_relu"
    assert out["blocks"] == {"x": "${p}"}


def test_unknown_variable_is_located_with_suggestion() -> None:
    with pytest.raises(SpecErrors) as info:
        expand_document({"vars": {"hidden": 3}, "model": {"layers": [{"units": "${hiden}"}]}})
    (err,) = info.value.errors
    assert err.code == "unknown-variable"
    assert err.path == ("model", "layers", 0, "units")
    assert err.hint == "did you mean 'hidden'?"
