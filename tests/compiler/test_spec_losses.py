"""`FormulaLoss`: a `losses:` formula evaluated with keras.ops equals the same loss written in Keras, reduces and
weighs as Keras's losses do, and saves and loads with the model (its formula read again, never run as code)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.keras

keras = pytest.importorskip("keras")

from kspec.compiler.spec_losses import FormulaLoss, FormulaMetric  # noqa: E402
from kspec.lang.formula import FormulaError  # noqa: E402

CONTRASTIVE = "(1 - y_true) * square(y_pred) + y_true * square(maximum(margin - y_pred, 0))"
RNG = np.random.default_rng(0)


def keras_io_contrastive(margin: float = 1.0):  # type: ignore[no-untyped-def]
    """keras.io's "Siamese Network with a contrastive loss", in Keras 3 ops."""

    def contrastive_loss(y_true, y_pred):  # type: ignore[no-untyped-def]
        square_pred = keras.ops.square(y_pred)
        margin_square = keras.ops.square(keras.ops.maximum(margin - y_pred, 0))
        return keras.ops.mean((1 - y_true) * square_pred + y_true * margin_square)

    return contrastive_loss


def _pairs(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    return (RNG.random(n) > 0.5).astype("float32"), RNG.random((n, 1)).astype("float32")


def _compiled_loss(loss: object, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The loss `Model.evaluate` reports for predictions `y_pred` (a model that passes its input through)."""
    inputs = keras.Input(y_pred.shape[1:])
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    model.compile(loss=loss)
    return float(model.evaluate(y_pred, y_true, batch_size=len(y_true), verbose=0))


@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_contrastive_formula_equals_the_keras_io_loss(margin: float) -> None:
    y_true, y_pred = _pairs()
    ours = float(FormulaLoss(CONTRASTIVE, {"margin": margin})(y_true, y_pred))
    theirs = _compiled_loss(keras_io_contrastive(margin), y_true, y_pred)  # what Keras makes of the function
    assert _compiled_loss(FormulaLoss(CONTRASTIVE, {"margin": margin}), y_true, y_pred) == pytest.approx(theirs)
    by_hand = np.mean((1 - y_true) * y_pred[:, 0] ** 2 + y_true * np.maximum(margin - y_pred[:, 0], 0) ** 2)
    assert ours == pytest.approx(theirs, rel=1e-6) and ours == pytest.approx(float(by_hand), rel=1e-6)


def test_sample_weights_and_reduction_as_keras_losses() -> None:
    y_true, y_pred = RNG.random((8, 3)).astype("float32"), RNG.random((8, 3)).astype("float32")
    weights = RNG.random(8).astype("float32")
    ours = FormulaLoss("mean(square(y_true - y_pred), axis=-1)", name="my_mse")
    mse = keras.losses.MeanSquaredError()
    assert float(ours(y_true, y_pred, weights)) == pytest.approx(float(mse(y_true, y_pred, weights)), rel=1e-6)
    total = FormulaLoss("square(y_true - y_pred)", reduction="sum")
    assert float(total(y_true, y_pred)) == pytest.approx(float(np.sum((y_true - y_pred) ** 2)), rel=1e-5)


def test_lists_keywords_and_constants_reach_the_ops() -> None:
    y_true, y_pred = RNG.random((4, 2)).astype("float32"), RNG.random((4, 2)).astype("float32")
    text = "-sum(concatenate([y_true, y_pred], axis=-1) ** 2, axis=-1, keepdims=True) / scale + power(2, y_pred)"
    loss = FormulaLoss(text, {"scale": 4}, reduction="none")
    want = -np.sum(np.concatenate([y_true, y_pred], -1) ** 2, -1)[:, None] / 4 + 2.0**y_pred
    np.testing.assert_allclose(loss(y_true, y_pred), want, rtol=1e-5)


def test_saved_model_loads_with_its_formula_loss(tmp_path: Path) -> None:
    import subprocess
    import sys

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    model.compile(optimizer="adam", loss=FormulaLoss(CONTRASTIVE, {"margin": 0.5}, name="contrastive"))
    x, (y, _) = RNG.random((16, 4)).astype("float32"), _pairs()
    want = model.evaluate(x, y, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    code = (
        "import sys, numpy as np, keras, kspec.compiler.kspec_layers\n"
        f"m = keras.saving.load_model({str(path)!r}); d = np.load({str(tmp_path / 'd.npz')!r})\n"
        "print(m.loss.name, m.loss.params['margin'], m.evaluate(d['x'], d['y'], verbose=0))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert out[:2] == ["contrastive", "0.5"] and float(out[2]) == pytest.approx(want, rel=1e-5)


def test_a_tampered_formula_in_a_saved_model_is_refused_not_run(tmp_path: Path) -> None:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="adam", loss=FormulaLoss("square(y_true - y_pred)"))
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        files = {name: z.read(name) for name in z.namelist()}
    config = json.loads(files["config.json"])
    marker = tmp_path / "ran"
    config["compile_config"]["loss"]["config"]["formula"] = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    with pytest.raises(FormulaError):
        FormulaLoss.from_config(config["compile_config"]["loss"]["config"])
    try:
        keras.saving.load_model(path)
    except Exception:  # noqa: BLE001  # Keras wraps the refusal; what matters is that nothing ran
        pass
    assert not marker.exists()


def test_a_formula_as_a_metric_is_the_mean_of_its_values() -> None:
    y_true, y_pred = RNG.random((8, 3)).astype("float32"), RNG.random((8, 3)).astype("float32")
    ours = FormulaMetric("mean(square(y_true - y_pred), axis=-1)", name="my_mse")
    keras_mse = keras.metrics.MeanSquaredError()
    for half in (slice(0, 4), slice(4, 8)):
        ours.update_state(y_true[half], y_pred[half])
        keras_mse.update_state(y_true[half], y_pred[half])
    assert float(ours.result()) == pytest.approx(float(keras_mse.result()), rel=1e-6)
    again = FormulaMetric.from_config(ours.get_config())
    assert (again.name, again.formula) == ("my_mse", ours.formula)
