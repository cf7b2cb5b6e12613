"""Cold-process time of `kspec validate`: all of specs/, and the cost per layer on long generated specs.

Run: `python benchmarks/bench_validate.py [--repeat 7] [--against OTHER_CHECKOUT] [--bytecode]`. Prints medians of
wall and CPU time (user + system of the child process: less sensitive than wall time to other work on a shared
machine), the load average before and after, and whether keras/tensorflow were imported. No assertions: the targets
(<= 0.3 s for specs/, <= 0.1 ms per layer) are numbers to read, not tests.

- per layer: (time for a 5,000-layer chain - time for a 1,000-layer chain) / 4,000, one entry per layer
  (`deep_specs.chain(n, explicit=True)`), as whole processes.
- `--against DIR`: the same commands with the kspec package of another checkout (e.g. `git worktree add /tmp/base
  main~3`), run interleaved with this one (A B A B ...), so both sides see the same load; the ratio column is the
  median of the pairwise ratios.
- `--bytecode`: compile both packages' bytecode first (`compileall`), as `pip install` does. Without it, and with
  PYTHONDONTWRITEBYTECODE set, every run compiles kspec's modules from source (about 50 ms here).
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deep_specs import chain  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROBE = "import sys; from kspec.cli import main; main(sys.argv[1:])"


def timed(cmd: list[str], tree: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one child process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=tree, capture_output=True, env=env, check=False)  # cwd first on sys.path: the tree's kspec
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--against", type=Path, help="another checkout's root, measured interleaved with this one")
    parser.add_argument("--bytecode", action="store_true", help="compile both packages' bytecode first")
    args = parser.parse_args()
    trees = {"this": ROOT} | ({"against": args.against.resolve()} if args.against else {})
    if args.bytecode:
        for tree in trees.values():
            compileall.compile_dir(tree / "kspec", quiet=1)
    specs = sorted((ROOT / "specs").rglob("*.yaml"))  # what `kspec validate specs/` finds (examples/ too)
    tmp = Path(tempfile.mkdtemp(prefix="kspec-bench-validate-"))
    chains = {}
    for n in (1000, 5000):
        chains[n] = tmp / f"chain{n}.yaml"
        chains[n].write_text(chain(n, explicit=True), encoding="utf-8")
    cases = {
        f"validate specs/ ({len(specs)} specs)": ["validate", str(ROOT / "specs")],
        "validate chain, 1,000 layers": ["validate", str(chains[1000])],
        "validate chain, 5,000 layers": ["validate", str(chains[5000])],
    }
    load_start = os.getloadavg()
    for tree in trees.values():  # warm the file cache
        timed([sys.executable, "-c", PROBE, "validate", str(ROOT / "specs")], tree)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        for case, argv in cases.items():
            for side, tree in trees.items():
                results.setdefault((case, side), []).append(timed([sys.executable, "-c", PROBE, *argv], tree))
    tf = [timed([sys.executable, "-c", "import tensorflow"], ROOT) for _ in range(max(3, args.repeat // 2))]
    probe = [sys.executable, "-c", PROBE + "; print(int('keras' in sys.modules or 'tensorflow' in sys.modules))"]
    out = subprocess.run(
        [*probe, "validate", str(ROOT / "specs")], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    load_end = os.getloadavg()

    load = f"load average {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end"
    print(f"machine: {os.cpu_count()} cores; {load}")
    print(f"trees: {', '.join(f'{k} = {v}' for k, v in trees.items())}; bytecode precompiled: {args.bytecode}")
    print(f"{'what':34} {'side':8} {'wall med':>9} {'wall min':>9} {'cpu med':>8} {'cpu min':>8} {'this/against':>13}")
    med: dict[tuple[str, str], tuple[float, float]] = {}
    for (case, side), runs in results.items():
        walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
        med[case, side] = statistics.median(walls), statistics.median(cpus)
        ratio = ""
        if side == "against":
            pairs = zip(results[case, "this"], runs, strict=True)
            wall_r = statistics.median(a[0] / b[0] for a, b in pairs)
            cpu_r = statistics.median(a[1] / b[1] for a, b in zip(results[case, "this"], runs, strict=True))
            ratio = f"{wall_r:.2f} / {cpu_r:.2f}"
        print(f"{case:34} {side:8} {med[case, side][0]:9.3f} {min(walls):9.3f} {med[case, side][1]:8.3f} "
              f"{min(cpus):8.3f} {ratio:>13}")  # fmt: skip
    print(f"{'python -c import tensorflow':34} {'':8} {statistics.median(t[0] for t in tf):9.3f} "
          f"{min(t[0] for t in tf):9.3f} {statistics.median(t[1] for t in tf):8.3f}")  # fmt: skip
    for side in trees:
        a, b = med["validate chain, 1,000 layers", side], med["validate chain, 5,000 layers", side]
        print(f"per layer ({side}): wall {(b[0] - a[0]) / 4:.3f} ms, cpu {(b[1] - a[1]) / 4:.3f} ms (target <= 0.1 ms)")
    specs_this = med[f"validate specs/ ({len(specs)} specs)", "this"][0]
    print(f"validate specs/: {specs_this:.3f} s (target <= 0.3 s: {'met' if specs_this <= 0.3 else 'missed'})")
    print(f"keras or tensorflow imported by validate: {'yes' if out.strip().endswith('1') else 'no'}")
    print("(the ratio column: medians of pairwise wall / CPU ratios, this tree over the other)")


if __name__ == "__main__":
    main()
