"""Stage train: SIGINT and SIGTERM are acted on between steps, never inside TensorFlow.

Python raises `KeyboardInterrupt` at whatever bytecode the main thread runs next, and during training that is often
TensorFlow's own Python around its C++ calls. TensorFlow 2.21 does not survive every such place: a Ctrl-C that came
while an epoch's index table was being sliced crashed the process with SIGSEGV inside its tensor conversion
(`Converter<int>::Convert`), with nothing saved or said. So while `between_steps` runs, the first signal is only
recorded (and a line says so), and `check()` raises it where kspec's own code runs: after a step or a compiled call
of steps, after an epoch, and between the phases before and after training. A second signal raises at once, so a
step that never ends can still be stopped. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Signalled(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised in the main thread like Ctrl-C's `KeyboardInterrupt`; `signal_name` says which."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"interrupted ({signal_name})")
        self.signal_name = signal_name


def sigterm_as_interrupt(signum: int, frame: object) -> None:
    """A SIGTERM handler that raises `Signalled("SIGTERM")` in the main thread, as Ctrl-C raises KeyboardInterrupt."""
    raise Signalled("SIGTERM")


class _Pending:
    """The signal received and not yet acted on (None: none), and whether a block is deferring signals."""

    name: str | None = None
    deferring = False


_pending = _Pending()


def check() -> None:
    """Raise the signal recorded since the block began, if any. Call it only where no TensorFlow code is running."""
    name = _pending.name
    if name is not None:
        _pending.name = None
        raise Signalled(name)


@contextlib.contextmanager
def between_steps(active: bool = True) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM wait for the next `check()`; a second one raises at once. A signal
    still waiting when the block ends is raised then, unless the block ended normally: the work is then done (a run
    that finished as it was signalled is complete, not interrupted). Inactive outside the main thread (where Python
    cannot set handlers), when `active` is false (`multi_worker` stops every worker together instead) and inside an
    enclosing block."""
    if not active or _pending.deferring or threading.current_thread() is not threading.main_thread():
        yield
        return

    def record(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if _pending.name is not None:
            _pending.name = None
            raise Signalled(name)
        _pending.name = name
        again = "press Ctrl-C again" if signum == signal.SIGINT else "send SIGTERM again"
        # os.write, not print: the handler may run while the main thread is inside a write to sys.stderr
        os.write(2, f"\nkspec: {name}: stopping after the current step ({again} to stop at once)\n".encode())

    previous = {s: signal.signal(s, record) for s in _SIGNALS}
    _pending.deferring = True
    try:
        yield
    except BaseException:
        _pending.name = None  # the block is ending anyway: its exception says why
        raise
    finally:
        _pending.deferring = False
        for s, handler in previous.items():
            signal.signal(s, handler)
    if _pending.name is not None:
        name, _pending.name = _pending.name, None
        os.write(2, f"kspec: {name} came as the work finished; it is complete\n".encode())
