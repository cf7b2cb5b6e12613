"""`train.class_weight` as both feeds apply it: classes the spec does not name weigh 1.0. TensorFlow inside."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tensorflow as tf


def class_table(class_weight: dict[int, float], y: Any) -> list[float]:
    """The weight of every class that `class_weight` or the targets `y` name: 1.0 where `class_weight` is silent
    (Keras's rule, which its tf.data path applies only up to the largest class the dict names)."""
    import tensorflow as tf

    y = tf.convert_to_tensor(y)
    classes = max(max(class_weight), int(tf.reduce_max(class_of(y, tuple(y.shape[1:]))))) + 1
    return [class_weight.get(c, 1.0) for c in range(classes)]


def class_of(labels: tf.Tensor, example: tuple[int | None, ...]) -> tf.Tensor:
    """Class indices for `class_weight`, as Keras derives them: the argmax of one-hot targets, else the rounded
    label. `example` is one example's target shape; `labels` has the shape of the indices in front of it."""
    import tensorflow as tf

    if example and example != (1,):
        return tf.cast(tf.argmax(labels, axis=-1), tf.int32)
    if example == (1,):
        labels = labels[..., 0]
    return tf.cast(tf.round(tf.cast(labels, tf.float32)), tf.int32)
