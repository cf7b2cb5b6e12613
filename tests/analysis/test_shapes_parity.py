"""Static shape inference agrees with Keras: every case of `tests/analysis/test_shapes.py` built directly with Keras,
every spec of `specs/` built by the compiler, give the inferred output shape of each node and the same parameters."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.keras

keras = pytest.importorskip("keras")

from kspec import (
    catalog,
    load,
)
from kspec.analysis.graph import Node
from kspec.analysis.shape_rules import ALIASES, ELEMENTWISE, OP_RULES, RULES, SHAPE_PRESERVING, lookup
from kspec.analysis.shapes import infer
from kspec.errors import SpecErrors

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").rglob("*.yaml"))


def _load_cases() -> Any:
    spec = importlib.util.spec_from_file_location("kspec_test_shapes", ROOT / "tests" / "analysis" / "test_shapes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SHAPE_TESTS = _load_cases()
CASES = SHAPE_TESTS.CASES


def make_layer(type_name: str, args: dict[str, Any], name: str | None = None) -> Any:
    """A Keras layer or application from a spec entry's type and arguments (nested `{type: ...}` layers too)."""
    kwargs = {k: v for k, v in args.items() if k != "trainable"}
    for key in ("layer", "backward_layer"):
        inner = kwargs.get(key)
        if isinstance(inner, dict):
            kwargs[key] = make_layer(inner["type"], {k: v for k, v in inner.items() if k != "type"})
    if name is not None:
        kwargs["name"] = name
    canonical = catalog.canonical_layer(type_name) or type_name
    info = catalog.layer_info(canonical)
    owner = keras.applications if info is not None and info.is_application else keras.layers
    layer = getattr(owner, canonical)(**kwargs)
    if args.get("trainable") is False:
        layer.trainable = False
    return layer


def call_op(node: Node, tensors: list[Any]) -> Any:
    info = catalog.op_info(node.type)
    assert info is not None
    fn = getattr(keras.ops, node.type)
    return fn(tensors, **node.args) if info.variadic else fn(*tensors, **node.args)


def build_case(case: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Build a case's single model with Keras, node by node; returns the model, node outputs and node layers."""
    res = SHAPE_TESTS.resolved(SHAPE_TESTS.spec_text(case))
    (graph,) = res.models.values()
    tensors: dict[str, Any] = {}
    layers: dict[str, Any] = {}
    for node in graph.order():
        ins = [tensors[i] for i in node.inputs]
        if node.kind == "input":
            tensors[node.name] = keras.Input(shape=tuple(node.args["shape"]), dtype=node.args["dtype"],
                                             name=node.name)  # fmt: skip
        elif node.kind == "op":
            tensors[node.name] = call_op(node, ins)
        else:
            assert node.kind == "layer", "cases hold inputs, layers and ops only"
            layers[node.name] = make_layer(node.type, node.args, node.name)
            tensors[node.name] = layers[node.name](ins[0] if len(ins) == 1 else ins)
    model = keras.Model([tensors[i] for i in graph.inputs], [tensors[o] for o in graph.outputs])
    return model, tensors, layers


def keras_shape(value: Any) -> Any:
    if isinstance(value, list | tuple) and value and not isinstance(value[0], int | type(None)):
        return [keras_shape(v) for v in value]
    return tuple(value.shape) if hasattr(value, "shape") else tuple(value)


def count(weights: list[Any]) -> int:
    return sum(int(w.numpy().size) for w in weights)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_matches_keras(case: Any) -> None:
    rep = infer(SHAPE_TESTS.resolved(SHAPE_TESTS.spec_text(case)))
    (inferred,) = rep.models.values()
    model, tensors, layers = build_case(case)
    for name, tensor in tensors.items():
        node = inferred.nodes[name]
        assert node.checked, name
        assert node.shape == keras_shape(tensor), name
        if name in layers:
            assert (node.params, node.non_trainable) == (
                layers[name].count_params(),
                count(layers[name].non_trainable_weights),
            ), name
    assert inferred.params == model.count_params()
    assert inferred.trainable == count(model.trainable_weights)
    assert inferred.non_trainable == count(model.non_trainable_weights)


# -- every spec of specs/, through the compiler ---------------------------------------------------------------------
def _as_lists(shape: Any) -> Any:
    if isinstance(shape, list):
        return [_as_lists(s) for s in shape]
    return list(shape)


@pytest.mark.parametrize("path", SPECS, ids=[str(p.relative_to(ROOT / "specs")) for p in SPECS])
def test_spec_matches_the_compiled_model(path: Path) -> None:
    from kspec import compiler

    resolved = load(path)
    rep = infer(resolved)
    assert [e for e in rep.errors if e.severity == "error"] == []
    try:
        compiled = compiler.build(resolved)
    except SpecErrors as exc:
        if any(word in str(exc).lower() for word in ("download", "url", "http", "connection")):
            pytest.skip(f"{path.name} needs the network to build: {exc}")  # pretrained weights
        raise
    summary = {m["name"]: m for m in compiler.summarize(compiled, path.stem)["models"]}
    unchecked: list[str] = []
    for name, inferred in rep.models.items():
        built = summary[name]
        layers = {lay["name"]: lay for lay in built["layers"]}
        for node in inferred.nodes.values():
            if node.kind in ("input", "use"):
                continue
            if not node.checked:
                unchecked.append(f"{name}.{node.name} ({node.type})")
                continue
            assert node.shape is not None
            # a nested model called under other names (shared towers) is one Keras layer named after the model
            layer = layers[node.name] if node.name in layers or node.kind != "model" else layers[node.type]
            assert _as_lists(node.shape) == layer["output_shape"], f"{name}.{node.name}"
            assert node.params == layer["params"], f"{name}.{node.name}"
        if inferred.params is not None:
            assert (inferred.params, inferred.trainable, inferred.non_trainable) == (
                built["params"], built["trainable_params"], built["non_trainable_params"]), name  # fmt: skip
        if all(s is not None for s in inferred.outputs.values()):
            assert [_as_lists(s) for s in inferred.outputs.values()] == built["outputs"], name
        else:  # an unchecked (e.g. plugin, multi-output) layer leaves the output count to Keras
            unchecked.append(f"{name} outputs")
    if unchecked:
        print(f"{path.name}: {len(unchecked)} unchecked node(s): {', '.join(unchecked)}")


# -- sweeps over whole rule families --------------------------------------------------------------------------------
def _required(cls: Any) -> dict[str, Any]:
    import inspect

    params = inspect.signature(cls.__init__).parameters.values()
    required = [p.name for p in params if p.default is inspect.Parameter.empty and p.name not in ("self", "kwargs")]
    special = {"activation": "relu", "factor": 4 if cls.__name__ == "RandomPosterization" else 0.1}
    return {name: special.get(name, 0.1) for name in required}


@pytest.mark.parametrize("name", SHAPE_PRESERVING)
def test_shape_preserving_layers_keep_shape_and_have_no_weights(name: str) -> None:
    layer = getattr(keras.layers, name)(**_required(getattr(keras.layers, name)))
    x = keras.Input((8, 8, 3))
    assert tuple(layer(x).shape) == (None, 8, 8, 3)
    assert layer.count_params() == 0
    assert lookup(name) is not None


_OP_ARGS = {"cast": {"dtype": "float16"}, "clip": {"x_min": 0, "x_max": 1}, "full_like": {"fill_value": 1},
            "roll": {"shift": 1}}  # fmt: skip


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if catalog.op_info(n) is not None])
def test_elementwise_ops_broadcast_like_keras(name: str) -> None:
    info = catalog.op_info(name)
    assert info is not None
    shapes = [(None, 3, 4), (4,), (3, 1)][: max(1, len(info.tensors))]
    tensors = [keras.Input(s[1:]) if s[0] is None else keras.Input(s, batch_size=None) for s in shapes]
    expected = tuple(getattr(keras.ops, name)(*tensors, **_OP_ARGS.get(name, {})).shape)
    inferred = OP_RULES[name](name, _OP_ARGS.get(name, {}), [tuple(t.shape) for t in tensors])
    assert inferred == expected


def test_every_layer_rule_is_held_against_keras() -> None:
    """A rule without a Keras-checked case would be an unverified claim."""
    exercised = set(SHAPE_PRESERVING)
    for case in CASES:
        for entry in case.layers:
            for kind in ("type: ", "layer: {type: ", "backward_layer: {type: "):
                if kind in entry:
                    word = entry.split(kind, 1)[1].split(",")[0].split("}")[0]
                    exercised.add(ALIASES.get(word, word))
    assert set(RULES) - exercised - {"InputLayer"} == set()
