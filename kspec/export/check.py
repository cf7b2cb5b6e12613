"""An exported model checked with its own runtime against Keras on the same random inputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kspec.export.formats import ExportError
from kspec.export.inputs import sample_inputs

if TYPE_CHECKING:
    import keras
    import numpy as np


def _savedmodel(path: Path, xs: list[np.ndarray]) -> list[np.ndarray]:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # keep it referenced: its functions use its variables
    result = loaded.serve(*xs)
    return [r.numpy() for r in (result if isinstance(result, (list, tuple)) else [result])]


def _interpreter(path: Path) -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # the interpreter TensorFlow still bundles
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=str(path))


def _litert(path: Path, xs: list[np.ndarray]) -> list[np.ndarray]:
    runner = _interpreter(path).get_signature_runner()
    names = list(runner.get_input_details())
    outputs = runner(**dict(zip(names, xs, strict=True)))
    return [outputs[k] for k in sorted(outputs, key=lambda k: (len(k), k))]


def _onnx(path: Path, xs: list[np.ndarray]) -> list[np.ndarray]:
    try:
        import onnxruntime
    except ImportError:
        raise ExportError("checking an ONNX export needs onnxruntime: pip install onnxruntime") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: x for i, x in zip(session.get_inputs(), xs, strict=True)}
    return list(session.run(None, feed))


RUNTIMES: dict[str, Callable[[Path, list[Any]], list[Any]]] = {
    "savedmodel": _savedmodel,
    "litert": _litert,
    "onnx": _onnx,
}


def compare(model: keras.Model, fmt: str, path: Path, *, batch: int = 4, seed: int = 0) -> float:
    """The largest absolute difference between Keras's outputs and the exported model's (run by its own runtime)."""
    import numpy as np

    xs = sample_inputs(model, batch, seed)
    expected = model(xs if len(xs) > 1 else xs[0], training=False)
    expected = [np.asarray(e) for e in (expected if isinstance(expected, (list, tuple)) else [expected])]
    got = RUNTIMES[fmt](path, xs)
    if len(got) != len(expected):
        raise ExportError(f"the {fmt} model has {len(got)} outputs, the Keras model {len(expected)}")
    return max(float(np.max(np.abs(np.asarray(g, dtype=np.float64) - e))) for g, e in zip(got, expected, strict=True))
