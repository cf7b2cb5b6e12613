"""The book's own custom layers, shipped with kspec as the built-in plugin `kspec_book`: `kspec_book>SFC` (ch9.4)
and `kspec_book>CDENSE` (the 1st edition's bonus complex dense layer). Imports keras (the compiler imports this
module when a spec declares `plugins: [kspec_book]`).

Every book spec therefore validates and builds after a plain install. A third-party plugin is an installed package
declaring an entry point in the `kspec.plugins` group: `examples/kspec_example_layers` shows how. The 1st edition's
`keras.engine.topology.Layer` and `K.dot` become `keras.layers.Layer` and `keras.ops.matmul`; the argument keeps the
book's name `No` (number of outputs).
"""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="kspec_book")
class SFC(keras.layers.Layer):  # type: ignore[misc]
    """A "simple fully connected" layer `y = x @ w + b`, written out by hand as in the book.

    Args:
        No: number of output units.
        **kwargs: standard layer arguments (`name`, `dtype`, `trainable`, ...).
    """

    def __init__(self, No: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.No = int(No)

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.w = self.add_weight(name="w", shape=(int(input_shape[-1]), self.No), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(self.No,), initializer="zeros")

    def call(self, x: Any) -> Any:
        return keras.ops.matmul(x, self.w) + self.b

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.No)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "No": self.No}


@keras.saving.register_keras_serializable(package="kspec_book")
class CDENSE(keras.layers.Layer):  # type: ignore[misc]
    """The 1st edition's bonus complex-valued dense layer: `y = x @ w + b` with complex `x`, `w`, `b`.

    Takes `[x_r, x_i]` (real and imaginary parts) and returns `[y_r, y_i]`; the complex product is written with
    real matrix products (`y_r = x_r w_r - x_i w_i + b_r`, `y_i = x_r w_i + x_i w_r + b_i`), as `tf.complex`,
    `tf.real` and `tf.imag` have no `keras.ops` counterpart that trains on every backend.

    Args:
        No: number of complex output units.
        **kwargs: standard layer arguments.
    """

    def __init__(self, No: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.No = int(No)

    def build(self, input_shape: list[tuple[int, ...]]) -> None:
        n_in = int(input_shape[0][-1])
        self.w_r = self.add_weight(name="w_r", shape=(n_in, self.No), initializer="glorot_uniform")
        self.w_i = self.add_weight(name="w_i", shape=(n_in, self.No), initializer="glorot_uniform")
        self.b_r = self.add_weight(name="b_r", shape=(self.No,), initializer="zeros")
        self.b_i = self.add_weight(name="b_i", shape=(self.No,), initializer="zeros")

    def call(self, inputs: list[Any]) -> list[Any]:
        x_r, x_i = inputs
        mm = keras.ops.matmul
        y_r = mm(x_r, self.w_r) - mm(x_i, self.w_i) + self.b_r
        y_i = mm(x_r, self.w_i) + mm(x_i, self.w_r) + self.b_i
        return [y_r, y_i]

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> list[tuple[int | None, ...]]:
        out = (*input_shape[0][:-1], self.No)
        return [out, out]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "No": self.No}
