"""Send SIGINT to `kspec train` at random moments of training and count how each process ended.

    python tools/sigint_stress.py [--runs 40] [--delay 0.3] [--seed 0] [--workdir DIR]

Each run trains the small spec of tests/training/test_interrupts.py (200 epochs of a tiny model, XLA on) in a fresh
process, waits for its first checkpoint, sleeps a random 0..--delay seconds and sends SIGINT. A sound run exits
130 after printing the resume command. Any other exit status is reported with the end of its stderr; core dumps
are on, and PYTHONFAULTHANDLER=1 puts the Python stack of a crash in that stderr (`gdb python core` gives the
native one). Run two at once (different --workdir and --seed) to load both cores as CI does.

The child resets SIGINT to its default: a process started in the background by a non-interactive shell inherits
SIGINT as ignored, and Python then keeps ignoring it (every run would "pass" without being interrupted).

Last output (issue 17's follow-up, 2026-12-02, two loops at once): before `kspec/training/interrupts.py`, 1 of 63
runs died of SIGSEGV (in TensorFlow's `Converter<int>::Convert`, as the epoch's index table was sliced); after it,
182 of 182 exited 130.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "training"))
from test_interrupts import SPEC  # noqa: E402


def _child_setup() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.3, help="the longest wait after the first checkpoint (s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kspec-sigint-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "s.yaml").write_text(SPEC)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONFAULTHANDLER": "1"}
    rng, ends = random.Random(args.seed), collections.Counter[int]()
    for i in range(args.runs):
        run = work / "run"
        shutil.rmtree(run, ignore_errors=True)
        cmd = [sys.executable, "-m", "kspec", "train", "s.yaml", "--out", "run"]
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_child_setup)  # fmt: skip
        while not list((run / "checkpoint").glob("epoch-*.json")) and proc.poll() is None:
            time.sleep(0.05)
        delay = rng.uniform(0, args.delay)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate()
        ends[proc.returncode] += 1
        print(f"run {i + 1}: SIGINT {delay:.2f} s after the first checkpoint, exit {proc.returncode}", flush=True)
        if proc.returncode != 128 + signal.SIGINT:
            print(err[-3000:], flush=True)
    print(f"exit statuses over {args.runs} runs: {dict(sorted(ends.items()))} (in {work})")


if __name__ == "__main__":
    main()
