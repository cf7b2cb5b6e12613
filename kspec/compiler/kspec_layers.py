"""kspec's own ops as small Keras layers: seeded noise shaped like a tensor, positions, and model-added losses.

One of the few modules that import keras. The layers are registered as serializable (package `kspec`), so a
`model.keras` holding them loads with `keras.saving.load_model` once this module is imported (`import
kspec.compiler.kspec_layers`, which also registers the `losses:` section's `FormulaLoss`); models without them need
no kspec at all.
"""

from __future__ import annotations

import zlib
from typing import Any

import keras
from keras import ops

from kspec.compiler import spec_losses as _spec_losses  # noqa: F401  # registers FormulaLoss for loading


@keras.saving.register_keras_serializable(package="kspec")
class RandomNormalLike(keras.layers.Layer):  # type: ignore[misc]
    """Normal noise with the shape of its input, drawn anew on every call from a seeded stream."""

    def __init__(self, mean: float = 0.0, stddev: float = 1.0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mean, self.stddev, self.seed = mean, stddev, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x: Any) -> Any:
        return keras.random.normal(ops.shape(x), self.mean, self.stddev, dtype=self.compute_dtype,
                                   seed=self.seed_generator)  # fmt: skip

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kspec")
class RandomUniformLike(keras.layers.Layer):  # type: ignore[misc]
    """Uniform noise in [minval, maxval) with the shape of its input, from a seeded stream."""

    def __init__(self, minval: float = 0.0, maxval: float = 1.0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minval, self.maxval, self.seed = minval, maxval, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x: Any) -> Any:
        return keras.random.uniform(ops.shape(x), self.minval, self.maxval, dtype=self.compute_dtype,
                                    seed=self.seed_generator)  # fmt: skip

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kspec")
class Positions(keras.layers.Layer):  # type: ignore[misc]
    """0, 1, ..., T-1 along the second axis of its input, for every example: (batch, T) int32."""

    def call(self, x: Any) -> Any:
        shape = ops.shape(x)
        return ops.broadcast_to(ops.arange(shape[1], dtype="int32"), (shape[0], shape[1]))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return tuple(input_shape[:2])

    def compute_output_spec(self, x: Any) -> Any:
        return keras.KerasTensor(tuple(x.shape[:2]), dtype="int32")


@keras.saving.register_keras_serializable(package="kspec")
class AddLoss(keras.layers.Layer):  # type: ignore[misc]
    """Passes `x` through and adds `weight * mean(loss)` to the training loss of every model that contains it."""

    def __init__(self, weight: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weight = weight

    def call(self, x: Any, loss: Any) -> Any:
        self.add_loss(self.weight * ops.mean(ops.cast(loss, self.compute_dtype)))
        return x

    def compute_output_shape(self, x_shape: Any, loss_shape: Any) -> Any:
        return x_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight": self.weight}


def derived_seed(base: int | None, name: str) -> int | None:
    """A per-op seed from the spec's `train.seed` and the op's name: stable across runs, distinct between ops."""
    return None if base is None else (base * 1_000_003 + zlib.crc32(name.encode())) % (2**31 - 1)


def call(op: str, name: str, args: dict[str, Any], tensors: list[Any], base_seed: int | None) -> Any:
    """Apply kspec op `op` (a `kspec.catalog.kspec_ops` name) to `tensors` as the layer `name`."""
    seed = args.get("seed")
    seed = derived_seed(base_seed, name) if seed is None else seed
    if op == "random_normal":
        layer: Any = RandomNormalLike(args.get("mean", 0.0), args.get("stddev", 1.0), seed, name=name)
    elif op == "random_uniform":
        layer = RandomUniformLike(args.get("minval", 0.0), args.get("maxval", 1.0), seed, name=name)
    elif op == "positions":
        layer = Positions(name=name)
    elif op == "add_loss":
        return AddLoss(args.get("weight", 1.0), name=name)(*tensors)
    else:
        raise ValueError(f"'{op}' is not one of kspec's ops")
    return layer(tensors[0])
