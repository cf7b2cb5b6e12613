"""Stage: a SOURCE argument -> a serialised Keras model config and a way to its weights. Imports keras lazily.

`keras.applications.NAME` builds the application with `weights=None` (and the given `input_shape`, `classes`, ...);
`PATH.keras` is read as a zip archive: its `config.json` is parsed as data, nothing in it is deserialised.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APPLICATIONS = "keras.applications."


@dataclass
class Source:
    """A model to import: its serialised config, a label for the header, and how to get the Keras model (for its
    weights; only called when every layer could be expressed, so nothing that runs code is deserialised)."""

    config: dict[str, Any]
    label: str
    load_model: Callable[[], Any]


class SourceError(ValueError):
    """The SOURCE cannot be read (no such file or application, not a .keras archive, refused arguments)."""


def _error(message: str, hint: str | None = None) -> SourceError:
    return SourceError(f"{message} ({hint})" if hint else message)


def application_names() -> list[str]:
    from kspec import catalog

    return sorted(catalog.load().applications)


def load(text: str, options: dict[str, Any]) -> Source:
    if text.startswith(APPLICATIONS):
        return _application(text[len(APPLICATIONS) :], options)
    if options:
        raise _error("options (--arg) apply only to keras.applications sources", hint="drop --arg for a .keras file")
    return _archive(Path(text))


def _application(name: str, options: dict[str, Any]) -> Source:
    import difflib

    names = application_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        raise _error(
            f"keras.applications has no model '{name}'",
            hint=f"did you mean '{close[0]}'?" if close else "e.g. keras.applications.ResNet50",
        )
    import keras

    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    if options.pop("weights", None) not in (None,):
        raise _error("only weights=None can be imported offline")
    try:
        model = getattr(keras.applications, name)(weights=None, **options)
    except (TypeError, ValueError) as exc:
        raise _error(f"keras.applications.{name} refused the arguments: {' '.join(str(exc).split())[:300]}") from None
    args = ", ".join(["weights=None", *(f"{k}={list(v) if isinstance(v, tuple) else v!r}" for k, v in options.items())])
    return from_model(model, f"keras.applications.{name}({args})")


def from_model(model: Any, label: str) -> Source:
    """A Keras model object in memory (used by `kspec import` for applications, and by the tests)."""
    import keras

    return Source(keras.saving.serialize_keras_object(model), label, lambda: model)


def _archive(path: Path) -> Source:
    if path.suffix != ".keras":
        raise _error(
            f"'{path}' is neither a .keras file nor keras.applications.NAME",
            hint="e.g. kspec import model.keras -o model.yaml",
        )
    if not path.is_file():
        raise _error(f"no such file: '{path}'")
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            has_weights = "model.weights.h5" in archive.namelist()
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise _error(f"'{path}' is not a readable .keras archive: {exc}") from None
    if not isinstance(config, dict) or "config" not in config:
        raise _error(f"'{path}' holds no model config")

    def load() -> Any:
        import keras

        if not has_weights:
            raise _error(f"'{path}' holds no weights")
        return keras.saving.load_model(path, compile=False, safe_mode=True)

    return Source(config, path.name, load)
