"""Stage 6, train: the resident feed, `Model.fit`'s loop over examples held in memory as tensors. Imports keras.

`Model.fit` on a `tf.data` pipeline pays tf.data's cost on every batch: about 0.1 ms on a CPU, which is more than
a whole training step of the book's MLPs. Here a split stays in memory as tensors, and one compiled call runs many
steps (`Pace`) in a loop: each step gathers its batch by index from the epoch's permutation and calls the model's
own `train_step` on it. No tf.data runs per step. Where `jit_compile` is on, the whole call (loop, gathers and
steps) is one XLA program, compiled once per model and training split; otherwise it is a graph loop.

The batches are the ones the tf.data pipeline gives (`data.permutation`: the same order from (seed, epoch), the same
last, smaller batch), so either feed learns the same. The loop drives Keras callbacks through `CallbackList` as
`fit` does: train and epoch begin/end, batch begin/end once per compiled call, test begin/end around validation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from kspec.data.pipeline import permutation
from kspec.data.registry import Arrays
from kspec.training.class_weights import class_table
from kspec.training.resident_calls import Chunk, compiled_calls, gather

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from kspec.training.session import Session


class Feed:
    """One split held as tensors, and compiled calls that run a model's train or test step over rows of indices."""

    def __init__(
        self,
        model: keras.Model,
        part: Arrays,
        *,
        batch_size: int,
        one_hot: int | None,
        class_weight: dict[int, float] | None = None,
        jit: bool = False,
    ) -> None:
        import tensorflow as tf

        self.n, self.batch_size = len(part), batch_size
        self.x = tf.nest.map_structure(tf.convert_to_tensor, part.x)  # a tensor, or a tuple of them (several inputs)
        self.same = part.y is part.x
        self.y = None if part.y is None or self.same else tf.nest.map_structure(tf.convert_to_tensor, part.y)
        self.one_hot = one_hot
        self.weights = None
        if class_weight and self.y is not None:
            self.weights = tf.constant(class_table(class_weight, self.y), tf.float32)
        self.model = model
        self._train = self._runner("train", jit)
        self._test = self._runner("test", False)  # evaluation: too few steps to repay XLA's compilation

    @property
    def steps(self) -> int:
        return -(-self.n // self.batch_size)

    @property
    def tensors(self) -> tuple[tf.Tensor, tf.Tensor | None, tf.Tensor | None]:
        """What the compiled calls take besides the rows: inputs, targets (None: none or the inputs), class weights."""
        return self.x, self.y, self.weights

    def batch(self, i: tf.Tensor) -> Any:
        """The examples `i` (any shape of indices) as `train_step` takes them: `x`, `(x, y)` or
        `(x, y, sample_weight)`."""
        return gather(self.tensors, i, same=self.same, one_hot=self.one_hot)

    def _runner(self, kind: str, jit: bool) -> Callable[[Chunk], dict[str, Any]]:
        """A call running the model's train or test step once per row of a chunk ([steps, batch] example indices)."""
        import tensorflow as tf

        layout = (
            self.same,
            self.one_hot,
            *(None if t is None else tf.nest.map_structure(_example_spec, t) for t in self.tensors),
        )
        calls = compiled_calls(self.model, kind, jit, layout)
        return lambda chunk: calls(chunk, self.tensors, self.batch_size)

    def chunks(self, order: tf.Tensor, pace: Pace) -> Iterator[tuple[int, Chunk]]:
        """(first step, its chunk) for each compiled call over `order`: the full batches, `pace.size()` at a time,
        then the last, smaller batch alone."""
        import tensorflow as tf

        full, bs = self.n // self.batch_size, self.batch_size
        table = tf.reshape(order[: full * bs], [full, bs])
        first = 0
        while first < full:
            count = min(pace.size(), full - first)
            yield first, Chunk(table, first, count)
            first += count
        if self.n > full * bs:
            yield full, Chunk(tf.reshape(order[full * bs :], [1, -1]), 0, 1)

    def step_bytes(self) -> int:
        """Bytes one batch gathers (inputs and targets)."""
        import tensorflow as tf

        parts = tf.nest.flatten([self.x] if self.same or self.y is None else [self.x, self.y])
        return self.batch_size * sum(int(t.dtype.size) * int(t.shape[1:].num_elements() or 1) for t in parts)

    def train(self, chunk: Chunk, pace: Pace) -> dict[str, Any]:
        return _timed(self._train, chunk, pace)

    def evaluate(self, pace: Pace, callbacks: Any = None) -> dict[str, float]:
        """The model's loss and metrics over this split, in order (as `Model.evaluate` gives them)."""
        import tensorflow as tf

        self.model.reset_metrics()
        if callbacks is not None:
            callbacks.on_test_begin()
        logs: dict[str, Any] = {}
        for first, chunk in self.chunks(tf.range(self.n, dtype=tf.int64), pace):
            if callbacks is not None:
                callbacks.on_test_batch_begin(first)
            logs = _timed(self._test, chunk, pace)
            if callbacks is not None:
                callbacks.on_test_batch_end(first + chunk.steps - 1, logs)
        out = {k: float(v) for k, v in logs.items()}
        if callbacks is not None:
            callbacks.on_test_end(out)
        return out


def _example_spec(t: Any) -> Any:
    """The per-example shape and dtype of one tensor (hashable: part of a compiled call's key)."""
    import tensorflow as tf

    return tf.TensorSpec(t.shape[1:], t.dtype)


def _timed(run: Callable[[Chunk], dict[str, Any]], chunk: Chunk, pace: Pace) -> dict[str, Any]:
    start = time.perf_counter()
    logs = run(chunk)
    pace.took(time.perf_counter() - start, chunk.steps)
    return logs


class Pace:
    """How many steps the next compiled call runs.

    Fixed with `steps_per_execution: N`. On `auto` it starts at 8 and doubles while calls take under 0.1 s, so a
    small model runs hundreds of steps per call while the progress bar and batch callbacks still come several times
    a second; one call's batches, gathered together, stay under 64 MiB.
    """

    START, QUICK, GATHER_BYTES = 8, 0.1, 64 << 20

    def __init__(self, fixed: int | None, step_bytes: int) -> None:
        self.fixed = fixed
        self.cap = max(1, self.GATHER_BYTES // max(1, step_bytes))
        self.steps = min(self.START, self.cap)

    def size(self) -> int:
        return self.fixed or self.steps

    def took(self, seconds: float, steps: int) -> None:
        """Record that a call of `steps` steps took `seconds`."""
        if self.fixed is None and steps == self.steps and seconds < self.QUICK:
            self.steps = min(2 * self.steps, self.cap)


def prime(model: keras.Model, feed: Feed) -> None:
    """Build the compiled loss and metrics on two examples, eagerly, so that no variable is created while tracing.

    The random-generator states are put back afterwards (an eager call of some layers, e.g. an LSTM with dropout,
    draws a seed even in inference), so training draws the same random numbers as `fit` does.
    """
    import tensorflow as tf

    seeds = [(v, v.numpy()) for v in model.variables if "seed_generator" in v.path]
    data = feed.batch(tf.range(min(2, feed.n), dtype=tf.int64))
    x, y = (data, None) if not isinstance(data, tuple) else (data[0], data[1])
    y_pred = model(x, training=False)
    model.compute_loss(x=x, y=y, y_pred=y_pred)
    model.compute_metrics(x, y, y_pred)
    model.reset_metrics()
    for var, value in seeds:
        var.assign(value)


def fit(s: Session, model: keras.Model, jit: bool, callbacks: list[Any], start: int) -> None:
    """`Model.fit`'s epoch loop (callbacks, validation, `stop_training`) on resident feeds."""
    import keras

    spec = s.spec
    common: dict[str, Any] = {"batch_size": spec.batch_size, "one_hot": s.splits.one_hot, "jit": jit}
    train = Feed(model, s.splits.train, class_weight=spec.class_weight, **common)
    s.splits.train = Arrays(train.x, train.x if train.same else train.y)  # the tensors are now the only copy
    val = None
    if s.splits.validation:
        part, val = s.splits.validation, Feed(model, s.splits.validation, **common)
        s.splits.validation = Arrays(val.x, val.x if val.same else val.y)  # tensors only here too
        if s.splits.test is part:  # the test set validates (the book's IMDB LSTM): one copy serves both
            s.splits.test = s.splits.validation
    fixed = None if spec.steps_per_execution == "auto" else int(spec.steps_per_execution)
    pace, val_pace = Pace(fixed, train.step_bytes()), Pace(fixed, val.step_bytes() if val else 1)
    prime(model, train)
    hooks = keras.callbacks.CallbackList(
        callbacks,
        add_history=True,
        add_progbar=False,  # the recipe passes kspec's own progress callback
        verbose=0,
        epochs=spec.epochs,
        steps=train.steps,
        model=model,
    )
    model.stop_training = False
    hooks.on_train_begin()
    logs: dict[str, float] | None = None
    for epoch in range(start, s.end_epoch()):
        model.reset_metrics()
        hooks.on_epoch_begin(epoch)
        order = permutation(train.n, shuffle=spec.shuffle, seed=spec.seed, epoch=epoch)
        step_logs: dict[str, Any] = {}
        for first, chunk in train.chunks(order, pace):
            hooks.on_train_batch_begin(first)
            step_logs = train.train(chunk, pace)
            hooks.on_train_batch_end(first + chunk.steps - 1, step_logs)
            if model.stop_training:
                break
        logs = {k: float(v) for k, v in step_logs.items()}
        if val is not None:
            logs.update({f"val_{k}": v for k, v in val.evaluate(val_pace, hooks).items()})
        hooks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    if spec.epochs > start:
        model.optimizer.finalize_variable_values(model.trainable_weights)
    hooks.on_train_end(logs=logs)
    s.evaluator = lambda part: Feed(model, part, **common).evaluate(Pace(fixed, 1))
