"""`kspec import` on `.keras` files: shared layers, nested and frozen models, several inputs and outputs; code-running
layers reported by name and config path; `--allow-partial`; `init:` weights that do not fit."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.keras

keras = pytest.importorskip("keras")

import kspec  # noqa: E402
from kspec.cli import main  # noqa: E402
from kspec.porting import roundtrip  # noqa: E402


def siamese() -> keras.Model:
    """Two inputs through one shared Dense, a frozen nested Sequential, two outputs."""
    a = keras.Input((6,), name="left")
    b = keras.Input((6,), name="right")
    shared = keras.layers.Dense(8, activation="relu", name="shared")
    tower = keras.Sequential([keras.Input((16,)), keras.layers.Dense(4, name="t1"), keras.layers.Dense(4, name="t2")],
                             name="tower")  # fmt: skip
    tower.trainable = False
    joined = keras.layers.Concatenate(name="joined")([shared(a), shared(b)])
    score = keras.layers.Dense(1, activation="sigmoid", name="score")(tower(joined))
    diff = keras.layers.Subtract(name="diff")([a, b])
    return keras.Model([a, b], [score, diff], name="siamese")


def test_keras_file_round_trip_with_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = siamese()
    source = tmp_path / "siamese.keras"
    original.save(source)
    out = tmp_path / "spec" / "siamese.yaml"
    out.parent.mkdir()
    assert main(["import", str(source), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "siamese.weights.h5" in printed
    text = out.read_text()
    assert "{use: shared" in text and "{model: tower" in text and "trainable: false" in text
    assert main(["validate", str(out)]) == 0
    compiled = kspec.build(out)
    loaded = keras.saving.load_model(source)
    with compiled.freezing(compiled.main):
        assert roundtrip.differences(loaded, compiled.model) == []
    assert roundtrip.max_output_difference(loaded, compiled.model) == 0.0
    assert main(["import", str(source), "-o", str(out)]) == 2  # exists: --force needed
    assert "--force" in capsys.readouterr().err


def test_tensors_by_call_argument_and_selected_outputs(tmp_path: Path) -> None:
    x = keras.Input((5, 8), name="x")
    mask = keras.Input((5, 5), name="m", dtype="bool")
    att = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(x, x, attention_mask=mask)
    seq, h, c = keras.layers.LSTM(6, return_sequences=True, return_state=True, name="lstm")(att)
    both = keras.layers.Concatenate(name="cat")([h, c])
    source = tmp_path / "attn.keras"
    keras.Model([x, mask], [seq, both], name="attn").save(source)
    out = tmp_path / "attn.yaml"
    assert main(["import", str(source), "-o", str(out)]) == 0
    text = out.read_text()
    assert "inputs: {query: x, value: x, attention_mask: m}" in text
    assert "inputs: ['lstm[1]', 'lstm[2]']" in text and "outputs: ['lstm[0]', cat]" in text
    compiled = kspec.build(out)
    loaded = keras.saving.load_model(source)
    assert roundtrip.differences(loaded, compiled.model) == []
    assert roundtrip.max_output_difference(loaded, compiled.model) == 0.0


def test_lambda_is_reported_and_partial_spec_does_not_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = keras.Input((4,), name="x")
    y = keras.layers.Dense(3, name="d")(x)
    y = keras.layers.Lambda(lambda t: t * 2.0, name="twice")(y)
    source = tmp_path / "lam.keras"
    keras.Model(x, y).save(source)
    out = tmp_path / "lam.yaml"
    assert main(["import", str(source), "-o", str(out)]) == 1
    printed = capsys.readouterr()
    assert "layer 'twice' (Lambda) runs arbitrary code" in printed.out
    assert "config.layers[2]" in printed.out and "[unsafe-layer]" in printed.out
    assert not out.exists() and not (tmp_path / "lam.weights.h5").exists()
    assert main(["import", str(source), "-o", str(out), "--allow-partial"]) == 1
    assert "NOT-IMPORTED:Lambda" in out.read_text()
    capsys.readouterr()
    assert main(["validate", str(out)]) == 1
    assert "[unknown-layer]" in capsys.readouterr().out


def test_application_arguments_and_weights_that_do_not_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mobilenet.yaml"
    args = ["import", "keras.applications.MobileNet", "--arg", "input_shape=[32, 32, 3]", "--arg", "alpha=0.25"]
    assert main([*args, "--arg", "classes=7", "-o", str(out)]) == 0
    assert "units: 7" in out.read_text() or "filters: 7" in out.read_text()
    capsys.readouterr()
    other = tmp_path / "other.yaml"
    assert main([*args, "--arg", "classes=5", "-o", str(other)]) == 0
    text = out.read_text().replace("mobilenet.weights.h5", "other.weights.h5")
    out.write_text(text)
    assert main(["validate", str(out)]) == 0
    capsys.readouterr()
    assert main(["build", str(out)]) == 1
    err = capsys.readouterr().out
    assert "[weights-error]" in err and "other.weights.h5" in err
