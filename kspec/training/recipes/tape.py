"""Recipe `tape`: the book's ch9.5 GradientTape loop, doing what `fit` does (forward, loss, gradients, optimizer
step, metrics, validation); also `fit`'s loop under `distribute: multi_worker`, through `strategy.run`. Imports keras.

It saves a `Checkpoint` after every epoch (model variables with their random-generator states, optimizer slots), and
`--resume` continues from the last completed epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kspec.training import interrupts
from kspec.training.checkpoint import Checkpoint
from kspec.training.class_weights import class_of
from kspec.training.objects import compile_args, user_callbacks
from kspec.training.progress import Progress
from kspec.training.recipes.loop_parts import resume
from kspec.training.recipes.registry import recipe
from kspec.training.session import Session
from kspec.training.together import Stop, deferred_signals

if TYPE_CHECKING:
    import keras


@recipe("tape")
def tape(s: Session) -> dict[str, list[float]]:
    """A `GradientTape` loop doing what `fit` does: forward, loss, gradients, optimizer step, metrics, validation.

    Under `distribute: multi_worker` (where Keras's `fit` fails) the same loop runs distributed: the strategy in scope
    feeds each replica its share of every global batch (tf.data sharded by DATA), the step runs in `strategy.run`,
    each replica's loss is weighted by its share of the global batch so the all-reduced (summed) gradients are those
    of the global batch mean, and the metrics (sync-on-read variables) are read summed over all replicas.
    """
    import keras
    import tensorflow as tf

    model = s.model
    model.compile(**compile_args(s.spec, s.compiled.outputs.get(s.name), s.compiled.losses))
    opt = model.optimizer
    opt.build(model.trainable_variables)
    loss_mean = keras.metrics.Mean(name="loss")
    strategy = tf.distribute.get_strategy() if s.spec.distribute == "multi_worker" else None
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1

    weights = s.class_weight()  # multi_worker only: the spec refuses class_weight for recipe tape
    table = tf.constant([weights[c] for c in range(len(weights))], tf.float32) if weights else None

    def step(x: Any, y: Any, flag: Any = None) -> Any:
        sw = None if table is None else tf.gather(table, class_of(y, tuple(y.shape[1:])))  # as fit weighs
        stops = None
        with tf.GradientTape() as gt:
            pred = model(x, training=True)
            loss = model.compute_loss(x=x, y=y, y_pred=pred, sample_weight=sw, training=True)
            if strategy is not None:  # Keras divides by the replica count; weight by the share of the batch instead
                n, total, stops = batch_share(x, flag)
                loss = loss * replicas
                scaled = opt.scale_loss(loss * n / total)
            else:
                scaled = opt.scale_loss(loss)
        grads = gt.gradient(scaled, model.trainable_variables)
        opt.apply(grads, model.trainable_variables)
        if strategy is not None:
            loss_mean.update_state(loss, sample_weight=n)
        else:
            loss_mean.update_state(loss)
        model.compute_metrics(x, y, pred, sample_weight=sw)
        return stops

    step_fn: Any = step if strategy is None else replicated(strategy, step)
    step_fn = tf.function(step_fn, jit_compile=s.jit(model), reduce_retracing=True)
    # under multi_worker the spec's callbacks see the all-reduced logs, the same on every worker, so they decide alike
    callbacks = user_callbacks(s.spec, s.run_dir, s.resuming) if strategy is not None else []
    ckpt = Checkpoint(s, {"model": list(model.variables), "optimizer": list(opt.variables)}, callbacks, model)
    start = resume(s, ckpt)
    board = []
    if strategy is not None and s.chief and s.spec.tensorboard:  # the chief writes; the others' logs would repeat it
        board = [keras.callbacks.TensorBoard(str(s.run_dir / "tensorboard"), histogram_freq=1, write_graph=True)]
    hooks = keras.callbacks.CallbackList(
        [*callbacks, *board], model=model, epochs=s.spec.epochs, steps=s.steps_in_epoch()
    )
    model.stop_training = False
    hooks.on_train_begin()
    ckpt.apply_callback_state()
    train_ds, val_ds = s.dataset(s.splits.train, training=True), s.dataset(s.splits.validation)
    assert train_ds is not None
    if strategy is not None:
        evaluate = _distributed_evaluate(s, strategy, replicas)
        s.evaluator = lambda part: {k: float(v) for k, v in evaluate(s.dataset(part)).items()}
    else:
        evaluate = lambda ds: model.evaluate(ds, verbose=0, return_dict=True)  # noqa: E731
    batches = train_ds if strategy is None else distribute(strategy, train_ds)
    steps = s.steps_in_epoch()
    progress = Progress(s.spec.epochs, steps, first=start, verbose=s.verbose())
    with deferred_signals(strategy is not None) as stop:  # multi_worker: a signal stops every worker at one step
        history = _epochs(s, start, hooks, ckpt, progress, loss_mean, batches, val_ds, evaluate, step_fn, stop)
    hooks.on_train_end(logs=None)
    return history


def _epochs(
    s: Session,
    start: int,
    hooks: Any,
    ckpt: Checkpoint,
    progress: Progress,
    loss_mean: Any,
    batches: Any,
    val_ds: Any,
    evaluate: Any,
    step_fn: Any,
    stop: Stop,
) -> dict[str, list[float]]:
    import tensorflow as tf

    model, steps, distributed = s.model, s.steps_in_epoch(), s.spec.distribute == "multi_worker"
    for epoch in range(start, s.end_epoch()):
        progress.epoch_begin(epoch)
        hooks.on_epoch_begin(epoch)
        loss_mean.reset_state()
        for metric in model.metrics:
            metric.reset_state()
        logs: dict[str, Any] = {}
        for i, (x, y) in enumerate(s.epoch_batches(batches, epoch)):
            if distributed:
                stop.check(float(step_fn(x, y, tf.constant(stop.flag()))))
            else:
                step_fn(x, y)
                interrupts.check()  # a SIGINT/SIGTERM is acted on here, between steps
            if i % 10 == 0 or i + 1 == steps:
                logs = {**{k: v for k, v in _results(model).items() if k != "loss"}, "loss": loss_mean.result()}
                progress.batch_end(i, logs)
        logs = {"loss": loss_mean.result(), **{k: v for k, v in _results(model).items() if k != "loss"}}
        if val_ds is not None:
            val = evaluate(val_ds)
            logs.update({f"val_{k}": v for k, v in val.items()})
        progress.epoch_end(epoch, logs)
        logs = {k: float(v) for k, v in logs.items()}
        hooks.on_epoch_end(epoch, logs)  # before the checkpoint: a ReduceLROnPlateau change is saved
        s.log_epoch(logs)
        ckpt.save(epoch + 1)
        if model.stop_training:
            break
    return s.history


def batch_share(x: Any, flag: Any = None) -> tuple[Any, Any, Any]:
    """In a replica: this replica's example count, the global batch's, and the sum of the workers' stop flags
    (`together`), all-reduced in one call, as float32."""
    import tensorflow as tf

    n = tf.cast(tf.shape(tf.nest.flatten(x)[0])[0], tf.float32)
    both = tf.stack([n, tf.zeros_like(n) if flag is None else tf.cast(flag, tf.float32)])
    summed = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, both)
    return n, tf.maximum(summed[0], 1.0), summed[1]


def replicated(strategy: Any, fn: Any) -> Any:
    """`fn` run on every replica by `strategy.run`; what it returns, as this worker's first replica has it."""

    def run(*args: Any) -> Any:
        out = strategy.run(fn, args=args)
        return None if out is None else strategy.experimental_local_results(out)[0]

    return run


def distribute(strategy: Any, ds: Any) -> Any:
    """A dataset of global batches, split over the replicas of all workers (each worker reads its share, by DATA)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(ds.with_options(options))


def _distributed_evaluate(s: Session, strategy: Any, replicas: int) -> Any:
    """`model.evaluate` for a strategy that `evaluate` fails under: loss and compiled metrics over all replicas."""
    import keras
    import tensorflow as tf

    model = s.model
    loss_mean = keras.metrics.Mean(name="loss")

    def step(x: Any, y: Any) -> None:
        pred = model(x, training=False)
        loss = model.compute_loss(x=x, y=y, y_pred=pred, training=False) * replicas
        n, _, _ = batch_share(x)
        loss_mean.update_state(loss, sample_weight=n)
        model.compute_metrics(x, y, pred)

    step_fn = tf.function(replicated(strategy, step), reduce_retracing=True)  # the last batch is smaller

    def evaluate(ds: Any) -> dict[str, Any]:
        loss_mean.reset_state()
        for metric in model.metrics:
            metric.reset_state()
        for x, y in distribute(strategy, ds):
            step_fn(x, y)
        return {"loss": loss_mean.result(), **{k: v for k, v in _results(model).items() if k != "loss"}}

    return evaluate


def _results(model: keras.Model) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in model.metrics:
        result = metric.result()
        out.update(result if isinstance(result, dict) else {metric.name: result})
    return out
