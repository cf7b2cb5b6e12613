"""What to export: a run folder's `model.keras`, a `.keras` file, or a spec built with Keras plus a weights file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kspec.export.formats import ExportError

if TYPE_CHECKING:
    import keras

RUN_MODEL = "model.keras"


def load_source(
    source: Path, weights: Path | None = None, *, model: str | None = None, overrides: Sequence[str] = ()
) -> keras.Model:
    """The Keras model to export.

    Args:
        source: a run folder (its `model.keras`), a `.keras` file, or a spec file.
        weights: for a spec: a `.weights.h5` or `.keras` file whose weights the built model takes.
        model: for a spec with several models: which one (default: the main model).
        overrides: `--set` values for the spec.
    """
    import keras

    if source.is_dir():
        source = source / RUN_MODEL
        if not source.is_file():
            raise ExportError(f"no {RUN_MODEL} in {source.parent}; pass a run folder, a .keras file or a spec")
    if source.suffix == ".keras":
        if weights is not None:
            raise ExportError("weights go with a spec; a .keras file or run folder has its own")
        try:
            return keras.saving.load_model(source, compile=False)
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise ExportError(f"cannot load {source} ({type(exc).__name__}); `kspec verify` checks a run") from None
    import kspec

    compiled = kspec.build(source, overrides)
    name = model or compiled.main
    if name not in compiled.models:
        raise ExportError(f"no model named '{name}'; the spec has: {', '.join(compiled.models)}")
    built = compiled.models[name]
    if weights is not None:
        try:
            built.load_weights(weights)
        except (OSError, ValueError, KeyError) as exc:
            raise ExportError(f"cannot load the weights {weights} into '{name}': {str(exc).splitlines()[0]}") from None
    return built
