"""Recipes `fit` and `autoencoder`: `Model.compile`, then the resident feed's copy of `Model.fit`'s loop (or
`Model.fit` on tf.data where the spec needs it), resumable per epoch. Keras is imported inside the functions."""

from __future__ import annotations

from typing import Any

from kspec.training import interrupts, resident
from kspec.training.checkpoint import Checkpoint
from kspec.training.objects import compile_args, user_callbacks
from kspec.training.progress import Progress
from kspec.training.progress import callback as progress_callback
from kspec.training.recipes.registry import recipe
from kspec.training.session import Session


class _EpochLog:
    """A Keras callback: sets the epoch for the data order, writes history and the checkpoint after the epoch, and
    acts on a SIGINT or SIGTERM between steps (`interrupts`)."""

    def __new__(cls, session: Session, checkpoint: Checkpoint) -> Any:
        import keras

        class EpochLog(keras.callbacks.Callback):  # type: ignore[misc]
            def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
                checkpoint.apply_callback_state()  # last in the list: after the spec's callbacks reset themselves

            def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                interrupts.check()  # here, not at the epoch's end: the progress line of the epoch before is out
                session.begin_epoch(epoch)

            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                session.log_epoch(logs or {})  # history first: a kill before the checkpoint repeats this epoch
                checkpoint.save(epoch + 1)

            def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
                interrupts.check()  # after a step, or a compiled call of steps: no TensorFlow code is running

            def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
                interrupts.check()

        return EpochLog()


def _xla_failure(exc: Exception) -> bool:
    text = str(exc)
    return any(k in text for k in ("XLA", "xla", "jit_compile", "JIT", "not supported by XLA", "Unimplemented"))


@recipe("fit")
@recipe("autoencoder")
def fit(s: Session) -> dict[str, list[float]]:
    """`Model.compile`, then `resident.fit` (or `Model.fit` on tf.data where the spec needs it), with XLA where it
    pays and many steps per compiled call; resumable per epoch."""
    import keras

    if s.spec.distribute == "multi_worker":  # Keras 3's fit fails under MultiWorkerMirroredStrategy (keras#20585)
        from kspec.training.recipes.tape import tape

        with s.compiled.freezing(s.name):
            return tape(s)
    with s.compiled.freezing(s.name) as model:
        start_state = [v.numpy() for v in model.variables]
        jit = s.jit(model)
        while True:
            model.compile(
                **compile_args(s.spec, s.compiled.outputs.get(s.name), s.compiled.losses),
                jit_compile=jit,
                steps_per_execution=s.steps_per_execution(),
            )
            model.optimizer.build(model.trainable_variables)  # so that a checkpoint can fill its slots
            # the spec's callbacks end an epoch before the checkpoint does (a ReduceLROnPlateau change is saved)
            callbacks = user_callbacks(s.spec, s.run_dir, s.resuming)
            groups = {"model": list(model.variables), "optimizer": list(model.optimizer.variables)}
            ckpt = Checkpoint(s, groups, callbacks, model)
            start = ckpt.restore() if s.resuming else 0
            if s.spec.tensorboard:
                # histograms of every weight each epoch, and the model graph Keras writes (its config)
                board = keras.callbacks.TensorBoard(str(s.run_dir / "tensorboard"), histogram_freq=1, write_graph=True)
                callbacks.append(board)
            callbacks.append(_EpochLog(s, ckpt))
            progress = Progress(s.spec.epochs, s.steps_in_epoch(), first=start, verbose=s.verbose())
            callbacks.append(progress_callback(progress))  # kspec's own lines instead of Keras's progress bar
            try:
                if s.resident_feed():
                    resident.fit(s, model, jit, callbacks, start)
                    return s.history
                model.fit(
                    s.dataset(s.splits.train, training=True),
                    validation_data=s.dataset(s.splits.validation),
                    epochs=s.end_epoch(),
                    initial_epoch=start,
                    steps_per_epoch=s.spec.steps_per_epoch,
                    shuffle=False,
                    class_weight=s.class_weight(),
                    callbacks=callbacks,
                    verbose=0,
                )
                return s.history
            except Exception as exc:  # XLA may refuse an op only when it compiles the first step
                if not jit or not _xla_failure(exc) or len(s.history.get("loss", [])) > start:
                    raise
                s.notice(f"XLA could not compile this model ({type(exc).__name__}); training without jit_compile")
                jit = False
                for var, value in zip(model.variables, start_state, strict=True):
                    var.assign(value)
