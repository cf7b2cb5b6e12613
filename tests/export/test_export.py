"""`kspec export`: each artifact loaded by its own runtime (TensorFlow's SavedModel loader, the LiteRT interpreter,
onnxruntime) and compared with the Keras model on the same real inputs (scikit-learn's digits)."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import kspec
from kspec.cli import main
from kspec.training import trainer

pytestmark = pytest.mark.keras

SPEC: dict[str, Any] = {
    "kspec": 1,
    "name": "exported",
    "model": {
        "inputs": {"x": {"shape": [64]}},
        "layers": [
            {"type": "Dense", "name": "hidden", "units": 16, "activation": "relu"},
            {"type": "Dropout", "rate": 0.1},
            {"type": "Dense", "name": "probs", "units": 10, "activation": "softmax"},
        ],
    },
    "data": {"source": "digits",
             "preprocess": [{"type": "scale", "divide": 16}, "one_hot", {"type": "take", "count": 300}]},
    "train": {"loss": "categorical_crossentropy", "epochs": 1, "batch_size": 50, "seed": 0, "plots": "none",
              "jit_compile": False},
}  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real (one-epoch) training run, its Keras model, and digits to feed it."""
    import keras
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("export")
    spec = folder / "exported.yaml"
    spec.write_text(yaml.safe_dump(copy.deepcopy(SPEC), sort_keys=False))
    result = trainer.train(kspec.load(spec), out=folder / "run")
    model = keras.saving.load_model(result.run_dir / "model.keras", compile=False)
    x = (load_digits().data[:7] / 16).astype("float32")
    return {"dir": result.run_dir, "spec": spec, "model": model, "x": x, "expected": np.asarray(model(x))}


def _export(*args: str) -> None:
    assert main(["export", *args]) == 0


def test_savedmodel_loads_with_tensorflow(run: dict[str, Any], tmp_path: Path) -> None:
    import tensorflow as tf

    _export(str(run["dir"]), "--format", "savedmodel", "-o", str(tmp_path / "sm"))
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    np.testing.assert_allclose(loaded.serve(run["x"]).numpy(), run["expected"], atol=1e-6)


def test_litert_runs_in_the_litert_interpreter(run: dict[str, Any]) -> None:
    from ai_edge_litert.interpreter import Interpreter

    _export(str(run["dir"]), "--format", "litert")  # default: RUN/export/model.tflite
    interpreter = Interpreter(model_path=str(run["dir"] / "export" / "model.tflite"))
    runner = interpreter.get_signature_runner("serving_default")
    [name] = runner.get_input_details()
    [out] = runner(**{name: run["x"]}).values()
    np.testing.assert_allclose(out, run["expected"], atol=1e-5)


def test_onnx_runs_in_onnxruntime(run: dict[str, Any], tmp_path: Path) -> None:
    import onnxruntime

    _export(str(run["dir"] / "model.keras"), "--format", "onnx", "-o", str(tmp_path / "m.onnx"))
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    [out] = session.run(None, {session.get_inputs()[0].name: run["x"]})
    np.testing.assert_allclose(out, run["expected"], atol=1e-5)


def test_spec_plus_weights_exports_the_trained_model(
    run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import onnxruntime

    weights = tmp_path / "trained.weights.h5"
    run["model"].save_weights(weights)
    _export(str(run["spec"]), str(weights), "--format", "onnx", "-o", str(tmp_path / "w.onnx"), "--check")
    assert "checked with onnxruntime: largest |difference| from Keras" in capsys.readouterr().out
    session = onnxruntime.InferenceSession(str(tmp_path / "w.onnx"), providers=["CPUExecutionProvider"])
    [out] = session.run(None, {session.get_inputs()[0].name: run["x"]})
    np.testing.assert_allclose(out, run["expected"], atol=1e-5)


def test_refusals_are_one_line_errors(
    run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "x.tflite"
    _export(str(run["dir"]), "--format", "litert", "-o", str(target))
    assert main(["export", str(run["dir"]), "--format", "litert", "-o", str(target)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["export", str(run["dir"]), str(target), "--format", "onnx"]) == 1
    assert "weights go with a spec" in capsys.readouterr().err
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    assert main(["export", str(run["dir"]), "--format", "onnx", "-o", str(tmp_path / "n.onnx")]) == 1
    assert 'pip install "kspec[onnx]"' in capsys.readouterr().err
