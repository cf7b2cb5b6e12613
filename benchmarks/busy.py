"""A busy machine that anyone can reproduce: `hogs(n)` runs n CPU hogs (Python processes spinning in a busy loop,
each wanting a whole core) for the duration of a `with` block, and kills them at its end. The benchmarks'
`--busy N` option uses it; their process ids and the CPU time they used are printed (stderr)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

HOG = "while True:\n    pass\n"


@contextlib.contextmanager
def hogs(n: int) -> Iterator[None]:
    """`n` CPU hogs running for the duration of the block, killed at its end (whatever happens inside)."""
    procs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(n)]
    start = time.perf_counter()
    if procs:
        print(f"busy: {n} CPU hog(s) started, pids {' '.join(str(p.pid) for p in procs)}", file=sys.stderr)
    try:
        yield
    finally:
        cpu = 0.0
        for proc in procs:
            proc.kill()
            _, _, usage = os.wait4(proc.pid, 0)  # reaps it, with its own resource usage
            proc.returncode = -9
            cpu += usage.ru_utime + usage.ru_stime
        if procs:
            wall = time.perf_counter() - start
            print(f"busy: {n} CPU hog(s) killed after {wall:.0f} s; they used {cpu:.0f} s of CPU "
                  f"({cpu / wall:.2f} cores on average)", file=sys.stderr)  # fmt: skip
