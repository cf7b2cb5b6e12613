"""Benchmark: per spec, `kspec.build` (read, validate, build the Keras models) beside the hand-written Keras
construction of the same book model (`tests/book_reference.py`).

Run: `python benchmarks/bench_build.py [--repeats N] [SPEC_NAME ...]`. Both run in this one process, interleaved
(kspec, hand-written, kspec, ...), after one warm-up each; the table gives medians in milliseconds and the ratio.
The `static` column is the part of kspec's time spent before Keras (reading, checks, static shapes). Asserts
nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _timed(fn: Callable[[], Any]) -> float:
    import keras

    keras.backend.clear_session()  # same starting state for both sides; not timed
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(names: list[str], repeats: int) -> list[tuple[str, float, float, float]]:
    import book_reference

    import kspec

    rows = []
    for name in names:
        path = ROOT / "specs" / f"{name}.yaml"
        reference = book_reference.REFERENCES[name]

        def static(p: Path = path) -> None:
            kspec.check(kspec.load(p))

        def build(p: Path = path) -> None:
            kspec.build(p)

        ks, hand, st = [], [], []
        _timed(build), _timed(reference)  # warm-up: imports, first traces
        for _ in range(repeats):
            ks.append(_timed(build))
            hand.append(_timed(reference))
            st.append(_timed(static))
        rows.append((name, statistics.median(st), statistics.median(ks), statistics.median(hand)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", help="spec names (default: every spec with a reference)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--cold",
        default="ch02_ann_mnist,ch04_cnn_mnist,ch08_unet_cifar10",
        help="comma-separated specs to also time as fresh processes ('' to skip)",
    )
    args = parser.parse_args(argv)
    import book_reference

    names = args.specs or sorted(p.stem for p in (ROOT / "specs").glob("*.yaml") if p.stem in book_reference.REFERENCES)
    rows = bench(names, args.repeats)
    print(f"median of {args.repeats} interleaved runs, milliseconds (one process, after a warm-up)")
    print(f"{'spec':<28} {'static':>8} {'kspec build':>12} {'hand-written':>13} {'ratio':>7}")
    for name, st, ks, hand in rows:
        print(f"{name:<28} {st * 1e3:8.1f} {ks * 1e3:12.1f} {hand * 1e3:13.1f} {ks / hand:7.2f}")
    total_k, total_h = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(
        f"{'total':<28} {sum(r[1] for r in rows) * 1e3:8.1f} {total_k * 1e3:12.1f} {total_h * 1e3:13.1f} "
        f"{total_k / total_h:7.2f}"
    )
    if args.cold:
        cold(args.cold.split(","), max(3, args.repeats // 2))
    return 0


def cold(names: list[str], repeats: int) -> None:
    """What a user waits for: `kspec build SPEC` as a fresh process vs a fresh process running the hand-written
    construction (both import TensorFlow; the build itself is the difference)."""
    import subprocess

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    keras_dir = str(ROOT / "tests")
    print(f"\ncold processes, median of {repeats}, seconds")
    print(f"{'spec':<28} {'kspec build':>12} {'hand-written':>13} {'ratio':>7}")
    for name in names:
        spec = str(ROOT / "specs" / f"{name}.yaml")
        hand_code = f"import sys; sys.path.insert(0, {keras_dir!r}); import book_reference; "
        hand_code += f"book_reference.REFERENCES[{name!r}]()"
        commands = ([sys.executable, "-m", "kspec", "build", spec, "--json"], [sys.executable, "-c", hand_code])
        times: list[list[float]] = [[], []]
        for _ in range(repeats):
            for i, cmd in enumerate(commands):
                start = time.perf_counter()
                subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
                times[i].append(time.perf_counter() - start)
        k, h = statistics.median(times[0]), statistics.median(times[1])
        print(f"{name:<28} {k:12.2f} {h:13.2f} {k / h:7.2f}")


if __name__ == "__main__":
    sys.exit(main())
