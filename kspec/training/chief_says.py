"""Stage train, `distribute: multi_worker`: what the chief tells the other workers, over the strategy's collective.

Only the chief (worker 0) has the run folder, so only it can open a run to resume and read its checkpoint. Before any
training, it tells every worker how the run starts (`FRESH`; `RESUME`; `FINISHED`: a resumed run that has already
finished; `STOP`: the chief failed before training, e.g. a changed spec). When resuming, it then sends the two files
of the checkpoint it restored (`epoch-n.json` and `epoch-n.npz`), which the other workers write into their own
temporary run folders and restore from, through the same checks. So every worker continues from the chief's state
(weights, optimizer slots, random-generator states, history, callback state), and no worker but the chief needs the
run folder: on several machines it is on the chief's only.

Bytes travel as an all-reduce (sum) of an int32 vector to which the other workers contribute zeros: the sum is the
chief's bytes, exactly (an integer sum, so no float rounding or NaN can touch them); its length goes first, as int64.
Imports TensorFlow inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kspec.training.runs import TrainingError

if TYPE_CHECKING:
    from kspec.training.checkpoint import Checkpoint

#: how the run starts, as the chief tells it
FRESH, RESUME, STOP, FINISHED = 0, 1, 2, 3


def _sum(strategy: Any, values: Any) -> Any:
    """An all-reduce (sum) over the workers of this worker's integer vector; this worker's copy of the result."""
    import tensorflow as tf

    def replica(v: Any) -> Any:
        with tf.device(strategy.extended.worker_devices[0]):  # the collective takes its devices from the value's
            v = tf.identity(v)
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, v)

    result = tf.function(lambda v: strategy.run(replica, args=(v,)))(tf.constant(values))
    return strategy.experimental_local_results(result)[0].numpy()


def tell(strategy: Any, chief: bool, word: int = 0, payload: bytes = b"") -> tuple[int, bytes]:
    """The chief's word and bytes, on every worker (the others pass nothing: their arguments are ignored).

    Every worker must call this at the same point, the same number of times (it is a collective).
    """
    import numpy as np

    header = _sum(strategy, np.array([word, len(payload)] if chief else [0, 0], np.int64))
    said, size = int(header[0]), int(header[1])
    if size == 0:
        return said, b""
    padded = (size + 3) // 4 * 4
    if chief:
        data = np.frombuffer(payload + b"\0" * (padded - size), np.int32)
    else:
        data = np.zeros(padded // 4, np.int32)
    return said, _sum(strategy, data).astype(np.int32).tobytes()[:size]


def _tell_quietly(strategy: Any, word: int) -> None:
    """Tell the other workers `word` on the way out of a failure (they may be gone already: then nothing to tell)."""
    try:
        tell(strategy, True, word)
    except Exception:  # noqa: BLE001  # a peer that left fails the collective; the original failure is the story
        pass


def start(strategy: Any, chief: bool, word: int = FRESH) -> int:
    """How the run starts, on every worker: the chief's `word` (`FRESH`, `RESUME`, `FINISHED`, `STOP`)."""
    return tell(strategy, chief, word)[0]


def stop(strategy: Any) -> None:
    """The chief failed (or was interrupted) before training: the other workers end instead of waiting for it."""
    _tell_quietly(strategy, STOP)


def restore_everywhere(chief: bool, ckpt: Checkpoint) -> int:
    """`--resume` under `multi_worker`: the chief restores its newest usable checkpoint and sends it; the other workers
    restore the same one from what it sent. Returns the completed epochs (the same on every worker)."""
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    if chief:
        try:
            epoch = ckpt.restore()
        except BaseException:
            _tell_quietly(strategy, STOP)
            raise
        tell(strategy, True, RESUME, ckpt.payload(epoch))
        return epoch
    word, payload = tell(strategy, False)
    if word == STOP:
        raise TrainingError("worker 0 (the chief) could not restore its checkpoint; its output says why")
    return ckpt.receive(payload)
