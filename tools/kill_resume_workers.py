"""Stop one worker of a two-worker `distribute: multi_worker` job, resume it, and compare with an uninterrupted job.

    python tools/kill_resume_workers.py [--trials 4] [--modes kill-chief,kill-worker,term-chief,term-worker]
                                        [--epochs 6] [--seed 0] [--workdir DIR]

A small offline spec (scikit-learn digits, an MLP with dropout, a fixed seed) is trained once with
`kspec train --workers 2` without interruption. Each trial starts the same job, waits for a random number of epoch
checkpoints, then sends SIGKILL or SIGTERM to worker 0 (the chief) or worker 1 (their pids are on the launcher's
first line), waits for the job to end, and resumes it with `kspec train SPEC --resume RUN --workers 2` (for SIGTERM:
the exact command the chief printed). At the end it checks that `kspec verify` accepts the run folder, that the
history equals the uninterrupted job's, and that every weight of `model.keras` is bit-identical to it.
Exit status 0 when every trial ended bit-identical.

Last output (2 shared cores under load from other jobs; `--trials 4 --epochs 6`, 2026-12-02):

    uninterrupted 2-worker job: 88 s
    trial 0 kill-chief after epoch >= 4: job exit 137, 2 checkpoint(s) kept; resume exit 0; verify ok; history identical; weights bit-identical
    trial 1 kill-worker after epoch >= 4: job exit 1, 2 checkpoint(s) kept; resume exit 0; verify ok; history identical; weights bit-identical
    trial 2 term-chief after epoch >= 1: job exit 143, 1 checkpoint(s) kept; resume exit 0; verify ok; history identical; weights bit-identical
    trial 3 term-worker after epoch >= 3: job exit 143, 2 checkpoint(s) kept; resume exit 0; verify ok; history identical; weights bit-identical
    4 of 4 trials bit-identical (566 s)
"""  # noqa: E501

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = """kspec: 1
name: mw_resume
model:
  inputs: {{x: {{shape: [64]}}}}
  layers:
    - {{type: Dense, units: 32, activation: relu}}
    - {{type: Dropout, rate: 0.2}}
    - {{type: Dense, name: probs, units: 10, activation: softmax}}
data:
  source: digits
  preprocess: [{{type: scale, divide: 16}}, one_hot, {{type: take, count: 600}}]
train:
  loss: categorical_crossentropy
  optimizer: {{type: Adam, learning_rate: 0.01}}
  metrics: [accuracy]
  epochs: {epochs}
  batch_size: 50
  validation_split: 0.2
  seed: {seed}
  plots: none
  distribute: multi_worker
  distribute_timeout: 240
"""
MODES = ("kill-chief", "kill-worker", "term-chief", "term-worker")


def kspec(*args: str) -> list[str]:
    return [sys.executable, "-m", "kspec", *args]


def env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k != "TF_CONFIG"}, "TF_CPP_MIN_LOG_LEVEL": "2"}


def weights(run: Path) -> dict[str, bytes]:
    """Every weight array of the run's `model.keras`, by its HDF5 path, as raw bytes (compared bit for bit)."""
    import io

    import h5py

    out: dict[str, bytes] = {}
    with zipfile.ZipFile(run / "model.keras") as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        f.visititems(
            lambda name, item: out.update({name: item[()].tobytes()}) if isinstance(item, h5py.Dataset) else None
        )
    return out


def checkpoints(run: Path) -> int:
    return len(list((run / "checkpoint").glob("epoch-*.json")))


def interrupted(spec: Path, run: Path, mode: str, after: int) -> tuple[int, str]:
    """Start the job, signal a worker once `after` epochs are checkpointed; the launcher's status and stderr."""
    job = subprocess.Popen(
        kspec("train", str(spec), "--workers", "2", "--out", str(run)),
        cwd=ROOT,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert job.stderr is not None
    first = job.stderr.readline()
    pids = [int(p) for p in first.rpartition("(pids ")[2].rstrip(")\n").split(", ")]
    seen = set()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and job.poll() is None:
        seen.update(p.name for p in (run / "checkpoint").glob("epoch-*.json"))
        if len(seen) >= after:
            break
        time.sleep(0.05)
    target = pids[0 if mode.endswith("chief") else 1]
    os.kill(target, signal.SIGKILL if mode.startswith("kill") else signal.SIGTERM)
    rest = job.communicate(timeout=600)[1]
    return job.returncode, first + rest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    modes = args.modes.split(",")
    rng = random.Random(args.seed)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kspec-kill-workers-"))
    work.mkdir(parents=True, exist_ok=True)
    spec = work / "mw_resume.yaml"
    spec.write_text(SPEC.format(epochs=args.epochs, seed=1), encoding="utf-8")
    reference = work / "reference"
    t0 = time.monotonic()
    done = subprocess.run(kspec("train", str(spec), "--workers", "2", "--out", str(reference)), cwd=ROOT, env=env(),
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        print(done.stderr[-3000:])
        return 1
    print(f"uninterrupted 2-worker job: {time.monotonic() - t0:.0f} s", flush=True)
    expected_history = json.loads((reference / "history.json").read_text())
    expected = weights(reference)
    failures = 0
    for trial in range(args.trials):
        mode = modes[trial % len(modes)]
        after = rng.randint(1, args.epochs - 1)
        run = work / f"trial{trial}"
        code, stderr = interrupted(spec, run, mode, after)
        saved = checkpoints(run)
        command = kspec("train", str(spec), "--resume", str(run), "--workers", "2")
        if mode.startswith("term"):
            lines = stderr.strip().splitlines()
            printed = [line for line in lines if line.startswith("kspec train ")]
            if not printed:
                print(f"trial {trial} {mode}: no resume command printed (exit {code}):\n{stderr[-2000:]}")
                failures += 1
                continue
            command = [sys.executable, "-m", *shlex.split(printed[-1])]
        resumed = subprocess.run(command, cwd=ROOT, env=env(), capture_output=True, text=True)
        verify = subprocess.run(kspec("verify", str(run)), cwd=ROOT, env=env(), capture_output=True, text=True)
        same_history = resumed.returncode == 0 and json.loads((run / "history.json").read_text()) == expected_history
        got = weights(run) if (run / "model.keras").is_file() else {}
        same = got == expected
        ok = resumed.returncode == 0 and verify.returncode == 0 and same_history and same
        failures += not ok
        print(f"trial {trial} {mode} after epoch >= {after}: job exit {code}, {saved} checkpoint(s) kept; resume exit "
              f"{resumed.returncode}; verify {'ok' if verify.returncode == 0 else 'FAILED'}; history "
              f"{'identical' if same_history else 'DIFFERENT'}; weights {'bit-identical' if same else 'DIFFERENT'}",
              flush=True)  # fmt: skip
        if resumed.returncode != 0:
            print(resumed.stderr[-2000:])
    print(f"{args.trials - failures} of {args.trials} trials bit-identical ({time.monotonic() - t0:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
