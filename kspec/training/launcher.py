"""Stage train, `kspec train SPEC --workers N`: a `distribute: multi_worker` job on one machine, without TF_CONFIG.

The launcher imports no TensorFlow. It picks N free ports on 127.0.0.1, starts N `kspec train` processes, each with
the TF_CONFIG of its task (worker 0 is the chief and writes the run folder; the others' progress output is dropped),
each in a session of its own so that a terminal's Ctrl-C reaches the launcher only, which forwards SIGINT and
SIGTERM to every worker once. When a worker fails, the others are stopped (SIGTERM) rather than left waiting for it;
when it was stopped by a signal, only after `GRACE` seconds (they stop with it after the same step by themselves).
The exit status is the chief's when it failed, else the first failing worker's, else 0.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

#: exit statuses of a worker stopped by SIGINT or SIGTERM (the others then stop after the same step)
STOPPED = (130, 143)
#: seconds the others get to stop by themselves after a worker was stopped by a signal
GRACE = 30.0


def free_ports(n: int) -> list[int]:
    """`n` distinct ports on 127.0.0.1 that nothing listens on now."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def tf_config(ports: Sequence[int], index: int) -> str:
    """TF_CONFIG of worker `index` in a cluster of workers on 127.0.0.1 at `ports`."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def launch(
    n: int, chief_args: Sequence[str], worker_args: Sequence[str], extra: Mapping[str, str] | None = None
) -> int:
    """Run `kspec train` as `n` workers on this machine; the exit status of the job.

    Args:
        n: number of worker processes (at least 1).
        chief_args: the arguments after `kspec` for worker 0 (with its `--out`).
        worker_args: the arguments for the other workers (no run folder of their own, no `--resume`: the chief
            sends them its checkpoint).
        extra: more environment variables for every worker.
    """
    ports = free_ports(n)
    procs: list[subprocess.Popen[bytes]] = []
    for i in range(n):
        env = {**os.environ, **(extra or {}), "TF_CONFIG": tf_config(ports, i)}
        args = chief_args if i == 0 else worker_args
        quiet: Any = None if i == 0 else subprocess.DEVNULL
        procs.append(
            subprocess.Popen([sys.executable, "-m", "kspec", *args], env=env, stdout=quiet, start_new_session=True)
        )
    pids, listed = ", ".join(str(p.pid) for p in procs), ", ".join(map(str, ports))
    print(f"kspec: started {n} workers on 127.0.0.1 ports {listed} (pids {pids})", file=sys.stderr, flush=True)

    def forward(signum: int, frame: object) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        stopped, deadline = False, None
        while any(p.poll() is None for p in procs):
            failed = [_status(p.returncode) for p in procs if p.returncode not in (None, 0)]
            if not stopped and failed and deadline is None:
                # a worker stopped by a signal stops its peers after the same step by itself: give them the time to
                # end cleanly (the chief saving and naming its checkpoint); other failures: peers would wait for it
                deadline = time.monotonic() + (GRACE if failed[0] in STOPPED else 0.0)
            if not stopped and deadline is not None and time.monotonic() >= deadline:
                stopped = True
                forward(signal.SIGTERM, None)
            time.sleep(0.2)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    codes = [p.returncode for p in procs]
    failed = [c for c in codes if c != 0]
    if codes[0] != 0:
        return _status(codes[0])
    return _status(failed[0]) if failed else 0


def _status(code: int) -> int:
    """A worker's exit status as a shell reports it (a worker ended by signal S: 128 + S)."""
    return 128 - code if code < 0 else code
