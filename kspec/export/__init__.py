"""Stage: deployment formats. A trained model (a run folder, a `.keras` file, or a spec plus weights) exported through
Keras's own `Model.export` to SavedModel, LiteRT or ONNX, and checked against Keras with each format's own runtime.

Imports keras only inside the functions (the package is imported by the CLI, which stays light).
"""

from __future__ import annotations

from kspec.export.check import compare
from kspec.export.formats import FORMATS, ExportError, Format, export
from kspec.export.source import load_source

__all__ = ["FORMATS", "ExportError", "Format", "compare", "export", "load_source"]
