"""Deep models: `kspec.build` beside the same model written by hand in Keras, and builds past Keras's own depth.

Run: `python benchmarks/bench_deep.py [--layers 900] [--repeats 3] [--deep 5000]`. In one process, interleaved
(kspec, Keras, kspec, ...), each build after `keras.backend.clear_session()`:

- a chain of `--layers` Dense layers and a residual stack of as many layers (`Dense` + `Add` per block instance, see
  `deep_specs.py`), kspec (read, checks, static shapes, build) against the hand-written loop; medians of wall and
  CPU time, and the median of the pairwise ratios;
- then, once each, `kspec.build` of a `--deep`-layer chain and residual stack, and plain Keras on the same chain
  (which stops with RecursionError near 3,000 layers). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from deep_specs import write  # noqa: E402


def keras_chain(n: int) -> Any:
    import keras

    x = inputs = keras.Input((8,))
    for i in range(n):
        x = keras.layers.Dense(8, activation="relu", name=f"d{i}")(x)
    return keras.Model(inputs, x)


def keras_residual(n: int) -> Any:
    import keras

    x = inputs = keras.Input((8,))
    for i in range(n // 2):
        y = keras.layers.Dense(8, activation="relu", name=f"r{i}_fc")(x)
        x = keras.layers.Add(name=f"r{i}_add")([y, x])
    return keras.Model(inputs, x)


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    import keras

    keras.backend.clear_session()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        result = fn()
    except RecursionError as exc:
        result = exc
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=900)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--deep", type=int, default=5000, help="layers of the builds past Keras's depth (0: skip)")
    args = parser.parse_args()
    import keras

    import kspec

    tmp = Path(tempfile.mkdtemp(prefix="kspec-bench-deep-"))
    specs = write(tmp, args.layers)
    hand = {"chain": keras_chain, "residual": keras_residual}
    load = [os.getloadavg()[0]]
    print(f"Keras {keras.__version__}; {os.cpu_count()} cores; recursion limit {sys.getrecursionlimit()}")
    head = ("model", "kspec wall", "keras wall", "ratio", "kspec cpu", "keras cpu", "ratio")
    print(f"{head[0]:22} " + " ".join(f"{h:>10}" if "ratio" not in h else f"{h:>6}" for h in head[1:]))
    for kind, path in specs.items():
        timed(lambda p=path: kspec.build(p))  # warm-up: imports, catalogue
        pairs = []
        for _ in range(args.repeats):
            ours = timed(lambda p=path: kspec.build(p))
            theirs = timed(lambda k=kind: hand[k](args.layers))
            assert len(ours[2].model.layers) == len(theirs[2].layers), "the two sides built different models"
            pairs.append((ours, theirs))
        med = [statistics.median(p[s][i] for p in pairs) for s in (0, 1) for i in (0, 1)]
        wall_ratio = statistics.median(p[0][0] / p[1][0] for p in pairs)
        cpu_ratio = statistics.median(p[0][1] / p[1][1] for p in pairs)
        print(f"{f'{kind}, {args.layers} layers':22} {med[0]:9.2f}s {med[2]:9.2f}s {wall_ratio:5.2f}x "
              f"{med[1]:9.2f}s {med[3]:9.2f}s {cpu_ratio:5.2f}x")  # fmt: skip
        load.append(os.getloadavg()[0])
    if args.deep:
        deep = write(tmp, args.deep)
        for kind, path in deep.items():
            wall, cpu, result = timed(lambda p=path: kspec.build(p))
            done = f"{len(result.model.layers)} layers" if not isinstance(result, Exception) else repr(result)
            print(f"kspec build {kind}, {args.deep} layers: {wall:.1f}s wall, {cpu:.1f}s cpu: {done}")
            load.append(os.getloadavg()[0])
        wall, cpu, result = timed(lambda: keras_chain(args.deep))
        done = "built" if not isinstance(result, Exception) else f"{type(result).__name__}: {result}"
        print(f"plain Keras chain, {args.deep} layers: {wall:.1f}s wall: {done}")
    print(f"load average along the run: {', '.join(f'{x:.1f}' for x in load)}")


if __name__ == "__main__":
    main()
