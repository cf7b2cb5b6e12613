"""`kspec import`: a Keras model (a `.keras` file or a `keras.applications` model) -> a readable spec.

reader (config -> IR, Keras defaults) -> shaping (defaults:) -> blocks (blocks:) -> compose/writer (text).
Only `sources` and `reader` import keras, lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kspec.errors import SpecError
from kspec.porting.compose import PLACEHOLDER, Composed, compose
from kspec.porting.model import Imported, Problem

__all__ = ["PLACEHOLDER", "ImportReport", "Problem", "import_model"]


@dataclass
class ImportReport:
    """What `import_model` wrote and found."""

    text: str
    imported: Imported
    composed: Composed
    weights: Path | None = None
    problems: list[Problem] = field(default_factory=list)

    def diagnostics(self, source: str) -> list[SpecError]:
        """The problems as diagnostics located in the source's config (`config.layers[12]`)."""
        return [p.diagnostic(source) for p in self.problems]


def _schema_ref(out: Path) -> str:
    """The modeline's schema: the nearest `schemas/kspec.schema.json` above the spec's folder, else kspec's own."""
    import os

    folder = out.resolve().parent
    for parent in (folder, *folder.parents):
        candidate = parent / "schemas" / "kspec.schema.json"
        if candidate.is_file():
            return os.path.relpath(candidate, folder)
    return "kspec.schema.json"  # `kspec schema -o <folder>/kspec.schema.json` puts it there


def import_model(
    source: str | Any, out: Path, options: dict[str, Any] | None = None, weights: bool = True
) -> ImportReport:
    """Read `source` (a SOURCE string, or a `Source`) and compose the spec text for `out`.

    With `weights`, `<out stem>.weights.h5` is written beside `out` and named in `init:`. When some layers cannot be
    expressed, the report lists them, no weights are written, and the text marks them as NOT-IMPORTED placeholders
    (`kspec import --allow-partial` writes it).
    """
    from kspec.porting import reader, sources

    src = sources.load(source, dict(options or {})) if isinstance(source, str) else source
    imported = reader.Reader(src.label).read(src.config)
    init = None
    weights_path = None
    if weights and not imported.problems:
        weights_path = out.with_name(out.name.removesuffix(".yaml").removesuffix(".yml") + ".weights.h5")
        init = {"weights": weights_path.name}
    header = [
        f"yaml-language-server: $schema={_schema_ref(out)}",
        f"Imported by `kspec import` from {src.label} (Keras {imported.keras_version}).",
    ]
    composed = compose(imported, header, init)
    report = ImportReport(composed.text, imported, composed, weights_path, list(imported.problems))
    if weights_path is not None:
        from kspec.porting import weights as weights_file

        weights_file.write(src.load_model(), composed.text, out, weights_path)
    return report
