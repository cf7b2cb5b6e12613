"""Import every `keras.applications` model with `kspec import` and check the round trip; print a Markdown table.

    python tools/import_applications.py [NAME ...] [--out DIR] [--size 32] [--jobs 1]

Each model runs in its own process (fresh Keras auto-names, bounded memory), niced and on one thread, because it is
slow: the original is built with `weights=None` and a small input, imported (spec + `.weights.h5`), validated
statically (every layer's inferred shape equal to Keras's), built with `kspec build` (which loads `init:`), compared
(layer classes, names, connections, parameter counts), run on the same random input as the original, and imported
again (the text must not change). Columns: layers, parameters, lines of the spec, blocks found (instances), the time
`import_model` takes (reading and composing; building the application and writing weights not included), the time
`kspec validate` takes (`--cold`: a fresh process; else in process), and the verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Smallest inputs the applications accept with weights=None (the rest take 32x32).
MIN_SIZE = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71}


def one(name: str, out: Path, size: int, cold: bool) -> dict[str, object]:
    """Import and check one application (runs in the child process)."""
    import keras

    import kspec
    from kspec.porting import import_model, roundtrip, sources

    side = max(size, MIN_SIZE.get(name, 0))
    row: dict[str, object] = {"model": name, "input": side}
    t0 = time.perf_counter()
    src = sources.load(f"keras.applications.{name}", {"input_shape": [side, side, 3]})
    t1 = time.perf_counter()
    spec = out / f"{name.lower()}.yaml"
    import_model(src, spec, weights=False)  # timed without writing the weights file
    t2 = time.perf_counter()
    report = import_model(src, spec, weights=True)
    spec.write_text(report.text, encoding="utf-8")
    original = src.load_model()
    row.update(
        layers=len(original.operations),
        params=int(original.count_params()),
        lines=report.composed.lines,
        blocks=report.composed.blocks,
        block_layers=report.composed.block_layers,
        build_app_s=round(t1 - t0, 2),
        import_s=round(t2 - t1, 2),
    )
    if report.problems:
        row["ok"] = False
        row["why"] = "; ".join(sorted({f"{p.cls} ({p.code})" for p in report.problems}))
        row["problems"] = len(report.problems)
        return row
    t3 = time.perf_counter()
    if cold:  # a fresh `kspec validate` process, as a person runs it
        done = subprocess.run([sys.executable, "-m", "kspec", "validate", str(spec)], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
        if done.returncode != 0:
            row.update(ok=False, why="validate: " + done.stdout.strip().splitlines()[0][:200])
            return row
    resolved = kspec.load(spec)
    kspec.check(resolved, max_params=10**10)
    row["validate_s"] = round(time.perf_counter() - t3, 2)
    static = roundtrip.static_shape_differences(resolved, original)
    compiled = kspec.compile_resolved(resolved)  # loads init: weights
    with compiled.freezing(compiled.main):
        diffs = roundtrip.differences(original, compiled.model)
    delta = roundtrip.max_output_difference(original, compiled.model)
    again = import_model(sources.from_model(compiled.model, src.label), spec, weights=False)
    fixpoint = _same_without_init(again.text, report.text)
    row.update(static_mismatches=len(static), structure_diffs=len(diffs), max_abs_diff=delta, fixpoint=fixpoint)
    problems = [*static[:1], *diffs[:1]]
    if delta > 1e-4:
        problems.append(f"outputs differ by {delta:.2g}")
    if not fixpoint:
        problems.append("re-import changes the text")
    row["ok"] = not problems
    row["why"] = "; ".join(problems)
    keras.backend.clear_session()
    return row


def _same_without_init(a: str, b: str) -> bool:
    def strip(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith("init:")]

    return strip(a) == strip(b)


def _blocks(row: dict[str, object]) -> str:
    blocks = row.get("blocks") or {}
    assert isinstance(blocks, dict)
    if not blocks:
        return "-"
    return f"{len(blocks)} ({sum(blocks.values())} instances, {row.get('block_layers')} layers)"


def table(rows: list[dict[str, object]]) -> str:
    head = (
        "| model | input | layers | params | spec lines | blocks (instances, layers in them) | import s "
        "| validate s | round trip |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | | | | | | | | failed: {r['error']} |")
            continue
        verdict = "ok" if r.get("ok") else f"no: {r.get('why')}"
        lines.append(
            f"| {r['model']} | {r['input']} | {r['layers']} | {r['params']:,} | {r['lines']} | {_blocks(r)} "
            f"| {r['import_s']} | {r.get('validate_s', '-')} | {verdict} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--cold", action="store_true", help="time validate as a fresh process (else in process)")
    parser.add_argument("--rows", type=Path, help="print the table of JSON rows saved from earlier runs, then stop")
    args = parser.parse_args()
    if args.one:
        print("ROW " + json.dumps(one(args.one, args.out, args.size, args.cold)))
        return 0
    if args.rows:
        rows = [json.loads(line) for line in args.rows.read_text().splitlines() if line.startswith("{")]
        print(table(rows))
        print(f"\n{sum(bool(r.get('ok')) for r in rows)} of {len(rows)} round-trip")
        return 0
    from kspec.porting.sources import application_names

    names = args.names or application_names()
    out = args.out or Path(tempfile.mkdtemp(prefix="kspec-apps-"))
    out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "OMP_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
    }
    rows = []
    for name in names:
        cmd = [
            "nice",
            "-n",
            "19",
            sys.executable,
            str(Path(__file__).resolve()),
            "--one",
            name,
            "--out",
            str(out),
            "--size",
            str(args.size),
            *(["--cold"] if args.cold else []),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        found = [line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")]
        row = (
            json.loads(found[0])
            if found
            else {"model": name, "error": (done.stderr.strip().splitlines() or ["?"])[-1][:200]}
        )
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    print(table(rows))
    print(f"\n{sum(bool(r.get('ok')) for r in rows)} of {len(rows)} round-trip; specs in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
