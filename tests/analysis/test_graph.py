from __future__ import annotations

import textwrap

from kspec.analysis.graph import Resolved, resolve, snake_case
from kspec.lang.loader import parse_text
from kspec.lang.spec import parse


def resolved(text: str) -> tuple[Resolved, list]:  # type: ignore[type-arg]
    doc = parse_text(textwrap.dedent(text))
    return resolve(doc, parse(doc.data))


def test_snake_case_matches_keras_auto_names() -> None:
    assert snake_case("Conv2D") == "conv2d"
    assert snake_case("BatchNormalization") == "batch_normalization"
    assert snake_case("MaxPooling2D") == "max_pooling2d"
    assert snake_case("UpSampling2D") == "up_sampling2d"


def test_sequential_chaining_and_auto_names() -> None:
    res, errors = resolved("""
        kspec: 1
        name: ann
        model:
          inputs: {x: {shape: [784]}}
          layers:
            - {type: Dense, units: 100}
            - {type: Dense, units: 10, name: probs}
            - {type: Dense, units: 3}
    """)
    assert errors == []
    graph = res.models["ann"]
    assert [(n.name, n.inputs) for n in graph.order()] == [
        ("x", []),
        ("dense", ["x"]),
        ("probs", ["dense"]),
        ("dense_1", ["probs"]),
    ]
    assert graph.outputs == ["dense_1"]


def test_repeat_unrolls_with_numbered_names() -> None:
    res, errors = resolved("""
        kspec: 1
        name: r
        model:
          inputs: {x: {shape: [4]}}
          layers:
            - {type: Dense, units: 8, name: h, repeat: 3}
    """)
    assert errors == []
    assert [n.name for n in res.models["r"].order()] == ["x", "h_1", "h_2", "h_3"]


def test_blocks_expand_with_params_and_two_inputs() -> None:
    res, errors = resolved("""
        kspec: 1
        name: u
        blocks:
          conv:
            params: {filters: null, act: tanh}
            layers:
              - {type: Conv2D, filters: "${filters}", kernel_size: 3, padding: same}
              - {type: Activation, activation: "${act}"}
          up:
            params: {filters: null}
            inputs: [x, skip]
            layers:
              - {type: UpSampling2D, name: up}
              - {type: Concatenate, inputs: [up, skip]}
              - {block: conv, name: c, filters: "${filters}"}
        model:
          inputs: {img: {shape: [32, 32, 1]}}
          layers:
            - {block: conv, name: c1, filters: 16}
            - {type: MaxPooling2D}
            - {block: conv, name: c2, filters: 32}
            - {block: up, name: d1, inputs: [c2, c1], filters: 16}
    """)
    assert errors == []
    nodes = res.models["u"].nodes
    assert nodes["c1_conv2d"].args["filters"] == 16
    assert nodes["c2_conv2d"].args["filters"] == 32
    assert nodes["d1_up"].inputs == ["c2_activation"]
    assert nodes["d1_concatenate"].inputs == ["d1_up", "c1_activation"]
    assert nodes["d1_c_conv2d"].block == ("d1", "c")
    assert nodes["d1_c_activation"].args["activation"] == "tanh"
    assert res.models["u"].outputs == ["d1_c_activation"]


def test_block_errors_unknown_and_missing_params() -> None:
    _, errors = resolved("""
        kspec: 1
        name: b
        blocks:
          conv:
            params: {filters: null}
            layers: [{type: Conv2D, filters: "${filters}", kernel_size: 3}]
        model:
          inputs: {x: {shape: [8, 8, 1]}}
          layers:
            - {block: conv, filtres: 3}
            - {block: cnov}
    """)
    codes = sorted(e.code for e in errors)
    assert codes == ["missing-argument", "unknown-argument", "unknown-block"]
    unknown = next(e for e in errors if e.code == "unknown-argument")
    assert unknown.hint == "did you mean 'filters'?"


def test_defaults_apply_and_remember_where_they_came_from() -> None:
    res, _ = resolved("""
        kspec: 1
        name: d
        defaults: {Conv2D: {padding: same, activation: relu}}
        model:
          inputs: {x: {shape: [8, 8, 1]}}
          layers:
            - {type: Conv2D, filters: 4, kernel_size: 3, activation: tanh}
    """)
    node = res.models["d"].nodes["conv2d"]
    assert node.args == {"padding": "same", "activation": "tanh", "filters": 4, "kernel_size": 3}
    assert node.arg_paths["padding"] == ("defaults", "Conv2D", "padding")
    assert node.arg_paths["activation"] == ("model", "layers", 0, "activation")


def test_models_nest_and_share_layers() -> None:
    res, errors = resolved("""
        kspec: 1
        name: ae
        models:
          autoencoder:
            inputs: {x: {shape: [784]}}
            layers:
              - {type: Dense, name: code, units: 36}
              - {type: Dense, name: recon, units: 784}
          encoder:
            inputs: {x: {shape: [784]}}
            layers: [{use: code}]
          decoder:
            inputs: {z: {shape: [36]}}
            layers: [{use: recon}]
          stacked:
            layers:
              - {model: encoder}
              - {model: decoder, trainable: false}
    """)
    assert errors == []
    assert res.models["encoder"].nodes["code"].kind == "use"
    stacked = res.models["stacked"]
    assert stacked.inputs == ["x"]
    assert [n.name for n in stacked.order()] == ["x", "encoder", "decoder"]
    assert res.model_order().index("encoder") < res.model_order().index("stacked")
    assert res.main == "stacked"
