"""Training, measured from outside: whole processes, E=1 and E=N epochs, book script and `kspec train` interleaved.

Run: `nice python benchmarks/bench_train_outside.py [--models ann,dnn] [--epochs 20] [--repeats 3] [--busy N]`.

`bench_train.py` times epochs from inside the process with a callback. This script only looks at whole processes,
as a user's stopwatch would: for each repeat it runs, interleaved, the book's script and `kspec train` with E=1 and
with E=N epochs (same data, same fresh-process start-up; kspec's process ends as the `kspec` program's does,
through `kspec.cli.finish`), and takes the marginal cost of one more epoch on each side, (T(E=N) - T(E=1)) / (N - 1).
The ratio book / kspec of those marginal costs is computed per repeat (the four
processes of one repeat run back to back, so they see about the same load; which side goes first alternates from
one repeat to the next), and the table shows the median of those pairwise ratios, for wall time and for CPU time
(user + system of the child: other work on a shared machine moves it less than wall time). Start-up, data loading,
tracing and the final evaluation cancel out of the difference. A second table gives the whole process at E=1
(median wall time per side): what a short run costs from start to exit.

The data and the book scripts are `bench_train.py`'s (files in Keras's dataset format, no download). Children get
no timing hooks; only Keras's SHA-256 check of the dataset file and its downloads are switched off. Asserts
nothing; the load average is printed before and after every process.

`--busy N` makes a busy machine that anyone can reproduce: N CPU hogs (Python processes spinning in a busy loop,
each wanting a whole core) start before the first measured process and are killed after the last one. Their
process ids and the CPU time they used are printed. On a 2-core machine `--busy 1` takes about one core away.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_train  # noqa: E402
from busy import hogs  # noqa: E402

ROOT = bench_train.ROOT


def child(side: str, model: str, epochs: int, out: Path) -> None:
    from keras.src.utils import file_utils

    file_utils.validate_file = lambda *a, **k: True  # our dataset file is not the real one

    def offline(*a: Any, **k: Any) -> None:
        raise OSError("the benchmark runs offline")

    file_utils.urlretrieve = offline
    sys.stdout = open(out / "stdout.txt", "w")  # noqa: SIM115 - the child's whole life
    if side == "book":
        bench_train.BOOK[model](epochs, out)
        return
    from kspec.cli import finish, main

    spec = ROOT / "specs" / f"{bench_train.BENCHES[model].spec}.yaml"
    rc = main(["train", str(spec), "--set", f"train.epochs={epochs}", "--out", str(out / "run")])
    if rc:
        raise SystemExit(f"kspec train failed with exit status {rc}")
    finish(rc)  # and the process ends as the `kspec` program's does


def run(side: str, model: str, epochs: int, work: Path, home: Path) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix=f"{model}-{side}-{epochs}-", dir=work))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_HOME": str(home)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, __file__, "--child", side, "--model", model, "--epochs", str(epochs), "--out", str(folder)]
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"{side} {model} E={epochs} failed:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "load": load, "load_after": os.getloadavg()[0]}


def _marginal(rep: dict[str, dict[str, float]], side: str, what: str, n: int) -> float:
    """One more epoch's cost on `side` in one repeat: (T(E=n) - T(E=1)) / (n - 1), of wall or CPU time."""
    return (rep[f"{side}{n}"][what] - rep[f"{side}1"][what]) / (n - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="ann,dnn")
    parser.add_argument("--epochs", type=int, default=20, help="N, the long run (the short one is E=1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, help="training examples (default: the model's in bench_train)")
    parser.add_argument("--json", type=Path, help="also write every process's numbers here")
    parser.add_argument("--busy", type=int, default=0, metavar="N", help="run N CPU hogs during the measurement")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.model, args.epochs, args.out)
        return
    if args.epochs < 2:
        parser.error("--epochs must be >= 2")
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    n = args.epochs
    raw: dict[str, list[dict[str, dict[str, float]]]] = {}
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at the start", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="kspec-bench-outside-") as tmp, hogs(args.busy):
        for key in keys:
            b = bench_train.BENCHES[key]
            home = Path(tmp) / f"keras-{key}"
            bench_train.write_dataset(home, b.dataset, args.samples or b.samples)
            raw[key] = []
            for r in range(args.repeats):
                one: dict[str, dict[str, float]] = {}
                sides = ("book", "kspec") if r % 2 == 0 else ("kspec", "book")  # who goes first alternates
                for epochs in (1, n):
                    for side in sides:
                        one[f"{side}{epochs}"] = run(side, key, epochs, Path(tmp), home)
                        got = one[f"{side}{epochs}"]
                        print(f"  {key} repeat {r + 1} {side:5} E={epochs:<3} wall {got['wall']:6.1f} s  "
                              f"cpu {got['cpu']:6.1f} s  load {got['load']:.1f} -> {got['load_after']:.1f}",
                              file=sys.stderr, flush=True)  # fmt: skip
                raw[key].append(one)
                wall, cpu = (_marginal(one, "book", w, n) / _marginal(one, "kspec", w, n) for w in ("wall", "cpu"))
                print(f"  {key} repeat {r + 1}: marginal epoch x book: wall {wall:.2f}x, cpu {cpu:.2f}x",
                      file=sys.stderr, flush=True)  # fmt: skip
    sizes = ", ".join(f"{k} {args.samples or bench_train.BENCHES[k].samples:,}" for k in keys)
    busy = f"; {args.busy} CPU hog(s) running" if args.busy else ""
    print(f"\nmarginal epoch, E={n} vs E=1, {args.repeats} repeats{busy}; "
          f"examples before the validation split: {sizes}")  # fmt: skip
    print(f"{'model':6} {'book s/epoch':>13} {'kspec s/epoch':>14} {'x book (wall)':>14} {'x book (cpu)':>13} "
          f"{'per-repeat wall ratios':>24} {'per-repeat cpu ratios':>24} {'load':>10}")  # fmt: skip
    for key, repeats in raw.items():

        def marginal(rep: dict[str, dict[str, float]], side: str, what: str) -> float:
            return _marginal(rep, side, what, n)

        wall_ratios = [marginal(r, "book", "wall") / marginal(r, "kspec", "wall") for r in repeats]
        cpu_ratios = [marginal(r, "book", "cpu") / marginal(r, "kspec", "cpu") for r in repeats]
        book = statistics.median(marginal(r, "book", "wall") for r in repeats)
        ours = statistics.median(marginal(r, "kspec", "wall") for r in repeats)
        loads = [p[k] for r in repeats for p in r.values() for k in ("load", "load_after")]
        print(f"{key:6} {book:13.3f} {ours:14.3f} {statistics.median(wall_ratios):13.2f}x "
              f"{statistics.median(cpu_ratios):12.2f}x {' '.join(f'{x:.2f}' for x in wall_ratios):>24} "
              f"{' '.join(f'{x:.2f}' for x in cpu_ratios):>24} "
              f"{min(loads):4.1f}-{max(loads):<4.1f}")  # fmt: skip
    print("\nwhole process at E=1 (start-up, data, one epoch, evaluation, saving, exit), median wall time")
    print(f"{'model':6} {'book s':>8} {'kspec s':>8} {'x book':>7}")
    for key, repeats in raw.items():
        book1, ours1 = (statistics.median(r[f"{side}1"]["wall"] for r in repeats) for side in ("book", "kspec"))
        print(f"{key:6} {book1:8.2f} {ours1:8.2f} {book1 / ours1:6.2f}x")
    print(f"load average {os.getloadavg()[0]:.2f} at the end; {time.strftime('%Y-%m-%d %H:%M')}")
    busiest = max(p[k] for reps in raw.values() for r in reps for p in r.values() for k in ("load", "load_after"))
    if busiest >= (os.cpu_count() or 1):
        print(f"note: the load average reached {busiest:.1f} on {os.cpu_count()} CPUs; processes waited for a core, so "
              "the wall-time ratios are unreliable (compare the E=1 wall times of one side across repeats); "
              "the CPU-time ratios are the steadier reading")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
