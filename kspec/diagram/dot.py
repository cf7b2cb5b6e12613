"""Stage render: resolved model graphs -> deterministic DOT text via graphviz.Digraph (no binary); no keras.

The entry module: `DrawOptions`, `draw` and `to_dot`. The work is split by concern: `diagram_builder` walks the models,
`diagram_style` says how nodes read and look, `diagram_structure` finds repeated runs, skip connections and blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .diagram_builder import Builder
from .diagram_structure import collapse_runs, skip_edges
from .diagram_style import COLORS, HYPERPARAMS, family, format_shape, hyperparams
from .graph import Resolved

if TYPE_CHECKING:
    from .shapes import ShapeReport

__all__ = [
    "COLORS",
    "HYPERPARAMS",
    "DrawOptions",
    "collapse_runs",
    "draw",
    "family",
    "format_shape",
    "hyperparams",
    "skip_edges",
    "to_dot",
]


@dataclass(frozen=True)
class DrawOptions:
    """What the diagram shows; the plot_model options plus kspec's own.

    Attributes:
        show_shapes: output shape of every node.
        show_dtype: dtype of every node (inputs: their dtype; layers: their `dtype` or float32).
        show_layer_names: the layer name before the class.
        show_layer_activations: the `activation` argument among the hyperparameters.
        show_hyperparams: the arguments that matter (units, filters, kernel, stride, padding, rate, ...).
        show_params: parameter counts of nodes and models.
        show_trainable: say "trainable" or "frozen" on every layer (frozen layers always look frozen).
        expand_nested: draw a nested model's own layers inside it instead of one box.
        collapse: draw a chain of identical blocks or layers once, marked ×N.
        rankdir: TB (top to bottom), LR, BT or RL.
        dpi: resolution of PNG output; None leaves the renderer's default.
        model: draw only this model; None draws every model side by side.
        legend: a colour legend of the families and markers in the diagram.
    """

    show_shapes: bool = True
    show_dtype: bool = False
    show_layer_names: bool = True
    show_layer_activations: bool = True
    show_hyperparams: bool = True
    show_params: bool = True
    show_trainable: bool = False
    expand_nested: bool = False
    collapse: bool = False
    rankdir: str = "TB"
    dpi: int | None = None
    model: str | None = None
    legend: bool = True

    def __post_init__(self) -> None:
        if self.rankdir not in ("TB", "LR", "BT", "RL"):
            raise ValueError(f"rankdir must be TB, LR, BT or RL; received {self.rankdir!r}")


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
    from .render import render

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
