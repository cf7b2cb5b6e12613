"""`interrupts.between_steps`: a first SIGINT or SIGTERM waits for `check()`, a second raises at once, and the handlers
before the block are back after it."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from kspec.training import interrupts


def _signal_self(sig: signal.Signals) -> None:
    os.kill(os.getpid(), sig)
    time.sleep(0.01)  # Python runs its handler at the next bytecode of the main thread


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_first_signal_waits_for_check(sig: signal.Signals, capfd: pytest.CaptureFixture[str]) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    reached = False
    with pytest.raises(interrupts.Signalled) as raised, interrupts.between_steps():
        _signal_self(sig)
        reached = True  # not interrupted here, in the middle of the "step"
        interrupts.check()
    assert reached and raised.value.signal_name == sig.name
    assert f"kspec: {sig.name}: stopping after the current step" in capfd.readouterr().err
    assert {s: signal.getsignal(s) for s in before} == before
    interrupts.check()  # nothing is left pending


def test_a_second_signal_raises_at_once() -> None:
    reached = False
    with pytest.raises(interrupts.Signalled), interrupts.between_steps():
        _signal_self(signal.SIGINT)
        _signal_self(signal.SIGINT)
        reached = True
    assert not reached


def test_a_block_that_ends_normally_is_not_interrupted_afterwards(capfd: pytest.CaptureFixture[str]) -> None:
    with interrupts.between_steps():
        _signal_self(signal.SIGTERM)
    assert "SIGTERM came as the work finished; it is complete" in capfd.readouterr().err
    interrupts.check()


def test_inactive_blocks_leave_signals_alone() -> None:
    with pytest.raises(KeyboardInterrupt) as raised, interrupts.between_steps(active=False):
        _signal_self(signal.SIGINT)
    assert not isinstance(raised.value, interrupts.Signalled)  # Python's own handler raised it
    with pytest.raises(interrupts.Signalled), interrupts.between_steps():
        with interrupts.between_steps():  # nested: the outer block's handlers stay
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
            _signal_self(signal.SIGINT)
        interrupts.check()


def test_outside_the_main_thread_the_block_does_nothing() -> None:
    seen: list[object] = []

    def run() -> None:
        with interrupts.between_steps():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]
