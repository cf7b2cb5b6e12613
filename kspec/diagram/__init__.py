"""Stage draw: resolved graphs -> DOT text and rendered SVG/PNG/PDF, from the spec alone (no Keras).

`dot` is the entry (`draw`, `to_dot`); `builder` walks the models, `style` says how nodes look, `structure` finds
repeated runs, skip connections and blocks, `render` turns DOT into an image, `options` holds `DrawOptions`.
"""

from kspec.diagram.dot import draw, to_dot
from kspec.diagram.options import DrawOptions
from kspec.diagram.structure import collapse_runs, skip_edges
from kspec.diagram.style import COLORS, HYPERPARAMS, family, format_shape, hyperparams

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
