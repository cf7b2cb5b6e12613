"""Benchmark: cold-process time of `kspec draw` (UNET spec -> SVG) beside `keras.utils.plot_model`, and of writing
the DOT text of long residual stacks.

Run: `python benchmarks/bench_draw.py [--repeats N] [--spec PATH] [--sizes 1000,5000] [--against DIR] [--bytecode]`.
Prints tables; asserts nothing. The targets: <= 0.5 s for `kspec draw` of the UNET, and <= 0.5 s for the DOT of a
5,000-layer residual stack (`deep_specs.residual`); `plot_model` needs TensorFlow's import alone (~3.5 s).

- DOT of N layers: `kspec draw residualN.yaml -o out.dot` as whole processes, wall and CPU time (user + system of the
  child: less sensitive to other work on a shared machine than wall time).
- `--against DIR`: the same DOT commands with the kspec package of another checkout (e.g. `git worktree add /tmp/base
  main~3`), interleaved with this one (A B A B ...); the ratio column is the median of the pairwise ratios, and the
  DOT texts of the two sides are compared.
- `--bytecode`: compile both packages' bytecode first (`compileall`), as `pip install` does. Without it, and with
  PYTHONDONTWRITEBYTECODE set, every run compiles kspec's modules from source.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from deep_specs import residual  # noqa: E402

UNET = ROOT / "specs" / "ch08_unet_cifar10.yaml"

# Used only while specs/ch08_unet_cifar10.yaml does not exist: the book's ch8 U-Net, 40 layers.
_INLINE_UNET = """
kspec: 1
name: unet_inline
defaults:
  Conv2D: {kernel_size: 3, padding: same}
blocks:
  conv:
    params: {n_f: null}
    layers:
      - {type: Conv2D, filters: "${n_f}"}
      - {type: BatchNormalization}
      - {type: Activation, activation: tanh}
      - {type: Dropout, rate: 0.05}
      - {type: Conv2D, filters: "${n_f}"}
      - {type: BatchNormalization}
      - {type: Activation, activation: tanh}
  conv_pool:
    params: {n_f: null}
    layers:
      - {type: MaxPooling2D, pool_size: 2, padding: same}
      - {block: conv, n_f: "${n_f}"}
  up:
    params: {n_f: null}
    inputs: [x, e]
    layers:
      - {type: UpSampling2D, name: up, size: 2}
      - {type: Concatenate, inputs: [up, e], axis: 3}
      - {type: Conv2D, filters: "${n_f}"}
      - {type: BatchNormalization}
      - {type: Activation, activation: tanh}
      - {type: Conv2D, filters: "${n_f}"}
      - {type: BatchNormalization}
      - {type: Activation, activation: tanh}
model:
  inputs: {original: {shape: [32, 32, 1]}}
  layers:
    - {block: conv, name: c1, n_f: 16}
    - {block: conv_pool, name: c2, n_f: 32}
    - {block: conv_pool, name: encoded, n_f: 64}
    - {block: up, name: d1, inputs: [encoded, c2], n_f: 32}
    - {block: up, name: d2, inputs: [d1, c1], n_f: 16}
    - {type: Conv2D, name: decoded, filters: 3, activation: sigmoid}
"""

# Runs in a fresh process: build the spec's model with Keras, then plot_model it (needs pydot + Graphviz's dot).
_PLOT_MODEL = """
import json, os, sys, time
t0 = time.perf_counter()
import kspec, keras
compiled = kspec.build(sys.argv[1])
built = time.perf_counter() - t0
try:
    keras.utils.plot_model(compiled.model, to_file=sys.argv[2], show_shapes=True, show_layer_names=True)
    status = "plot_model to SVG"
except (ImportError, OSError) as exc:
    status = "import + build only; plot_model failed: " + str(exc).splitlines()[0][:70]
if status == "plot_model to SVG" and not os.path.exists(sys.argv[2]):  # under IPython it only prints a message
    status = "import + build only; plot_model wrote nothing (pydot or Graphviz's dot missing)"
print(json.dumps({"status": status, "build_s": built}))
"""


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall, proc.stdout


def _cpu_timed(cmd: list[str], tree: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one child process, with `tree`'s kspec first on the path."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def dot_scaling(sizes: list[int], repeats: int, against: Path | None, tmp: Path) -> None:
    """The DOT of residual stacks of each size, this tree (and `against`, interleaved): medians, ratios."""
    trees = {"this": ROOT} | ({"against": against.resolve()} if against else {})
    print(f"\nDOT of residual stacks (kspec draw -o X.dot), {repeats} runs each; trees: "
          + ", ".join(f"{k} = {v}" for k, v in trees.items()))  # fmt: skip
    load = os.getloadavg()[0]
    heads = ("wall med", "wall min", "cpu med", "cpu min")
    print(f"{'layers':>7} {'side':8} " + " ".join(f"{h:>9}" for h in heads) + f" {'this/against':>13}")
    for n in sizes:
        spec = tmp / f"residual{n}.yaml"
        spec.write_text(residual(n), encoding="utf-8")
        runs: dict[str, list[tuple[float, float]]] = {side: [] for side in trees}
        for side, tree in trees.items():  # warm the file cache; not counted
            _cpu_timed([sys.executable, "-m", "kspec", "draw", str(spec), "-o", str(tmp / f"{side}{n}.dot")], tree)
        for _ in range(repeats):
            for side, tree in trees.items():
                out = tmp / f"{side}{n}.dot"
                runs[side].append(_cpu_timed([sys.executable, "-m", "kspec", "draw", str(spec), "-o", str(out)], tree))
        for side, got in runs.items():
            walls, cpus = [r[0] for r in got], [r[1] for r in got]
            ratio = ""
            if side == "against":
                pairs = list(zip(runs["this"], got, strict=True))
                same = (tmp / f"this{n}.dot").read_bytes() == (tmp / f"against{n}.dot").read_bytes()
                wall_r = statistics.median(a[0] / b[0] for a, b in pairs)
                cpu_r = statistics.median(a[1] / b[1] for a, b in pairs)
                ratio = f"{wall_r:.2f} / {cpu_r:.2f}" + ("" if same else " DOT DIFFERS")
            cells = (statistics.median(walls), min(walls), statistics.median(cpus), min(cpus))
            print(f"{n:>7} {side:8} " + " ".join(f"{c:9.3f}" for c in cells) + f" {ratio:>13}")
    print(f"load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; target for 5,000 layers: "
          "<= 0.5 s (the ratio column: medians of pairwise wall / CPU ratios, this tree over the other)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs of kspec draw (plot_model: half, at least 2)")
    parser.add_argument("--spec", type=Path, default=None, help="spec to draw (default: the ch8 UNET)")
    parser.add_argument("--skip-keras", action="store_true", help="do not time plot_model")
    parser.add_argument("--sizes", default="1000,5000", help="layers of the residual stacks timed as DOT ('': none)")
    parser.add_argument("--against", type=Path, help="another checkout's root, its DOT timed interleaved with this one")
    parser.add_argument("--dot-only", action="store_true", help="only the DOT of the residual stacks")
    parser.add_argument("--bytecode", action="store_true", help="compile both packages' bytecode first")
    args = parser.parse_args()
    if args.bytecode:
        for tree in [ROOT, *([args.against] if args.against else [])]:
            compileall.compile_dir(tree / "kspec", quiet=1)
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    if args.dot_only:
        with tempfile.TemporaryDirectory() as tmp:
            dot_scaling(sizes, args.repeats, args.against, Path(tmp))
        return
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        spec = args.spec or UNET
        if not spec.exists():
            spec = Path(tmp) / "unet.yaml"
            spec.write_text(textwrap.dedent(_INLINE_UNET).lstrip())
        out = Path(tmp) / "unet.svg"
        draw = [sys.executable, "-m", "kspec", "draw", str(spec), "-o", str(out)]
        _run(draw, env)  # warm the OS file cache (and .pyc files); not counted
        kspec_times = [_run(draw, env)[0] for _ in range(args.repeats)]
        rows = [("kspec draw -> SVG", kspec_times, f"{out.stat().st_size // 1024} KiB SVG, no TensorFlow")]
        if not args.skip_keras:
            plot = [sys.executable, "-c", _PLOT_MODEL, str(spec), str(Path(tmp) / "keras.svg")]
            runs = [_run(plot, env) for _ in range(max(2, args.repeats // 2))]
            info = json.loads(runs[-1][1].strip().splitlines()[-1])
            build = statistics.median(json.loads(r[1].strip().splitlines()[-1])["build_s"] for r in runs)
            rows.append(("keras plot_model", [r[0] for r in runs], f"{info['status']} (import+build {build:.2f} s)"))
    print(f"spec: {spec.relative_to(ROOT) if spec.is_relative_to(ROOT) else 'inline UNET (ch8 spec not found)'}")
    print(f"python {sys.version.split()[0]}, cold process each run, wall clock\n")
    print(f"{'tool':<20} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7}  note")
    for name, times, note in rows:
        median = statistics.median(times)
        print(f"{name:<20} {len(times):>4} {median:>9.3f} {min(times):>7.3f} {max(times):>7.3f}  {note}")
    print(
        f"\ntarget for kspec draw: <= 0.5 s (median {statistics.median(kspec_times):.3f} s; load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs: other processes inflate cold-start times)"
    )
    if sizes:
        with tempfile.TemporaryDirectory() as tmp:
            dot_scaling(sizes, args.repeats, args.against, Path(tmp))


if __name__ == "__main__":
    main()
