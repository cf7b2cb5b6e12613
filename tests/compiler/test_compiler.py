"""The compiler: functional models named like the spec, located Keras errors, portable .keras files."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import kspec
from kspec import compiler
from kspec.cli import main
from kspec.errors import SpecErrors

pytestmark = pytest.mark.keras

MLP = """
kspec: 1
name: mlp
model:
  inputs: {x: {shape: [6]}}
  layers:
    - {type: Dense, name: hidden, units: 5, activation: relu, kernel_initializer: {type: HeNormal, seed: 1}}
    - {type: Dropout, rate: 0.1}
    - {type: Dense, name: out, units: 3, activation: softmax}
"""

STATS = """
kspec: 1
name: stats
model:
  inputs: {x: {shape: [10]}}
  layers:
    - {op: mean, name: centre, axis: -1, keepdims: true}
    - {op: subtract, name: dev, inputs: [x, centre]}
    - {op: square, name: sq}
    - {type: Concatenate, name: feats, inputs: [x, sq]}
    - {type: Dense, name: score, units: 1, activation: sigmoid}
"""

GAN = """
kspec: 1
name: gan
models:
  generator:
    inputs: {z: {shape: [4]}}
    layers:
      - {type: Dense, name: g1, units: 8, activation: relu}
      - {type: Dense, name: g2, units: 6}
  discriminator:
    inputs: {sample: {shape: [6]}}
    layers:
      - {type: Dense, name: d1, units: 8, activation: relu}
      - {type: Dense, name: d2, units: 1, activation: sigmoid}
  gan:
    layers:
      - {model: generator}
      - {model: discriminator, trainable: false}
"""


def test_layer_names_are_the_spec_names(write_spec: Callable[..., Path]) -> None:
    compiled = kspec.build(write_spec(MLP))
    model = compiled.model
    assert [layer.name for layer in model.layers] == ["x", "hidden", "dropout", "out"]
    assert type(model).__name__ == "Functional"


def test_summary_json_shape_and_counts(write_spec: Callable[..., Path]) -> None:
    summary = compiler.summarize(kspec.build(write_spec(MLP)), "mlp")
    (model,) = summary["models"]
    assert model["params"] == 6 * 5 + 5 + 5 * 3 + 3
    assert model["trainable_params"] == model["params"] and model["non_trainable_params"] == 0
    assert model["inputs"] == [[None, 6]] and model["outputs"] == [[None, 3]]
    assert model["layers"][0] == {"name": "hidden", "class": "Dense", "output_shape": [None, 5], "params": 35}


def test_ops_build_with_spec_names_and_compute_the_statistics(write_spec: Callable[..., Path]) -> None:
    model = kspec.build(write_spec(STATS)).model
    assert [op.name for op in model.operations][:4] == ["x", "centre", "dev", "sq"]
    x = np.arange(20, dtype="float32").reshape(2, 10)
    feats = model.get_layer("feats")
    probe = type(model)(model.inputs[0], feats.output)
    got = np.asarray(probe(x))
    want = np.concatenate([x, (x - x.mean(-1, keepdims=True)) ** 2], axis=-1)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_frozen_nested_model_counts_as_non_trainable_only_inside_the_gan(write_spec: Callable[..., Path]) -> None:
    compiled = kspec.build(write_spec(GAN))
    models = {m["name"]: m for m in compiler.summarize(compiled, "gan")["models"]}
    d_params = 6 * 8 + 8 + 8 + 1
    assert models["discriminator"]["non_trainable_params"] == 0
    assert models["gan"]["non_trainable_params"] == d_params
    assert models["gan"]["trainable_params"] == 4 * 8 + 8 + 8 * 6 + 6
    assert compiled.models["discriminator"].trainable


def test_saved_model_loads_without_kspec(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    out = tmp_path / "stats.keras"
    assert main(["build", str(write_spec(STATS)), "-o", str(out), "--json"]) == 0
    script = (
        "import sys, numpy as np, keras\n"
        f"m = keras.saving.load_model({str(out)!r})\n"
        "print(m(np.ones((1, 10), 'float32')).shape)\n"
        "assert not any(k.startswith('kspec') for k in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(1, 1)" in result.stdout


def test_keras_errors_come_back_located(write_spec: Callable[..., Path]) -> None:
    path = write_spec("""
        kspec: 1
        name: window
        model:
          inputs: {x: {shape: [64, 1]}}
          layers:
            - {type: Dense, units: 1}
            - {type: STFTSpectrogram, name: stft, frame_length: 16, window: bogus}
    """)
    # Keras refuses an unknown window name only in its constructor, and its message lists no names to check against
    with pytest.raises(SpecErrors) as info:
        kspec.validate(path, deep=True)
    (err,) = [e for e in info.value.errors if e.severity == "error"]
    assert err.code == "keras-rejected"
    assert (err.file, err.line) == (str(path), 7)
    assert "stft" in err.message and "window" in err.message


def test_attention_without_value_is_refused_statically(write_spec: Callable[..., Path]) -> None:
    """MultiHeadAttention on one tensor used to validate and then fail in Keras; it is now a static error."""
    path = write_spec("""
        kspec: 1
        name: attn
        model:
          inputs: {x: {shape: [5, 8]}}
          layers:
            - {type: Dense, units: 8}
            - {type: MultiHeadAttention, name: mha, num_heads: 2, key_dim: 4}
    """)
    with pytest.raises(SpecErrors) as info:
        kspec.validate(path)
    (err,) = [e for e in info.value.errors if e.severity == "error"]
    assert (err.code, err.line) == ("missing-argument", 7)
    assert "'value'" in err.message


def test_build_json_cli(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(write_spec(MLP)), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["name"] == "spec" and doc["models"][0]["name"] == "mlp"


def test_build_opens_no_network_connection(write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("kspec build opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    root = Path(__file__).resolve().parents[2]
    for name in ("ch04_cnn_mnist", "ch07_gan_cnn_mnist", "ch09_2_vgg16_transfer"):
        assert main(["build", str(root / "specs" / f"{name}.yaml"), "--json"]) == 0
    assert main(["build", str(write_spec(MLP)), "--json"]) == 0


_LOOKUP = """
kspec: 1
name: lookup
model:
  inputs: {{x: {{shape: [1], dtype: {dtype}}}}}
  layers:
    - {{type: {layer}, vocabulary: {vocabulary}}}
"""


def test_a_vocabulary_file_inside_the_folder_builds_and_travels_in_the_archive(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / "vocab.txt").write_text("red\ngreen\nblue\n")
    spec = write_spec(_LOOKUP.format(dtype="string", layer="StringLookup", vocabulary="vocab.txt"))
    model = kspec.build(spec).model
    assert model.layers[-1].get_vocabulary() == ["[UNK]", "red", "green", "blue"]
    assert main(["build", str(spec), "-o", str(tmp_path / "m.keras")]) == 0


def test_a_vocabulary_outside_the_folder_is_refused_by_build_too(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    """`kspec build` checks first; the compiler confines the path again (a spec built without `check`)."""
    (tmp_path / "outside").symlink_to("/etc")
    spec = write_spec(_LOOKUP.format(dtype="string", layer="StringLookup", vocabulary="outside/passwd"))
    with pytest.raises(SpecErrors) as info:
        kspec.build(spec)
    (err,) = info.value.errors
    assert (err.code, err.path) == ("bad-path", ("model", "layers", 0, "vocabulary"))
    with pytest.raises(SpecErrors) as info:
        kspec.compile_resolved(kspec.load(spec))  # no static check: the compiler refuses it itself
    (err,) = info.value.errors
    assert (err.code, err.line) == ("bad-path", 6)


def test_a_rejected_vocabulary_file_is_named_but_never_quoted(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    secret = "root:x:0:0:root:/root:/bin/bash"
    (tmp_path / "vocab.txt").write_text(secret + "\n")
    spec = write_spec(_LOOKUP.format(dtype="int64", layer="IntegerLookup", vocabulary="vocab.txt"))
    with pytest.raises(SpecErrors) as info:
        kspec.build(spec)
    (err,) = info.value.errors
    assert err.code == "keras-rejected" and "vocab.txt" in err.message
    assert "0:0" not in str(err) and "bin/bash" not in str(err)
    cli = subprocess.run([sys.executable, "-m", "kspec", "build", str(spec)], capture_output=True, text=True)
    assert cli.returncode == 1 and "keras-rejected" in cli.stdout + cli.stderr
    assert "bin/bash" not in cli.stdout + cli.stderr  # nor in TensorFlow's own log lines
