"""Stage train, `distribute: multi_worker` start-up: the strategy is made with a deadline, saying who is waited for.

TensorFlow's `MultiWorkerMirroredStrategy()` blocks inside C++ (holding the GIL, so no Python thread can watch it)
until every task of TF_CONFIG's cluster has connected; it prints nothing meanwhile, never times out, and installs a
C-level SIGTERM handler that swallows the signal. So before it is made, each task listens on its own TF_CONFIG port
and probes its peers' ports (plain TCP, in Python, where signals work): every few seconds it names the peers that do
not answer yet (task, address), and at the deadline, or on SIGINT/SIGTERM, it ends the process with a one-line
message (nothing is written yet at this point: the run folder comes after the strategy). Once the strategy exists,
the SIGTERM handler in place before (or, for Python's default, an interrupt like Ctrl-C's) is put back.
Imports TensorFlow inside the functions.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kspec.training.interrupts import sigterm_as_interrupt

#: seconds between two "waiting for" lines
REPORT_EVERY = 5.0
#: the deadline when the spec gives no `train.distribute_timeout`
DEFAULT_TIMEOUT = 300.0
#: exit status of a worker whose cluster did not form in time (as `timeout(1)`)
TIMED_OUT = 124


def peers() -> list[tuple[str, int, str]]:
    """The other tasks of TF_CONFIG's cluster: (task type, index, host:port); empty without TF_CONFIG."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        cluster, task = config.get("cluster") or {}, config.get("task") or {}
        me = (str(task.get("type", "")), int(task.get("index", 0)))
        return [
            (str(kind), i, str(address))
            for kind, addresses in cluster.items()
            if kind != "evaluator"
            for i, address in enumerate(addresses)
            if (str(kind), i) != me
        ]
    except (ValueError, TypeError, AttributeError):
        return []  # TensorFlow itself reports a malformed TF_CONFIG


def answers(address: str, timeout: float = 0.5) -> bool:
    """Whether something accepts a TCP connection at host:port (a peer whose server has started)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def _quit(message: str, status: int) -> None:
    sys.stdout.flush()
    print(f"kspec: error: {message}", file=sys.stderr, flush=True)
    os._exit(status)


def _own_port() -> int | None:
    """This task's port in TF_CONFIG (None without a cluster of several tasks)."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        task = config["task"]
        address = str(config["cluster"][task["type"]][int(task["index"])])
        return int(address.rpartition(":")[2])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def rendezvous(timeout: float, say: Callable[[str], None]) -> None:
    """Wait until every peer of TF_CONFIG's cluster accepts connections on its port, at most `timeout` seconds.

    This task listens on its own port meanwhile (the kernel completes the peers' probes; nothing is read), so two
    workers started in any order see each other; a peer that has gone on has TensorFlow's server on that port. Gives
    up with exit status 124 and the peers that never answered; SIGINT/SIGTERM end the wait with 130/143.
    """
    others, port = peers(), _own_port()
    if not others or port is None:
        return
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("", port))
        listener.listen(16)
    except OSError as exc:
        listener.close()
        _quit(f"cannot listen on port {port} (this task's address in TF_CONFIG): {exc.strerror or exc}", TIMED_OUT)
    start = time.monotonic()
    last = start
    try:
        while True:
            missing = [(kind, i, address) for kind, i, address in others if not answers(address)]
            now = time.monotonic()
            if not missing:
                return
            names = ", ".join(f"{kind} {i} ({address})" for kind, i, address in missing)
            if now - start >= timeout:
                _quit(
                    f"the multi-worker cluster did not form within {timeout:g} s; not answering: {names}. Start "
                    "every task of TF_CONFIG's cluster, or raise train.distribute_timeout",
                    TIMED_OUT,
                )
            if now - last >= REPORT_EVERY:
                say(f"kspec: waiting for {names} ({now - start:.0f} s of {timeout:g} s)")
                last = now
            time.sleep(0.2)
    except KeyboardInterrupt as exc:
        name = str(getattr(exc, "signal_name", "SIGINT"))
        _quit(f"stopped ({name}) while waiting for the multi-worker cluster; nothing was trained", 128 + _signum(name))
    finally:
        listener.close()


def make_strategy(timeout: float | None, say: Callable[[str], None] | None = None) -> Any:
    """`tf.distribute.MultiWorkerMirroredStrategy()` once every peer answers, waited for at most `timeout` seconds.

    Args:
        timeout: seconds until the process gives up (exit status 124); None: `DEFAULT_TIMEOUT`.
        say: where the progress lines go (default: stderr).

    Returns:
        The strategy. SIGTERM is handled by Python again (as an interrupt where no handler was set).
    """
    import tensorflow as tf

    tell = say or (lambda line: print(line, file=sys.stderr, flush=True))
    sigterm = signal.getsignal(signal.SIGTERM)
    _own_sigterm(sigterm)
    rendezvous(DEFAULT_TIMEOUT if timeout is None else timeout, tell)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    _own_sigterm(sigterm)
    return strategy


def _signum(name: str) -> int:
    return int(getattr(signal, name, signal.SIGINT))


def _own_sigterm(handler: Any) -> None:
    """Put back the SIGTERM handler TensorFlow's coordination service replaced (its C handler swallows the signal).

    Where the handler was Python's default (which ends the process without cleanup), SIGTERM becomes an exception in
    the main thread instead, as Ctrl-C is: training stops between steps, and the worker's temporary folder goes.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, sigterm_as_interrupt if handler in (None, signal.SIG_DFL) else handler)


def worker_folder() -> Path:
    """A new temporary run folder for a non-chief worker, `kspec-worker-<pid>-*` in the temporary directory.

    The worker removes it when it ends (normally, on an error or a signal); folders left by workers that were killed
    outright (SIGKILL, a lost machine) are removed here, when their process is gone.
    """
    root = Path(tempfile.gettempdir())
    for old in root.glob("kspec-worker-*"):
        pid = old.name.removeprefix("kspec-worker-").partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)) and old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"kspec-worker-{os.getpid()}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True
