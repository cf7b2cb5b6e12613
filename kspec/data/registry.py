"""Stage data: what loaders produce (`Arrays`, `Splits`) and the registry of source loaders (`LOADERS`).

Every loader takes its source model and a `Context` and returns a `Splits` of NumPy arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kspec.data import named

SOURCE_PATH = ("data", "source")
DOWNLOAD_TIMEOUT_S = 20.0


class DataUnavailableError(RuntimeError):
    """A Keras dataset is neither in Keras's cache nor downloadable (e.g. offline); the message says where to put it."""


@dataclass
class Arrays:
    """Inputs and (optionally) targets of one split; `y is x` means the inputs are the targets. Each is one array
    or named arrays (a dict name -> array, see `kspec.data.named`)."""

    x: Any
    y: Any | None = None

    def __len__(self) -> int:
        return named.length(self.x)

    def to_tensors(self) -> Arrays:
        """The same split held as TensorFlow tensors instead of NumPy arrays, so the training pipeline does not keep
        a second copy of the data (the NumPy arrays are released once nothing else refers to them)."""
        import tensorflow as tf

        x = tf.nest.map_structure(tf.convert_to_tensor, self.x)
        y = x if self.y is self.x else None if self.y is None else tf.nest.map_structure(tf.convert_to_tensor, self.y)
        return Arrays(x, y)


@dataclass
class Splits:
    """Train / validation / test arrays plus what the pipeline does per batch."""

    train: Arrays
    validation: Arrays | None = None
    test: Arrays | None = None
    one_hot: int | None = None
    augment: list[dict[str, Any]] = field(default_factory=list)

    def named(self) -> dict[str, Arrays]:
        return {k: v for k, v in (("train", self.train), ("validation", self.validation), ("test", self.test)) if v}


@dataclass
class ModelShapes:
    """Per-example shapes of the main model, used by `synthetic` (batch axis excluded), and its input and output
    names (`npy_folder` reads one file per name)."""

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_dtype: str = "float32"
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    #: every input's and output's per-example shape (and input dtype), by name, for models with several
    input_shapes: dict[str, tuple[tuple[int, ...], str]] = field(default_factory=dict)
    output_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass
class Context:
    folder: Path
    shapes: ModelShapes | None = None


Loader = Callable[[Any, Context], Splits]
LOADERS: dict[str, Loader] = {}


def loader(*names: str) -> Callable[[Loader], Loader]:
    def deco(fn: Loader) -> Loader:
        for name in names:
            LOADERS[name] = fn
        return fn

    return deco


def holdout(x: Any, y: Any, fraction: float, seed: int) -> Splits:
    """Hold out `fraction` of the examples (a seeded shuffle) as the test split."""
    if fraction <= 0:
        return Splits(Arrays(x, y))
    n = named.length(x)
    order = np.random.default_rng(seed).permutation(n)
    cut = n - max(1, round(n * fraction))
    tr, te = order[:cut], order[cut:]
    return Splits(Arrays(named.rows(x, tr), named.rows(y, tr)), test=Arrays(named.rows(x, te), named.rows(y, te)))
