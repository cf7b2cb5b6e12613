"""Stage train, `distribute: multi_worker`: SIGINT and SIGTERM stop every worker after the same step.

A worker that raised on the signal at once would leave its peers blocked in their next all-reduce (they fail only
when the collective notices it is gone), and the chief could not end cleanly. So while the distributed loop runs, a
signal is only recorded: each step all-reduces the workers' stop flags together with its batch share, so every worker
sees the stop after the same step and raises `StoppedTogether` there. The chief's run folder then holds the checkpoint
of the last completed epoch, and its message names the resume command. Standard library only.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: a worker's stop flag: SIGINT counts 1, SIGTERM 2**16, so the all-reduced sum still tells whether any was SIGTERM
FLAGS = {"SIGINT": 1.0, "SIGTERM": 65536.0}


class StoppedTogether(KeyboardInterrupt):
    """A signal reached this worker or another one; every worker stops after the same step."""

    def __init__(self, signal_name: str, here: bool) -> None:
        super().__init__(f"interrupted ({signal_name})")
        self.signal_name, self.here = signal_name, here


class Stop:
    """The signal this worker received while the loop ran (None: none)."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def flag(self) -> float:
        return FLAGS.get(self.signal_name or "", 0.0)

    def check(self, total: float) -> None:
        """After a step: `total` is the all-reduced flags of every worker; raise if any worker was signalled."""
        if total > 0:
            name = self.signal_name or ("SIGTERM" if total >= FLAGS["SIGTERM"] else "SIGINT")
            raise StoppedTogether(name, self.signal_name is not None)


@contextlib.contextmanager
def deferred_signals(active: bool = True) -> Iterator[Stop]:
    """While the block runs, SIGINT and SIGTERM are recorded in the `Stop` it yields instead of raising. A signal that
    no step has acted on when the block ends is raised then, as a `StoppedTogether`."""
    stop = Stop()
    if not active or threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def record(signum: int, frame: object) -> None:
        stop.signal_name = signal.Signals(signum).name

    previous = {s: signal.signal(s, record) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if stop.signal_name is not None:
        raise StoppedTogether(stop.signal_name, True)
