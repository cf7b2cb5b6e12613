"""Stage 6, train: the resident feed, `Model.fit`'s loop over examples held in memory as tensors. Imports keras.

`Model.fit` on a `tf.data` pipeline pays tf.data's cost on every batch: about 0.1 ms on a CPU, which is more than
a whole training step of the book's MLPs. Here a split stays in memory as tensors, and one compiled call runs many
steps (`Pace`) in a graph loop: it gathers its batches by index from the epoch's permutation, then each step calls
the model's own `train_step` (XLA-compiled where `jit_compile` is on) on one of them. No tf.data runs per step.

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
from kspec.training.class_weights import class_of, class_table

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
        self.x = tf.convert_to_tensor(part.x)
        self.same = part.y is part.x
        self.y = None if part.y is None or self.same else tf.convert_to_tensor(part.y)
        self.one_hot = one_hot
        self.weights = None
        if class_weight and self.y is not None:
            self.weights = tf.constant(class_table(class_weight, self.y), tf.float32)
        self.model = model
        self._train = self._runner(model.train_step, jit)
        self._test = self._runner(model.test_step, False)  # evaluation: too few steps to repay XLA's compilation

    @property
    def steps(self) -> int:
        return -(-self.n // self.batch_size)

    def batch(self, i: tf.Tensor) -> Any:
        """The examples `i` (any shape of indices) as `train_step` takes them: `x`, `(x, y)` or
        `(x, y, sample_weight)`."""
        import tensorflow as tf

        xb = tf.gather(self.x, i)
        if self.same:
            return xb, xb
        if self.y is None:
            return xb
        yb = tf.gather(self.y, i)
        target = tf.one_hot(yb, self.one_hot, dtype=tf.float32) if self.one_hot else yb
        if self.weights is None:
            return xb, target
        return xb, target, tf.gather(self.weights, class_of(yb, tuple(self.y.shape[1:])))

    def _runner(self, step: Callable[[Any], Any], jit: bool) -> Callable[[tf.Tensor], dict[str, Any]]:
        """A compiled call running `step` once per row of `rows` ([steps, batch] example indices), in order.

        The call gathers all its batches with one gather, then slices one per step: a gather per step in the loop
        costs more than the bulk copy (graph ops in a loop body carry a fixed cost each).
        """
        import tensorflow as tf

        def run(rows: tf.Tensor, one: Callable[[Any], Any]) -> dict[str, Any]:
            data = self.batch(rows)  # [steps, batch, ...] for each part

            def body(j: tf.Tensor) -> tf.Tensor:
                one(tf.nest.map_structure(lambda t: t[j], data))
                return j + 1

            # one iteration at a time: each step's variable updates finish before the next step reads them
            tf.while_loop(lambda j: j < tf.shape(rows)[0], body, [tf.constant(0)], parallel_iterations=1)
            return self.model.get_metrics_result()  # type: ignore[no-any-return]

        # One trace per batch width (the full batches, the last one), whatever the number of steps: calls of a
        # growing pace reuse it, and the steps see static batch shapes, as `fit` gives them. XLA compiles the full
        # batches' step only: the last, smaller batch runs once an epoch, and a second XLA program for it would
        # cost seconds of compilation and (for an LSTM) about 90 MB of peak memory.
        traced: dict[int, Any] = {}

        def call(rows: tf.Tensor) -> dict[str, Any]:
            width = int(rows.shape[1])
            if width not in traced:
                one = tf.function(step, jit_compile=jit and width == self.batch_size)
                signature = [tf.TensorSpec([None, width], tf.int64)]
                traced[width] = tf.function(lambda r: run(r, one), input_signature=signature)
            return traced[width](rows)  # type: ignore[no-any-return]

        return call

    def chunks(self, order: tf.Tensor, pace: Pace) -> Iterator[tuple[int, tf.Tensor]]:
        """(first step, rows of example indices) for each compiled call over `order`: the full batches, `pace.size()`
        at a time, then the last, smaller batch alone."""
        import tensorflow as tf

        full, bs = self.n // self.batch_size, self.batch_size
        rows = tf.reshape(order[: full * bs], [full, bs])
        first = 0
        while first < full:
            count = min(pace.size(), full - first)
            yield first, rows[first : first + count]
            first += count
        if self.n > full * bs:
            yield full, tf.reshape(order[full * bs :], [1, -1])

    def step_bytes(self) -> int:
        """Bytes one batch gathers (inputs and targets)."""
        parts = [self.x] if self.same or self.y is None else [self.x, self.y]
        return self.batch_size * sum(int(t.dtype.size) * int(t.shape[1:].num_elements() or 1) for t in parts)

    def train(self, rows: tf.Tensor, pace: Pace) -> dict[str, Any]:
        return _timed(self._train, rows, pace)

    def evaluate(self, pace: Pace, callbacks: Any = None) -> dict[str, float]:
        """The model's loss and metrics over this split, in order (as `Model.evaluate` gives them)."""
        import tensorflow as tf

        self.model.reset_metrics()
        if callbacks is not None:
            callbacks.on_test_begin()
        logs: dict[str, Any] = {}
        for first, rows in self.chunks(tf.range(self.n, dtype=tf.int64), pace):
            if callbacks is not None:
                callbacks.on_test_batch_begin(first)
            logs = _timed(self._test, rows, pace)
            if callbacks is not None:
                callbacks.on_test_batch_end(first + int(rows.shape[0]) - 1, logs)
        out = {k: float(v) for k, v in logs.items()}
        if callbacks is not None:
            callbacks.on_test_end(out)
        return out


def _timed(run: Callable[[tf.Tensor], dict[str, Any]], rows: tf.Tensor, pace: Pace) -> dict[str, Any]:
    start = time.perf_counter()
    logs = run(rows)
    pace.took(time.perf_counter() - start, int(rows.shape[0]))
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
    val = Feed(model, s.splits.validation, **common) if s.splits.validation else None
    fixed = None if spec.steps_per_execution == "auto" else int(spec.steps_per_execution)
    pace, val_pace = Pace(fixed, train.step_bytes()), Pace(fixed, val.step_bytes() if val else 1)
    prime(model, train)
    verbose = s.verbose()
    hooks = keras.callbacks.CallbackList(
        callbacks,
        add_history=True,
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=spec.epochs,
        steps=train.steps,
        model=model,
    )
    model.stop_training = False
    hooks.on_train_begin()
    logs: dict[str, float] | None = None
    for epoch in range(start, spec.epochs):
        model.reset_metrics()
        hooks.on_epoch_begin(epoch)
        order = permutation(train.n, shuffle=spec.shuffle, seed=spec.seed, epoch=epoch)
        step_logs: dict[str, Any] = {}
        for first, rows in train.chunks(order, pace):
            hooks.on_train_batch_begin(first)
            step_logs = train.train(rows, pace)
            hooks.on_train_batch_end(first + int(rows.shape[0]) - 1, step_logs)
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
