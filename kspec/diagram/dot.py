"""Stage render: resolved model graphs -> deterministic DOT text, as graphviz.Digraph writes it (no binary); no keras.

The entry module: `draw` and `to_dot` (`DrawOptions` lives in `options`). The work is split by concern: `builder`
walks the models, `labels` puts each node's label together, `style` says how nodes read and look, `structure` finds
repeated runs, skip connections and blocks, `lines` writes the DOT statements.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kspec.analysis.graph import Resolved
from kspec.diagram.builder import Builder
from kspec.diagram.options import DrawOptions

if TYPE_CHECKING:
    from kspec.analysis.shapes import ShapeReport

__all__ = ["draw", "to_dot"]


def draw(
    resolved: Resolved,
    out: Path | None = None,
    *,
    options: DrawOptions | None = None,
    shapes: ShapeReport | None = None,
    deep_shapes: Mapping[str, Any] | None = None,
) -> Path | str:
    """Draw the models of a resolved spec.

    Args:
        resolved: the spec, resolved (`kspec.load`).
        out: file to write (.svg, .png, .pdf, .jpg or .dot); None returns the DOT text.
        options: what to show; defaults to `DrawOptions()`.
        shapes: a `kspec.shapes.ShapeReport` (static shapes and parameter counts), or None to show no shapes.
        deep_shapes: layer name -> output shape from a Keras build, batch axis first (`--deep`); wins over `shapes`.

    Returns:
        The written path, or the DOT text when `out` is None.

    Raises:
        ValueError: `options.model` names no model of the spec.
        kspec.render.RendererMissing: no renderer for the format (the DOT file is written beside `out`).
    """
    text = to_dot(resolved, options or DrawOptions(), shapes=shapes, deep_shapes=deep_shapes)
    if out is None:
        return text
    from kspec.diagram.render import render

    return render(text, out)


def to_dot(
    resolved: Resolved,
    options: DrawOptions,
    *,
    shapes: ShapeReport | None = None,
    deep_shapes: Mapping[str, Any] | None = None,
) -> str:
    """The DOT source of the diagram (see `draw`); byte-identical for the same inputs."""
    return Builder(resolved, options, shapes, deep_shapes).build()
