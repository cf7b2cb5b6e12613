"""Stage 6, train: the compiled calls of the resident feed (`resident`). Imports tensorflow inside the functions.

A call runs a model's train or test step once per row of a chunk of the epoch's index table: under XLA one program
(loop, gathers and steps), otherwise a graph loop; `compiled_calls` keeps them per model, so every split and
evaluation of a model shares its traces.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from kspec.training.class_weights import class_of
from kspec.training.memory import give_back

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


class Chunk(NamedTuple):
    """The steps of one compiled call: rows `first .. first + steps - 1` of `table` ([steps, batch] example indices
    of a whole pass over a split, or of its last, smaller batch)."""

    table: tf.Tensor
    first: int
    steps: int

    @property
    def rows(self) -> tf.Tensor:
        return self.table[self.first : self.first + self.steps]


def gather(tensors: tuple[Any, Any, Any], i: tf.Tensor, *, same: bool, one_hot: int | None) -> Any:
    """The examples `i` of the split (`Feed.tensors`) as `train_step` takes them."""
    import tensorflow as tf

    x, y, weights = tensors
    xb = tf.nest.map_structure(lambda t: tf.gather(t, i), x)
    if same:
        return xb, xb
    if y is None:
        return xb
    yb = tf.nest.map_structure(lambda t: tf.gather(t, i), y)
    target = tf.one_hot(yb, one_hot, dtype=tf.float32) if one_hot else yb
    if weights is None:
        return xb, target
    return xb, target, tf.gather(weights, class_of(yb, tuple(y.shape[1:])))


#: a model's compiled calls, shared by all its feeds (training, validation, test, `kspec evaluate`): a new
#: `tf.function` per feed would trace again each time, and TensorFlow warns about frequent retracing
_CALLS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()


def compiled_calls(model: keras.Model, kind: str, jit: bool, layout: tuple[Any, ...]) -> Any:
    """The compiled calls running `model`'s `kind` ("train" or "test") step once per row of a chunk.

    The split's tensors are arguments, not captured constants, so every split of the same layout shares the traces.
    With XLA (training only), one program runs a chunk of full batches: the loop, each step's gather and the step
    itself. It takes the whole pass's table of indices with the first row and the step count as tensors, so the
    program is compiled once per model and split size, whatever the pace. (Slicing the table with a tensor start
    would not do: XLA needs a slice's bounds as constants, and recompiles for every chunk.) Without XLA, a graph loop
    serves the full batches (static batch shape, as `fit` gives them): it gathers all its batches with one gather,
    then slices one per step, because in a graph loop every op carries a fixed cost that a bulk copy avoids. One
    more graph trace serves every smaller last batch (batch size unknown, as `fit`'s relaxed retrace has it), also
    under XLA: a second XLA program for a batch run once an epoch would cost seconds of compilation and (for an LSTM)
    about 90 MB of peak memory. So at most two traces per step kind and model, whatever the number of steps, splits
    or evaluations.
    """
    import tensorflow as tf

    per_model = _CALLS.setdefault(model, {})
    key = (kind, jit, layout)
    if key in per_model:
        return per_model[key]
    same, one_hot, *specs = layout
    # the calls reach the model through a weak reference: `_CALLS` holds them for as long as the model lives, so a
    # strong one would keep every model of a process (each trial of `kspec tune`) alive with its optimizer and programs
    owner = weakref.ref(model)

    def live() -> keras.Model:
        found = owner()
        assert found is not None, "a compiled call outlived its model"
        return found

    def step(data: Any) -> Any:
        return live().train_step(data) if kind == "train" else live().test_step(data)

    present = [
        tf.nest.map_structure(lambda s: tf.TensorSpec([None, *s.shape], s.dtype), spec)
        for spec in specs
        if spec is not None
    ]

    def with_metrics(run_steps: Callable[..., Any]) -> Callable[..., dict[str, Any]]:
        def run(*args: Any) -> dict[str, Any]:
            run_steps(*args)
            return live().get_metrics_result()  # type: ignore[no-any-return]

        return run

    def loop(width: int | None) -> Any:
        """A graph loop over [steps, batch] rows: one bulk gather, then one slice per step."""

        def run(rows: tf.Tensor, x: tf.Tensor, y: tf.Tensor | None, w: tf.Tensor | None) -> None:
            data = gather((x, y, w), rows, same=same, one_hot=one_hot)  # [steps, batch, ...] for each part

            def body(j: tf.Tensor) -> tf.Tensor:
                step(tf.nest.map_structure(lambda t: t[j], data))
                return j + 1

            # one iteration at a time: each step's variable updates finish before the next step reads them
            tf.while_loop(lambda j: j < tf.shape(rows)[0], body, [tf.constant(0)], parallel_iterations=1)

        signature = [tf.TensorSpec([None, width], tf.int64), *present]
        entry = _ENTRIES[kind](with_metrics(lambda rows, *parts: run(rows, *_unpack(parts, specs))))
        return tf.function(entry, signature, autograph=False)

    def program(width: int | None) -> Any:
        """One XLA program over rows `first .. first + count - 1` of a [steps, batch] table: a gather per step."""

        def run(table: tf.Tensor, first: tf.Tensor, count: tf.Tensor, x: Any, y: Any, w: Any) -> None:
            def body(j: tf.Tensor) -> tf.Tensor:
                step(gather((x, y, w), tf.gather(table, first + j), same=same, one_hot=one_hot))
                return j + 1

            tf.while_loop(lambda j: j < count, body, [tf.constant(0)], parallel_iterations=1)

        scalar = tf.TensorSpec([], tf.int32)
        signature = [tf.TensorSpec([None, width], tf.int64), scalar, scalar, *present]
        run_all = with_metrics(lambda table, first, count, *parts: run(table, first, count, *_unpack(parts, specs)))
        return tf.function(_ENTRIES[kind](run_all), signature, autograph=False, jit_compile=True)

    # `autograph=False` in both, as `fit` does (Keras marks its step `do_not_convert`): the loops are explicit, and
    # converting the steps' Python source again for each trace cost about 0.3 s of the first epoch
    full: dict[int, Any] = {}
    rest = loop(None)

    def call(chunk: Chunk, tensors: tuple[Any, Any, Any], batch_size: int) -> dict[str, Any]:
        parts = [t for t in tensors if t is not None]
        if int(chunk.table.shape[1]) != batch_size:
            logs = rest(chunk.rows, *parts)
            if jit:
                give_back()  # the graph step's freed scratch (an LSTM's: ~60-90 MB), before validation and saving
            return logs  # type: ignore[no-any-return]
        if batch_size not in full:
            # several outputs: Keras weighs each output's loss metric by the static batch size, which `fit` leaves
            # unknown; so does this trace, and the per-output losses average over batches as in `fit`
            width = batch_size if len(live().outputs) == 1 else None
            full[batch_size] = program(width) if jit else loop(width)
            if jit:
                # compile with a call of no steps, and hand back what the compiler freed before any step runs: the
                # program's scratch buffers then land on a lower floor (the ch5 LSTM: ~90 MB less RSS after it)
                full[batch_size](chunk.table, chunk.first, 0, *parts)
                give_back()
        if jit:
            return full[batch_size](chunk.table, chunk.first, chunk.steps, *parts)  # type: ignore[no-any-return]
        return full[batch_size](chunk.rows, *parts)  # type: ignore[no-any-return]

    per_model[key] = call
    return call


def _train_entry(run: Callable[..., Any]) -> Callable[..., Any]:
    def train_steps(rows: Any, *parts: Any) -> Any:
        return run(rows, *parts)

    return train_steps


def _test_entry(run: Callable[..., Any]) -> Callable[..., Any]:
    def test_steps(rows: Any, *parts: Any) -> Any:
        return run(rows, *parts)

    return test_steps


#: one Python function per step kind: TensorFlow counts traces per function body, so the train and test calls of
#: a model (each traced once per batch shape) are counted apart
_ENTRIES = {"train": _train_entry, "test": _test_entry}


def _unpack(parts: tuple[Any, ...], specs: list[Any]) -> list[Any]:
    """The compiled call's tensor arguments back in their places (x, y, weights), None where a part is absent."""
    it = iter(parts)
    return [None if spec is None else next(it) for spec in specs]
