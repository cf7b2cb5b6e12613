"""Stage data: prepared splits -> batches. `pipeline` turns a split into a batched, shuffled, prefetched
`tf.data.Dataset` that gathers whole batches by index (no per-example Python or tf.data work), one-hot encodes labels
and applies augmentation per batch; `permutation` is the epoch order both feeds share. TensorFlow inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kspec.data import named
from kspec.data.registry import Arrays
from kspec.errors import SpecError, SpecErrors
from kspec.lang import data_steps as sd

if TYPE_CHECKING:
    import tensorflow as tf


# ------------------------------------------------------------------------------------------------- pipeline


def augmentation_layers(
    configs: list[dict[str, Any]], path: tuple[str | int, ...] = ("data", "preprocess")
) -> list[Any]:
    """Keras layers from `{type: RandomRotation, factor: 0.03}` entries (through the compiler's layer factory)."""
    from kspec.compiler.functional import make_layer
    from kspec.errors import did_you_mean

    layers = []
    for j, config in enumerate(configs):
        kind = str(config.get("type", ""))
        if not sd.is_augmentation_layer(kind):
            raise SpecErrors(
                [
                    SpecError(
                        f"'{kind}' is not an augmentation layer",
                        (*path, "layers", j, "type"),
                        "data-error",
                        hint=did_you_mean(
                            kind,
                            (
                                "RandomFlip",
                                "RandomRotation",
                                "RandomZoom",
                                "RandomTranslation",
                                "RandomContrast",
                                "RandomCrop",
                            ),
                        ),
                    )
                ]
            )
        try:
            layers.append(make_layer(kind, {k: v for k, v in config.items() if k != "type"}, None))
        except (ValueError, TypeError) as exc:
            raise SpecErrors(
                [SpecError(" ".join(str(exc).split())[:300], (*path, "layers", j), "keras-rejected")]
            ) from None
    return layers


def permutation(n: int, *, shuffle: bool, seed: int | None, epoch: Any) -> tf.Tensor:
    """The order of `n` training examples in one epoch (int64): drawn from (seed, epoch), or 0..n-1 unshuffled."""
    import tensorflow as tf

    idx = tf.range(n, dtype=tf.int64)
    if not shuffle:
        return idx
    r = tf.cast(epoch, tf.int64)
    return tf.random.experimental.stateless_shuffle(idx, seed=tf.stack([r, tf.constant(seed or 0, tf.int64)]))


def pipeline(
    part: Arrays,
    *,
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
    one_hot: int | None = None,
    augment: list[Any] | None = None,
    chunk: int = 16,
    epoch: Any = None,
    passes_from: int | None = None,
) -> tf.data.Dataset:
    """A batched `tf.data.Dataset` of `(x, y)` (or `x` alone when there are no targets).

    The examples are held once as tensors. Each epoch draws one seeded permutation (a new one every epoch, the same
    sequence for the same seed), and gathers `chunk` batches with one gather, so tf.data does a few hundred cheap
    element operations per epoch instead of one per example; the last, smaller batch is kept as `fit` keeps it.

    Training passes `epoch` (an int64 `tf.Variable` it sets as each epoch begins): the permutation is then drawn from
    (seed, epoch), so a resumed run sees the same order as an uninterrupted one. `passes_from=k` instead gives an
    endless stream of passes numbered k, k+1, ... (for more steps per epoch than one pass holds).
    """
    import tensorflow as tf

    n, bs = len(part), batch_size
    x = tf.nest.map_structure(tf.convert_to_tensor, part.x)  # one tensor, or a tuple/dict of them (several inputs)
    same = part.y is part.x
    y = None if part.y is None or same else tf.nest.map_structure(tf.convert_to_tensor, part.y)
    full = n // bs

    def take(i: tf.Tensor) -> Any:
        xb = tf.nest.map_structure(lambda t: tf.gather(t, i), x)
        if same:
            return xb, xb
        if y is None:
            return xb
        yb = tf.nest.map_structure(lambda t: tf.gather(t, i), y)
        return xb, (tf.one_hot(yb, one_hot, dtype=tf.float32) if one_hot else yb)

    layers = augment or []
    seeded = bool(layers) and seed is not None  # augmentation drawn per batch from (seed, pass, batch): reproducible

    def order(r: tf.Tensor) -> Any:
        perm = permutation(n, shuffle=shuffle, seed=seed, epoch=r)
        return (r, perm) if seeded else perm

    def batches(*drawn: tf.Tensor) -> tf.data.Dataset:
        r, perm = drawn if seeded else (None, drawn[0])
        rows = tf.data.Dataset.from_tensor_slices(tf.reshape(perm[: full * bs], [full, bs])).batch(chunk)
        if seeded:  # each batch carries (pass, batch index) for its augmentation seeds
            numbered = tf.data.Dataset.from_tensor_slices(tf.range(full, dtype=tf.int64)).batch(chunk)
            out = tf.data.Dataset.zip(rows, numbered).flat_map(
                lambda i, j: tf.data.Dataset.from_tensor_slices((take(i), tf.fill(tf.shape(j), r), j))
            )
            if n > full * bs:
                last = tf.data.Dataset.from_tensors((perm[full * bs :], tf.constant(full, tf.int64)))
                out = out.concatenate(last.map(lambda i, j: (take(i), r, j)))
            return out
        out = rows.flat_map(lambda i: tf.data.Dataset.from_tensor_slices(take(i)))
        if n > full * bs:
            out = out.concatenate(tf.data.Dataset.from_tensors(perm[full * bs :]).map(take))
        return out

    steps = full + (1 if n > full * bs else 0)
    if passes_from is not None:
        ds = tf.data.Dataset.range(passes_from, 2**62).map(order).flat_map(batches)
    else:
        if epoch is not None:
            draws = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).map(lambda _: tf.cast(epoch, tf.int64))
        else:
            draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        ds = draws.map(order).flat_map(batches).apply(tf.data.experimental.assert_cardinality(steps))
    if seeded:
        generators = [g for layer in layers for g in layer._seed_generators]
        base = tf.constant(seed, tf.int64)

        def reseeded(batch: Any, r: tf.Tensor, j: tf.Tensor) -> Any:
            # every random generator of the augmentation layers starts this batch from (seed, pass, batch, k): the
            # same draws in every run with this seed and after `--resume`, whatever ran before; sequential map, as
            # the generators' states are shared variables
            for k, generator in enumerate(generators):
                generator.state.assign(tf.stack([base * 1_000_003 + r, j * 1024 + k]))
            xb, rest = (batch[0], batch[1:]) if isinstance(batch, tuple) else (batch, ())
            for layer in layers:
                xb = layer(xb, training=True)
            return (xb, *rest) if rest else xb

        ds = ds.map(reseeded, deterministic=True)
    elif layers:

        def augmented(xb: tf.Tensor, *rest: tf.Tensor) -> Any:
            for layer in layers:
                xb = layer(xb, training=True)
            return (xb, *rest) if rest else xb

        ds = ds.map(augmented, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def example_shapes(part: Arrays, one_hot: int | None) -> tuple[Any, Any]:
    """Per-example input and target shapes as the pipeline yields them (one tuple, or one per named array)."""
    x_shape = named.shapes(part.x)
    if part.y is None:
        return x_shape, None
    return x_shape, ((one_hot,) if one_hot else named.shapes(part.y))
