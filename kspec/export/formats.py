"""The export formats (a registry) and the export itself, through `keras.Model.export`."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras


class ExportError(RuntimeError):
    """An export that cannot be made (missing package, existing output, unsupported model)."""


@dataclass(frozen=True)
class Format:
    """One deployment format: its Keras `export` name, default file name, what it is for and what it needs."""

    name: str
    keras_format: str
    filename: str
    purpose: str
    runtime: str
    needs: tuple[str, ...] = ()
    extra: str = ""


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("savedmodel", "tf_saved_model", "savedmodel", "TensorFlow Serving, TFX and the TF.js/TF-TRT converters",
               "tf.saved_model.load"),
        Format("litert", "litert", "model.tflite", "phones, browsers, microcontrollers and other edge devices "
               "(LiteRT, formerly TensorFlow Lite)", "LiteRT interpreter"),
        Format("onnx", "onnx", "model.onnx", "ONNX Runtime, TensorRT, OpenVINO and other frameworks' tools",
               "onnxruntime", needs=("tf2onnx", "onnx"), extra="onnx"),
    )
}  # fmt: skip


def export(model: keras.Model, fmt: str, out: Path, *, overwrite: bool = False) -> Path:
    """Export `model` to `out` in format `fmt` (a key of FORMATS) with `model.export`; return `out`."""
    spec = FORMATS[fmt]
    missing = [m for m in spec.needs if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f'{fmt} export needs {", ".join(missing)}: pip install "kspec[{spec.extra}]"')
    if out.exists():
        if not overwrite:
            raise ExportError(f"{out} exists; pass --force to replace it")
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    from kspec.export.inputs import sample_inputs

    xs = sample_inputs(model, batch=1)
    model(xs if len(xs) > 1 else xs[0], training=False)  # ONNX export wants a model that has been called
    model.export(str(out), format=spec.keras_format, verbose=False)
    return out


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file below a folder (a SavedModel)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
