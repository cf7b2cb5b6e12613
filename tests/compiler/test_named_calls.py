"""Layers called with tensors by call argument (`inputs: {query: x, value: x}`), `call:` options and selected
outputs (`lstm.state_h`, `att[1]`): the compiled model equals hand-written Keras, and static inference equals Keras."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import kspec
from kspec import compiler
from kspec.analysis.shapes import infer

pytestmark = pytest.mark.keras

SPEC = """
kspec: 1
name: named_calls
model:
  inputs: {tokens: {shape: [6], dtype: int32}, mask: {shape: [6, 6], dtype: bool}}
  layers:
    - {type: Embedding, name: emb, input_dim: 50, output_dim: 8, inputs: [tokens]}
    - {type: MultiHeadAttention, name: att, num_heads: 2, key_dim: 4,
       inputs: {query: emb, value: emb, attention_mask: mask}}
    - {type: MultiHeadAttention, name: att2, num_heads: 2, key_dim: 4, inputs: [att, att],
       call: {return_attention_scores: true, use_causal_mask: true}}
    - {type: Attention, name: dot, use_scale: true, inputs: {query: att2.output, value: emb, key: att}}
    - {type: AdditiveAttention, name: add, inputs: [dot, emb]}
    - {type: LSTM, name: lstm, units: 5, return_state: true}
    - {type: Dense, name: h, units: 3, inputs: [lstm.state_h]}
    - {type: GroupedQueryAttention, name: gqa, head_dim: 3, num_query_heads: 4, num_key_value_heads: 2,
       inputs: {query: emb, value: att}}
    - {type: GlobalAveragePooling1D, name: pool}
  outputs: [h, pool, att2.scores, "lstm[2]"]
"""


def reference() -> object:
    import keras
    from keras import layers

    tokens = keras.Input((6,), dtype="int32", name="tokens")
    mask = keras.Input((6, 6), dtype="bool", name="mask")
    emb = layers.Embedding(50, 8, name="emb")(tokens)
    att = layers.MultiHeadAttention(2, 4, name="att")(emb, emb, attention_mask=mask)
    att2, scores = layers.MultiHeadAttention(2, 4, name="att2")(
        att, att, return_attention_scores=True, use_causal_mask=True
    )
    dot = layers.Attention(use_scale=True, name="dot")([att2, emb, att])
    add = layers.AdditiveAttention(name="add")([dot, emb])
    _, state_h, state_c = layers.LSTM(5, return_state=True, name="lstm")(add)
    h = layers.Dense(3, name="h")(state_h)
    gqa = layers.GroupQueryAttention(3, 4, 2, name="gqa")(emb, att)
    pool = layers.GlobalAveragePooling1D(name="pool")(gqa)
    return keras.Model([tokens, mask], [h, pool, scores, state_c])


def test_named_calls_equal_hand_written_keras(write_spec: Callable[..., Path]) -> None:
    resolved = kspec.load(write_spec(SPEC))
    model = compiler.build(resolved).model
    ref = reference()
    assert [type(op).__name__ for op in model.operations] == [type(op).__name__ for op in ref.operations]
    assert model.count_params() == ref.count_params()  # type: ignore[attr-defined]
    for layer in ref.layers:  # type: ignore[attr-defined]
        layer.set_weights(model.get_layer(layer.name).get_weights())
    rng = np.random.default_rng(0)
    x = [rng.integers(0, 50, (3, 6)).astype("int32"), rng.random((3, 6, 6)) > 0.3]
    for got, want in zip(model.predict(x, verbose=0), ref.predict(x, verbose=0), strict=True):  # type: ignore[attr-defined]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_static_inference_equals_keras(write_spec: Callable[..., Path]) -> None:
    resolved = kspec.load(write_spec(SPEC))
    report = infer(resolved)
    assert [e for e in report.errors if e.severity != "note"] == []
    summary = compiler.summarize(compiler.build(resolved), "named_calls")["models"][0]
    built = {layer["name"]: layer for layer in summary["layers"]}
    (shapes,) = report.models.values()
    for node in shapes.nodes.values():
        if node.kind == "input":
            continue
        assert node.checked, node.name
        want = built[node.name]["output_shape"]
        got = [list(s) for s in node.shape] if isinstance(node.shape, list) else list(node.shape)  # type: ignore[union-attr]
        assert (got, node.params) == (want, built[node.name]["params"]), node.name
    assert shapes.params == summary["params"]
    assert [list(s) for s in shapes.outputs.values()] == summary["outputs"]  # type: ignore[union-attr]
    assert list(shapes.outputs) == ["h", "pool", "att2[1]", "lstm[2]"]
