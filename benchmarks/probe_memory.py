"""Probe: where a training process's memory goes, phase by phase (issue 17, the LSTM with XLA).

Run: `python benchmarks/probe_memory.py [--model lstm] [--side kspec|book|both] [--epochs E] [--samples N]
[--repeats R] [--set PATH=VALUE ...] [--env NAME=VALUE ...]`.

Each side runs in its own fresh process, as `bench_train.py`'s child does (the same book script, the same
`kspec train` call, the same offline dataset file). On top of that child's hooks this probe records, in the process:

- VmRSS, VmHWM and the bytes glibc's malloc has handed out (`mallinfo2`), in MiB: at the start of training,
  around kspec's compiled calls (`resident._timed`: the first two, and every later one during which VmRSS or VmHWM
  rose by more than 1 MiB; "N x B" is N steps of batches of B), at each epoch's end and at the process's end;
- at the start of training and at the end, the resident set split by mapping (`/proc/self/smaps`): the main heap,
  other anonymous memory (threads' heaps, TensorFlow's large buffers), `libtensorflow_cc`'s pages, other files;
- the process's CPU time, the steady epochs' wall time (validation taken out, as in `bench_train.py`) and CPU time
  (validation included), so that a memory saving can be weighed against speed;
- with `--trim-after-first` (kspec only), a `malloc_trim` after the first compiled call and the RSS after it: what
  the compilation kept, apart from what it freed.

`--env NAME=VALUE` sets environment variables for the measured processes only (e.g. `XLA_FLAGS=...`), for A/B
readings of settings that must be in place before TensorFlow starts. Asserts nothing; prints one block per process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_train  # noqa: E402 - this folder's own module


def status(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def malloc_in_use() -> float:
    """MiB that glibc's malloc has handed out and not had back (`mallinfo2`: heap chunks in use plus mmapped
    chunks); NaN where the C library has no `mallinfo2`."""
    import ctypes

    class Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"
        )]  # fmt: skip

    try:
        fn = ctypes.CDLL(None).mallinfo2
    except AttributeError:
        return float("nan")
    fn.restype = Info
    info = fn()
    return (info.uordblks + info.hblkhd) / 2**20


MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$")


def smaps() -> dict[str, float]:
    """Resident MiB by kind of mapping (kinds of at least 1 MiB)."""
    kinds: dict[str, float] = {}
    name = ""
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = MAPPING.match(line)
            if head:
                path = head.group(1).strip()
                if path == "[heap]":
                    name = "heap"
                elif not path or path.startswith("[anon"):
                    name = "anonymous"
                elif "libtensorflow_cc" in path:
                    name = "libtensorflow_cc"
                else:
                    name = "other" if path.startswith("[") else "other files"
            elif line.startswith("Rss:"):
                kinds[name] = kinds.get(name, 0.0) + int(line.split()[1]) / 1024
    return {k: round(v, 1) for k, v in sorted(kinds.items()) if v >= 1}


def child(args: argparse.Namespace) -> None:
    """One measured process: bench_train's child, with extra snapshots."""
    points: list[tuple[str, float, float, float]] = []  # label, VmRSS, VmHWM, malloc in use
    maps: dict[str, dict[str, float]] = {}
    epoch_cpu: list[float] = []  # the process's CPU seconds at each epoch's end

    def mark(label: str) -> None:
        points.append((label, round(status("VmRSS"), 1), round(status("VmHWM"), 1), round(malloc_in_use(), 1)))

    mark("start (Python, no TensorFlow)")
    if args.side == "kspec":
        from kspec.training import resident

        timed = resident._timed
        calls = {"n": 0}

        def traced(run: Any, chunk: Any, pace: Any) -> Any:
            calls["n"] += 1
            n = calls["n"]
            what = f"compiled call {n} ({chunk.steps} x {int(chunk.table.shape[1])})"
            before = (status("VmRSS"), status("VmHWM"), round(malloc_in_use(), 1))
            out = timed(run, chunk, pace)
            if n <= 2 or status("VmHWM") > before[1] + 1 or status("VmRSS") > before[0] + 1:
                points.append((f"before {what}", round(before[0], 1), round(before[1], 1), before[2]))
                mark(f"after {what}")
            if n == 1 and args.trim_after_first:
                from kspec.training.memory import give_back

                give_back()
                mark("after compiled call 1, trimmed")
                maps["after compiled call 1, trimmed"] = smaps()
            return out

        resident._timed = traced  # type: ignore[assignment]
    import keras

    class Snap(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_begin(self, logs: Any = None) -> None:
            mark("training begins")
            maps["training begins"] = smaps()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            mark(f"epoch {epoch + 1} ends")
            t = os.times()
            epoch_cpu.append(t.user + t.system)

    init = keras.callbacks.CallbackList.__init__

    def with_snap(self: Any, callbacks: Any = None, add_history: bool = False, **kwargs: Any) -> None:
        if add_history:
            callbacks = [*(callbacks or []), Snap()]
        init(self, callbacks, add_history=add_history, **kwargs)

    keras.callbacks.CallbackList.__init__ = with_snap
    result = bench_train.child_train(args)
    mark("process end")
    maps["process end"] = smaps()
    cpu = os.times()
    steady_cpu = [round(b - a, 2) for a, b in zip(epoch_cpu, epoch_cpu[1:], strict=False)]
    result.update(points=points, maps=maps, cpu_s=round(cpu.user + cpu.system, 2), steady_cpu_s=steady_cpu)
    Path(args.result).write_text(json.dumps(result))


def measure(side: str, args: argparse.Namespace, home: Path, work: Path, env_extra: dict[str, str]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"{side}-", dir=work))
    result = folder / "result.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_HOME": str(home), **env_extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(bench_train.ROOT), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, __file__, "--child", "--side", side, "--model", args.model, "--epochs", str(args.epochs)]
    cmd += ["--workdir", str(folder), "--t0", repr(time.time()), "--result", str(result)]
    cmd += [f"--set={s}" for s in args.set or []] + (["--trim-after-first"] if args.trim_after_first else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode:
        return {"error": "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])}
    return dict(json.loads(result.read_text()))


def report(side: str, res: dict[str, Any]) -> str:
    if "error" in res:
        return f"{side}: ERROR\n{res['error']}"
    lines = [
        f"{side}: peak {res['rss_mib']:.0f} MiB, CPU {res['cpu_s']:.1f} s, wall {res['wall_s']:.1f} s, steady "
        f"epochs {' '.join(f'{s:.2f}' for s in res['steady_epoch_s'])} s (CPU, with validation: "
        f"{' '.join(f'{s:.2f}' for s in res['steady_cpu_s'])} s), first epoch {res['epoch1_s']:.1f} s"
    ]
    lines.append(f"  {'point':44s} {'VmRSS':>7s} {'VmHWM':>7s} {'malloc':>7s}")
    for label, rss, hwm, used in res["points"]:
        lines.append(f"  {label:44s} {rss:7.1f} {hwm:7.1f} {used:7.1f}")
    for when, kinds in res["maps"].items():
        lines.append(f"  resident by mapping, {when}: " + ", ".join(f"{k} {v:.0f}" for k, v in kinds.items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lstm", choices=sorted(bench_train.BENCHES))
    parser.add_argument("--side", default="both", help="kspec, book or both (interleaved)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, help="training examples (default: bench_train.py's for the model)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--set", action="append", metavar="PATH=VALUE", help="`kspec train --set` for the kspec side")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for the measured processes")
    parser.add_argument(
        "--trim-after-first", action="store_true", help="kspec: malloc_trim after the first compiled call (diagnosis)"
    )
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    b = bench_train.BENCHES[args.model]
    env_extra = dict(item.split("=", 1) for item in args.env)
    sides = ["book", "kspec"] if args.side == "both" else [args.side]
    out: list[dict[str, Any]] = []
    print(
        f"probe_memory: {args.model}, {args.samples or b.samples:,} examples, {args.epochs} epochs; "
        f"env {env_extra or '-'}; kspec --set {args.set or '-'}; load {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory(prefix="kspec-probe-") as tmp:
        home = Path(tmp) / "keras"
        bench_train.write_dataset(home, b.dataset, args.samples or b.samples)
        for r in range(args.repeats):
            for side in sides if r % 2 == 0 else sides[::-1]:
                res = measure(side, args, home, Path(tmp), env_extra)
                out.append({"side": side, "repeat": r + 1, **res})
                print(report(f"{side} (repeat {r + 1})", res), flush=True)
    print(f"load {os.getloadavg()[0]:.2f} at the end; {time.strftime('%Y-%m-%d %H:%M')}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
