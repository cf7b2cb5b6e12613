"""String arguments whose allowed values Keras checks in code (`Attention(score_mode=...)`, `Bidirectional
(merge_mode=...)`, preprocessing `output_mode`s, `fill_mode`s, ...) are enumerations in the catalogue, so `validate`
refuses a wrong value statically, at its line, naming the allowed values -- and never refuses one Keras takes.
"""

from __future__ import annotations

from typing import Any

import pytest

from kspec import catalog

#: (layer, argument) pairs the catalogue must enumerate: a regression here means a Keras upgrade or an introspection
#: change lost them
EXPECTED = {
    ("Attention", "score_mode"): ("dot", "concat"),
    ("Bidirectional", "merge_mode"): ("sum", "mul", "ave", "concat"),
    ("TextVectorization", "output_mode"): ("int", "one_hot", "multi_hot", "count", "tf_idf"),
    ("TextVectorization", "split"): ("whitespace", "character"),
    ("RandomRotation", "fill_mode"): ("reflect", "wrap", "constant", "nearest"),
    ("RandomZoom", "interpolation"): ("nearest", "bilinear"),
    ("Hashing", "output_mode"): ("int", "one_hot", "multi_hot", "count"),
    ("LSTM", "use_cudnn"): ("auto", True, False),
    ("UpSampling2D", "interpolation"): ("area", "bicubic", "bilinear", "lanczos3", "lanczos5", "nearest"),  # on call
}


#: what the introspection's probe gives the required arguments of a layer (it imports keras; these tests must not)
PROBED = {"filters", "kernel_size", "pool_size", "units", "num_bins", "num_tokens", "axes", "layer", "num_heads",
          "key_dim", "head_dim", "num_query_heads", "num_key_value_heads", "height", "width", "factor",
          "height_factor", "input_dim", "output_dim", "rate", "stddev", "output_size"}  # fmt: skip
#: enumerations kspec writes from the argument's name (Keras lower-cases both), not from probing the constructor
BY_NAME = ("padding", "data_format")


def _enums() -> list[tuple[str, str]]:
    """Every enumerated argument of a layer the introspection can construct."""
    return [
        (name, p.name)
        for name in catalog.layer_names()
        if (info := catalog.layer_info(name)) is not None and info.family != "application"
        and {n for n, q in info.params.items() if q.required} <= PROBED
        for p in info.params.values()
        if p.kind == "enum"
    ]  # fmt: skip


def test_the_probe_values_are_the_introspections() -> None:
    import ast
    import inspect

    from kspec.catalog import probe  # imports keras only inside its functions

    tree = ast.parse(inspect.getsource(probe))
    node = next(
        n for n in ast.walk(tree) if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == "_PROBE_ARGS"
    )
    assert isinstance(node.value, ast.Dict)
    assert {k.value for k in node.value.keys if isinstance(k, ast.Constant)} == PROBED


@pytest.mark.parametrize(("layer", "arg"), sorted(EXPECTED))
def test_the_catalogue_enumerates_keras_choices(layer: str, arg: str) -> None:
    info = catalog.layer_info(layer)
    assert info is not None
    param = info.params[arg]
    assert param.kind == "enum" and sorted(map(str, param.choices)) == sorted(map(str, EXPECTED[layer, arg]))


def _errors(type_name: str, **args: Any) -> list[catalog.ParamInfo | Any]:
    return list(catalog.check_layer(type_name, args, partial=True))


def test_a_wrong_choice_is_a_bad_value_naming_the_allowed_ones() -> None:
    (err,) = _errors("Attention", score_mode="dott")
    assert (err.code, err.path, err.hint) == ("bad-value", ("score_mode",), "did you mean 'dot'?")
    assert "one of 'concat', 'dot'" in err.message
    (err,) = _errors("Attention", score_mode="general")
    assert err.hint == "allowed: 'concat', 'dot'"
    (err,) = _errors("Attention", score_mode=None)  # Keras refuses None here
    assert err.code == "bad-value"


def test_case_matters_only_where_keras_ignores_it() -> None:
    assert [e.code for e in _errors("Attention", score_mode="DOT")] == ["bad-value"]
    assert not _errors("Conv2D", filters=1, kernel_size=1, padding="SAME")  # Keras lower-cases padding
    assert not _errors("Bidirectional", merge_mode=None, layer={"type": "LSTM", "units": 1})


def test_an_argument_keras_checks_on_the_first_call_is_checked_statically() -> None:
    (err,) = _errors("UpSampling2D", interpolation="linear")
    assert err.code == "bad-value" and "'bilinear'" in err.message


def test_flags_beside_strings() -> None:
    assert not _errors("LSTM", units=1, use_cudnn=True)
    assert not _errors("LSTM", units=1, use_cudnn="auto")
    (err,) = _errors("LSTM", units=1, use_cudnn="yes")
    assert "one of 'auto', true, false" in err.message


@pytest.mark.keras
@pytest.mark.parametrize(("layer", "arg"), _enums())
def test_recorded_choices_are_what_keras_accepts(layer: str, arg: str) -> None:
    """Each recorded value constructs the layer (and runs it, where only a call checks the value); a value outside
    them, or in the wrong case, is refused."""
    keras = pytest.importorskip("keras")
    from kspec.catalog import probe

    info = catalog.layer_info(layer)
    assert info is not None
    param = info.params[arg]
    cls = getattr(keras.layers, layer)
    raw = {n: {"required": p.required} for n, p in info.params.items()}
    required = probe.probe_args(layer, raw, keras)
    assert required is not None, f"no probe values for the required arguments of {layer}"
    found = probe.value_probe(cls, required, arg)
    if found is None:  # Keras checks nothing of it here: only padding and data_format, which Keras lower-cases
        assert arg in BY_NAME and param.ignore_case
        return
    accepts = found[0]
    for choice in param.choices:
        assert accepts(choice), f"{layer}({arg}={choice!r}) is recorded but refused"
    assert not accepts("not-one-of-them")
    assert accepts(None) == param.nullable
    for choice in param.choices:
        if isinstance(choice, str):
            assert accepts(choice.upper()) == param.ignore_case, f"{layer}({arg}={choice.upper()!r})"
