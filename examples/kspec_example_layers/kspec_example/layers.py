"""The book's ch9.4 custom layer, registered as `kspec_example>SFC` (entry point `kspec_example` in `kspec.plugins`).

The 1st edition's `keras.engine.topology.Layer` and `K.dot` become `keras.layers.Layer` and `keras.ops.matmul`;
the argument keeps the book's name `No` (number of outputs).
"""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="kspec_example")
class SFC(keras.layers.Layer):
    """A "simple fully connected" layer `y = x @ w + b`, written out by hand as in the book.

    Args:
        No: number of output units.
        **kwargs: standard layer arguments (`name`, `dtype`, `trainable`, ...).
    """

    def __init__(self, No: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.No = int(No)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.w = self.add_weight(name="w", shape=(int(input_shape[-1]), self.No), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(self.No,), initializer="zeros")

    def call(self, x: Any) -> Any:
        return keras.ops.matmul(x, self.w) + self.b

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.No)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "No": self.No}
