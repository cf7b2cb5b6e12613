"""Cold-process wall time of `kspec validate specs/` beside `import tensorflow` alone, on this machine.

Run: `python benchmarks/bench_validate.py [--repeat 7]`. Prints medians and the ratio; no assertions (the target,
<= 0.5 s for all specs, is a number to read, not a test). Also reports whether keras/tensorflow were imported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    specs = sorted((ROOT / "specs").glob("*.yaml"))
    validate = [sys.executable, "-m", "kspec", "validate", "specs"]
    tf_import = [sys.executable, "-c", "import tensorflow"]
    probe = [sys.executable, "-c",
             "import sys; from kspec.cli import main; main(['validate', 'specs']); "
             "print(int('keras' in sys.modules or 'tensorflow' in sys.modules))"]  # fmt: skip
    wall(validate)  # warm the file cache
    v = [wall(validate) for _ in range(args.repeat)]
    t = [wall(tf_import) for _ in range(max(3, args.repeat // 2))]
    imported = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    mv, mt = statistics.median(v), statistics.median(t)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"{'what':44} {'median s':>9} {'min s':>7}")
    print(f"{f'kspec validate specs/ ({len(specs)} specs), cold':44} {mv:9.3f} {min(v):7.3f}")
    print(f"{'python -c import tensorflow, cold':44} {mt:9.3f} {min(t):7.3f}")
    print(f"ratio validate / tensorflow import: {mv / mt:.2f}  (target: validate <= 0.5 s: "
          f"{'met' if mv <= 0.5 else 'missed'})")  # fmt: skip
    print(f"keras or tensorflow imported by validate: {'yes' if imported == '1' else 'no'}")


if __name__ == "__main__":
    main()
