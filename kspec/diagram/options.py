"""What a diagram shows: the options of `kspec draw`, shared by every diagram module. Stdlib only."""

from __future__ import annotations

from dataclasses import dataclass


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
