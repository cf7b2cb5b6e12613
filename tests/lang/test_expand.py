from __future__ import annotations

import pytest

from kspec.errors import SpecErrors
from kspec.lang.expand import apply_overrides, expand_document, parse_override, unused_variables


def test_parse_override_reads_yaml_values_and_indexes() -> None:
    assert parse_override("train.epochs=3") == (("train", "epochs"), 3)
    assert parse_override("model.layers[2].rate=1e-3") == (("model", "layers", 2, "rate"), 0.001)
    assert parse_override("model.layers.0.activation=relu") == (("model", "layers", 0, "activation"), "relu")
    assert parse_override("a.b=[1, 2]") == (("a", "b"), [1, 2])


def test_apply_overrides_changes_and_adds_keys() -> None:
    data = {"train": {"epochs": 5}, "model": {"layers": [{"type": "Dense"}]}}
    out = apply_overrides(data, ["train.epochs=1", "model.layers[0].units=7"])
    assert data == {"train": {"epochs": 1}, "model": {"layers": [{"type": "Dense", "units": 7}]}}
    assert out.sources == {
        ("train", "epochs"): "train.epochs=1",
        ("model", "layers", 0, "units"): "model.layers[0].units=7",
    }
    assert out.errors == []


def test_override_of_missing_parent_is_an_error_with_a_suggestion() -> None:
    out = apply_overrides({"train": {}}, ["trian.epochs=1", "no-equals-sign", "train.epochs=2"])
    assert [(e.code, e.file) for e in out.errors] == [("bad-override", "<--set>")] * 2
    assert out.errors[0].hint == "did you mean 'train'?"
    assert out.data == {"train": {"epochs": 2}}  # the good override still applies


def test_override_of_an_undefined_variable_is_an_error() -> None:
    out = apply_overrides({"vars": {"dropout1": 0.1}}, ["vars.droput1=0.05"])
    (err,) = out.errors
    assert err.code == "bad-override" and err.path == ("vars", "droput1")
    assert err.hint == "did you mean 'dropout1'?"
    assert out.data == {"vars": {"dropout1": 0.1}}


def test_unused_variables_are_warnings() -> None:
    data = {"vars": {"a": 1, "b": 2, "c": 3}, "model": {"x": "${a}"}, "blocks": {"k": {"layers": ["${c}"]}}}
    (warning,) = unused_variables(data)
    assert (warning.severity, warning.code, warning.path) == ("warning", "unused-variable", ("vars", "b"))


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
