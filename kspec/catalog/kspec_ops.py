"""kspec's own `op:` functions, beside the keras.ops allow-list: sampling, positions and model-added losses. Plain
data in the catalogue's format, never keras; `kspec.compiler.kspec_layers` implements them as Keras layers.

Keras offers these as functions that do not work on symbolic tensors of unknown batch size (`keras.random.normal`
needs a concrete shape) or only inside a layer's `call` (`add_loss`), so each is a small serializable layer.
"""

from __future__ import annotations

from typing import Any

_SEED = {
    "kind": "int",
    "required": False,
    "default": None,
    "nullable": True,
    "doc": "seed of this op's random stream; default: derived from train.seed and the op's name (random without one)",
}


def _tensor(doc: str) -> dict[str, Any]:
    return {"kind": "tensor", "required": True, "doc": doc}


def _number(default: float, doc: str) -> dict[str, Any]:
    return {"kind": "number", "required": False, "default": default, "doc": doc}


#: op name -> catalogue entry (doc, params, tensors, variadic).
KSPEC_OPS: dict[str, dict[str, Any]] = {
    "random_normal": {
        "doc": "Normally distributed noise shaped like its input (the VAE's epsilon), seeded reproducibly.",
        "params": {
            "x": _tensor("a tensor whose shape (batch included) the noise takes"),
            "mean": _number(0.0, "mean of the distribution"),
            "stddev": _number(1.0, "standard deviation of the distribution"),
            "seed": _SEED,
        },
        "tensors": ["x"],
        "variadic": False,
    },
    "random_uniform": {
        "doc": "Uniformly distributed noise in [minval, maxval) shaped like its input, seeded reproducibly.",
        "params": {
            "x": _tensor("a tensor whose shape (batch included) the noise takes"),
            "minval": _number(0.0, "lower bound (inclusive)"),
            "maxval": _number(1.0, "upper bound (exclusive)"),
            "seed": _SEED,
        },
        "tensors": ["x"],
        "variadic": False,
    },
    "positions": {
        "doc": "The index range 0, 1, ..., T-1 of the second axis of its input, per example: (batch, T) int32, "
        "for position embeddings.",
        "params": {"x": _tensor("a (batch, T, ...) tensor, e.g. token ids")},
        "tensors": ["x"],
        "variadic": False,
    },
    "add_loss": {
        "doc": "Pass `x` through unchanged and add weight * mean(loss) to the model's training loss (a VAE's KL term).",
        "params": {
            "x": _tensor("the tensor passed through"),
            "loss": _tensor("a tensor of loss values; its mean is added"),
            "weight": _number(1.0, "factor of the added loss"),
        },
        "tensors": ["x", "loss"],
        "variadic": False,
    },
}
