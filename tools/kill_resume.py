"""Kill `kspec train` with SIGKILL at random moments, resume it, and compare the result with an uninterrupted run.

    python tools/kill_resume.py [--trials 20] [--recipe fit|tape|gan] [--epochs 12] [--seed 0] [--workdir DIR]
                                [--callbacks]

A small offline spec (scikit-learn digits, a tiny MLP with dropout, `deterministic: true`, a fixed seed) is trained
once without interruption. Each trial then starts `python -m kspec train SPEC --out RUN` in a subprocess, kills it
one to three times (at a random moment, inside an epoch, right after an epoch's checkpoint, during a checkpoint or
history write, or while the final artifacts are written) and reruns it with `--resume RUN` until it finishes.
After every kill it checks that no visible file of the run folder is truncated or unreadable; after every resume,
that training continued from the last completed epoch; at the end, that `manifest.json` verifies and that every
weight of `model.keras` (and the history) equals the uninterrupted run's: bit-identical, or the largest difference.

To land kills inside a write, the modes `checkpoint-write`, `history-write`, `spec-write` and `final` (the model,
metrics, plots, summary and manifest) run kspec with `os.fsync` slowed down (the temporary file is then complete
but not yet renamed: the moment the rename has to protect) and kill the process as soon as a new temporary file
appears. The `random` mode also lands inside writes now and then (a partly written temporary file).
Exit status 0 when every trial ended bit-identical.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODES = ("random", "mid-epoch", "epoch-end", "checkpoint-write", "history-write", "spec-write", "final")
#: `python -m kspec`, with `os.fsync` slowed by KILL_RESUME_FSYNC_PAUSE seconds when that is set
WRAPPER = """
import os, runpy, sys, time
pause = float(os.environ.get("KILL_RESUME_FSYNC_PAUSE") or 0)
if pause:
    real_fsync = os.fsync
    def slow_fsync(fd):
        time.sleep(pause)
        return real_fsync(fd)
    os.fsync = slow_fsync
sys.argv[0] = "kspec"
runpy.run_module("kspec", run_name="__main__", alter_sys=True)
"""


#: `--callbacks`: decisions a resumed run must keep. Improvements under 10 never count, so EarlyStopping stops after
#: epoch 5 (restoring epoch 1's weights) and ReduceLROnPlateau halves the rate every third epoch: a kill mid-patience
#: or after the stop decision shows whether the counters, best values and the stop travelled in the checkpoint.
DECISIONS = """  callbacks:
    - {type: EarlyStopping, monitor: loss, min_delta: 10, patience: 4, restore_best_weights: true}
    - {type: ReduceLROnPlateau, monitor: loss, min_delta: 10, patience: 2, factor: 0.5}
"""


def spec_text(recipe: str, epochs: int, seed: int, deterministic: bool = True, callbacks: bool = False) -> str:
    """The spec every trial trains: digits, 64 -> 64 (dropout) -> 10, fixed seed, op determinism (and with
    `callbacks`, EarlyStopping and ReduceLROnPlateau whose decisions the resumed run must repeat)."""
    if callbacks and recipe == "fit":
        return spec_text(recipe, epochs, seed, deterministic) + DECISIONS
    det = "true" if deterministic else "false"
    if recipe == "gan":
        return f"""kspec: 1
name: kill_resume_gan
models:
  generator:
    inputs: {{z: {{shape: [8]}}}}
    layers:
      - {{type: Dense, units: 32, activation: relu}}
      - {{type: Dropout, rate: 0.1}}
      - {{type: Dense, units: 64, activation: sigmoid}}
  discriminator:
    inputs: {{x: {{shape: [64]}}}}
    layers:
      - {{type: Dense, units: 32, activation: relu}}
      - {{type: Dropout, rate: 0.2}}
      - {{type: Dense, units: 1, activation: sigmoid}}
data:
  source: digits
  preprocess: [{{type: scale, divide: 16}}]
train:
  recipe: gan
  optimizer: {{type: Adam, learning_rate: 0.001}}
  epochs: {epochs}
  batch_size: 32
  seed: {seed}
  deterministic: {det}
  verbose: 2
  gan: {{d_steps: 1, g_steps: 1, sample_every: 4}}
"""
    return f"""kspec: 1
name: kill_resume_{recipe}
model:
  inputs: {{x: {{shape: [64]}}}}
  layers:
    - {{type: Dense, units: 64, activation: relu}}
    - {{type: Dropout, rate: 0.2}}
    - {{type: Dense, name: probs, units: 10, activation: softmax}}
data:
  source: digits
  preprocess: [{{type: scale, divide: 16}}, one_hot]
train:
  recipe: {recipe}
  loss: categorical_crossentropy
  metrics: [accuracy]
  optimizer: {{type: Adam, learning_rate: 0.002}}
  epochs: {epochs}
  batch_size: 16
  validation_split: 0.2
  seed: {seed}
  deterministic: {det}
  verbose: 2
"""


# -- the run folder ---------------------------------------------------------------------------------------------
def is_temp(name: str) -> bool:
    return name.startswith(".") and ".tmp" in name


def completed_epochs(run: Path) -> int:
    """The newest epoch whose checkpoint record is on disk (what a resume continues after)."""
    found = [int(p.stem[6:]) for p in (run / "checkpoint").glob("epoch-*.json") if p.stem[6:].isdigit()]
    return max(found, default=0)


def finished(run: Path) -> bool:
    return (run / "manifest.json").is_file() and not (run / "checkpoint").exists()


def unreadable(run: Path) -> list[str]:
    """Visible files of the run folder that are truncated or cannot be read (temporary files are skipped)."""
    import numpy as np
    import yaml

    problems = []
    visible = (p for p in run.rglob("*") if p.is_file() and not any(is_temp(part) for part in p.relative_to(run).parts))
    for path in sorted(visible):  # a file inside a temporary folder (a `.keras` being saved) is not visible either
        rel = path.relative_to(run).as_posix()
        try:
            data = path.read_bytes()
            if not data and path.suffix != ".csv":
                raise ValueError("empty")
            if path.suffix == ".json":
                json.loads(data)
            elif path.suffix == ".csv":
                rows = list(csv.reader(data.decode().splitlines()))
                if rows and any(len(r) != len(rows[0]) for r in rows):
                    raise ValueError("ragged rows")
            elif path.suffix == ".yaml":
                yaml.safe_load(data)
            elif path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as archive:
                    for key in archive.files:
                        archive[key]
            elif path.suffix == ".keras":
                with zipfile.ZipFile(path) as archive:
                    if archive.testzip() is not None:
                        raise ValueError("bad CRC")
            elif path.suffix == ".png":
                if not (data.startswith(b"\x89PNG\r\n\x1a\n") and data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82")):
                    raise ValueError("not a whole PNG")
            elif path.suffix in (".txt", ".sha256"):
                data.decode()
        except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
            problems.append(f"{rel} ({type(exc).__name__}: {exc})")
    return problems


# -- processes --------------------------------------------------------------------------------------------------
@dataclass
class Attempt:
    mode: str
    killed: bool
    seconds: float
    epochs_before: int
    epochs_after: int
    first_epoch: int | None
    temp_files: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    returncode: int | None = None


def _command(spec: Path, run: Path, slow: bool) -> list[str]:
    head = [sys.executable, "-c", WRAPPER] if slow else [sys.executable, "-m", "kspec"]
    tail = ["--resume", str(run)] if (run / "spec.yaml").is_file() else ["--out", str(run)]
    return [*head, "train", str(spec), *tail]


def _env(slow: bool) -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    if slow:
        env["KILL_RESUME_FSYNC_PAUSE"] = "0.05"
    return env


def _temps(folder: Path) -> set[str]:
    try:
        return {e.name for e in os.scandir(folder) if is_temp(e.name)}
    except OSError:
        return set()


def attempt(
    spec: Path, run: Path, log: Path, mode: str | None, rng: random.Random, timing: dict[str, float]
) -> Attempt:
    """One `kspec train` process: killed according to `mode`, or (mode None) left to finish."""
    slow = mode in ("checkpoint-write", "history-write", "spec-write", "final")
    before = completed_epochs(run)
    epochs = int(timing["epochs"])
    target = rng.randint(before + 1, max(before + 1, epochs - 1)) if mode else 0
    deadline = rng.uniform(1.0, timing["total"]) if mode == "random" else None
    start = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n--- {mode or 'to the end'} ---\n")
        out.flush()
        proc = subprocess.Popen(
            _command(spec, run, slow), stdout=out, stderr=subprocess.STDOUT, env=_env(slow), cwd=ROOT
        )
        killed, reached_at = False, None
        stale = _temps(run) | _temps(run / "checkpoint")  # left by an earlier kill; kspec removes them on resume
        while proc.poll() is None:
            now = time.monotonic() - start
            fire = False
            if mode == "random":
                fire = now >= (deadline or 0)
            elif mode in ("mid-epoch", "epoch-end"):
                if reached_at is None and completed_epochs(run) >= target:
                    reached_at = now
                if reached_at is not None:
                    wait = rng.uniform(0.2, 0.8) * timing["epoch"] if mode == "mid-epoch" else 0.0
                    fire = now >= reached_at + wait
            elif mode == "checkpoint-write":
                fire = bool(_temps(run / "checkpoint") - stale) and completed_epochs(run) >= target - 1
            elif mode == "history-write":
                new = _temps(run) - stale
                fire = any(n.startswith(".history") for n in new) and completed_epochs(run) >= target - 1
            elif mode == "spec-write":
                fire = any(n.startswith(".spec") for n in _temps(run) - stale)
            elif mode == "final":
                new = _temps(run) - stale
                fire = any(not n.startswith(".history") for n in new) and completed_epochs(run) >= epochs
            if fire:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.002)
        proc.wait()
    temps = sorted(str(p.relative_to(run)) for p in run.rglob(".*") if is_temp(p.name)) if run.exists() else []
    text = log.read_text().rsplit(f"--- {mode or 'to the end'} ---", 1)[-1]
    firsts = [int(line.split("/")[0].split()[-1]) for line in text.splitlines() if line.startswith("Epoch ")]
    return Attempt(
        mode=mode or "to the end",
        killed=killed,
        seconds=round(time.monotonic() - start, 2),
        epochs_before=before,
        epochs_after=completed_epochs(run),
        first_epoch=firsts[0] if firsts else None,
        temp_files=temps,
        unreadable=unreadable(run) if run.exists() else [],
        returncode=proc.returncode,
    )


# -- comparison -------------------------------------------------------------------------------------------------
def compare(reference: Path, run: Path) -> dict[str, Any]:
    """Every weight of every `.keras` file (and the histories): bit-identical, or the largest difference."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    identical, diff, arrays = True, 0.0, 0
    for path in sorted(reference.glob("*.keras")):
        a = keras.saving.load_model(path, compile=False)
        b = keras.saving.load_model(run / path.name, compile=False)
        wa, wb = [np.asarray(w) for w in a.get_weights()], [np.asarray(w) for w in b.get_weights()]
        if len(wa) != len(wb) or any(x.shape != y.shape for x, y in zip(wa, wb, strict=True)):
            raise AssertionError(f"{path.name}: the two models have different weights")
        for x, y in zip(wa, wb, strict=True):
            identical = identical and x.dtype == y.dtype and x.tobytes() == y.tobytes()
            diff = max(diff, float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)), initial=0.0)))
        arrays += len(wa)
    history = [json.loads((folder / "history.json").read_text()) for folder in (reference, run)]
    return {"identical": identical, "max_abs_diff": diff, "arrays": arrays, "same_history": history[0] == history[1]}


def verify(run: Path) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from kspec.training import manifest

    result = manifest.verify(run)
    return [*result.missing, *result.differ, *result.invalid]


# -- trials -----------------------------------------------------------------------------------------------------
@dataclass
class Trial:
    index: int
    attempts: list[Attempt]
    result: dict[str, Any]
    problems: list[str]


def reference_run(workdir: Path, spec: Path, epochs: int) -> dict[str, float]:
    """The uninterrupted run; returns its timing (to aim kills inside epochs)."""
    run = workdir / "reference"
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "kspec", "train", str(spec), "--out", str(run)],
        capture_output=True,
        text=True,
        env=_env(False),
        cwd=ROOT,
        check=False,
    )
    total = time.monotonic() - start
    if done.returncode:
        raise SystemExit(f"the reference run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return {"total": total, "epoch": max(0.05, 0.5 * total / epochs), "epochs": epochs}


def trial(
    index: int, workdir: Path, spec: Path, rng: random.Random, timing: dict[str, float], modes: list[str]
) -> Trial:
    run, log = workdir / f"trial-{index:03d}", workdir / f"trial-{index:03d}.log"
    attempts: list[Attempt] = []
    problems: list[str] = []
    for mode in [*modes, None]:
        a = attempt(spec, run, log, mode, rng, timing)
        attempts.append(a)
        problems += [f"after {a.mode}: unreadable {u}" for u in a.unreadable]
        if a.first_epoch is not None and a.epochs_before and a.first_epoch != a.epochs_before + 1:
            problems.append(f"{a.mode}: resumed at epoch {a.first_epoch}, not {a.epochs_before + 1}")
        if not a.killed or (a.returncode != 0 and finished(run)):  # a kill that came as the run exited
            if a.returncode != 0 and not a.killed:
                problems.append(f"{a.mode}: exit status {a.returncode} (see {log})")
            break
    result: dict[str, Any] = {}
    if not problems:
        problems += [f"manifest: {p}" for p in verify(run)]
        result = compare(workdir / "reference", run)
        if not result["same_history"]:
            problems.append("history differs from the reference run")
    return Trial(index, attempts, result, problems)


def run_trials(
    trials: int,
    *,
    recipe: str = "fit",
    epochs: int = 12,
    seed: int = 0,
    workdir: Path | None = None,
    modes: list[list[str]] | None = None,
    echo: bool = True,
    deterministic: bool = True,
    callbacks: bool = False,
) -> list[Trial]:
    """`trials` trials (each a list of kill modes: from `modes`, or 1-3 drawn at random with `seed`)."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="kspec-kill-resume-"))
    workdir.mkdir(parents=True, exist_ok=True)
    spec = workdir / "spec.yaml"
    spec.write_text(spec_text(recipe, epochs, seed=7, deterministic=deterministic, callbacks=callbacks))
    rng = random.Random(seed)
    timing = reference_run(workdir, spec, epochs)
    if echo:
        print(f"reference run: {timing['total']:.1f} s, {epochs} epochs ({workdir})", flush=True)
    out = []
    for i in range(trials):
        plan = modes[i] if modes else [rng.choice(MODES) for _ in range(rng.randint(1, 3))]
        t = trial(i, workdir, spec, rng, timing, plan)
        out.append(t)
        if echo:
            print(describe(t), flush=True)
    return out


def describe(t: Trial) -> str:
    kills = ", ".join(
        f"{a.mode}@{a.seconds:.1f}s epoch {a.epochs_before}->{a.epochs_after}"
        + (f" [{len(a.temp_files)} temp]" if a.temp_files else "")
        for a in t.attempts
        if a.killed
    )
    if t.problems:
        verdict = "FAILED: " + "; ".join(t.problems)
    elif t.result["identical"]:
        verdict = "bit-identical"
    else:
        verdict = f"max abs diff {t.result['max_abs_diff']:.3g}"
    return f"trial {t.index}: {len([a for a in t.attempts if a.killed])} kill(s) ({kills or 'none'}): {verdict}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--recipe", choices=("fit", "tape", "gan"), default="fit")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seed", type=int, default=0, help="seed of the kill schedule")
    p.add_argument("--workdir", type=Path, help="keep run folders and logs here (default: a temporary folder)")
    p.add_argument("--json", type=Path, help="write every trial's record to this file")
    p.add_argument(
        "--no-determinism", action="store_true", help="train with `deterministic: false` (XLA on) to measure the drift"
    )
    p.add_argument(
        "--callbacks",
        action="store_true",
        help="train with EarlyStopping and ReduceLROnPlateau (recipe fit): the resumed run must stop and reduce at the "
        "same epochs",
    )
    args = p.parse_args(argv)
    results = run_trials(
        args.trials,
        recipe=args.recipe,
        epochs=args.epochs,
        seed=args.seed,
        workdir=args.workdir,
        deterministic=not args.no_determinism,
        callbacks=args.callbacks,
    )
    kills = [a for t in results for a in t.attempts if a.killed]
    by_mode = {m: sum(a.mode == m for a in kills) for m in MODES}
    failed = [t for t in results if t.problems]
    identical = [t for t in results if not t.problems and t.result["identical"]]
    diffs = [t.result["max_abs_diff"] for t in results if not t.problems]
    print(
        f"{len(results)} trials, {len(kills)} kills ({', '.join(f'{m} {n}' for m, n in by_mode.items() if n)}), "
        f"{sum(bool(a.temp_files) for a in kills)} left a temporary file: {len(identical)} bit-identical, "
        f"{len(failed)} failed, max abs diff {max(diffs, default=0.0):.3g}"
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(t) for t in results], indent=2))
    return 0 if len(identical) == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
