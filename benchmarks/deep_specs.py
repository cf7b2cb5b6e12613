"""Deep specs for the benchmarks: a chain of Dense layers and a residual stack (Dense + Add per block instance).

`write(folder, n)` writes `chain{n}.yaml` and `residual{n}.yaml` (n layers each, not counting the input) and returns
their paths. Entries use `repeat:` in runs of at most 1,000 (the cap on `repeat`), so the files stay short; `--explicit`
variants write one entry per layer, which is what a long hand-written or generated spec looks like to the parser.
"""

from __future__ import annotations

from pathlib import Path

REPEAT_CAP = 1000


def _runs(total: int) -> list[int]:
    return [min(REPEAT_CAP, total - start) for start in range(0, total, REPEAT_CAP)]


def chain(n: int, explicit: bool = False) -> str:
    lines = ["kspec: 1", f"name: chain{n}", "model:", "  inputs: {x: {shape: [8]}}", "  layers:"]
    if explicit:
        lines += [f"    - {{type: Dense, units: 8, activation: relu, name: d{i}}}" for i in range(n)]
    else:
        lines += [
            f"    - {{type: Dense, units: 8, activation: relu, name: d{i}, repeat: {k}}}"
            for i, k in enumerate(_runs(n))
        ]
    return "\n".join(lines) + "\n"


def residual(n: int, explicit: bool = False) -> str:
    """n // 2 instances of a block `Dense -> Add(Dense, block input)`: a ResNet-style skip around every layer."""
    lines = [
        "kspec: 1",
        f"name: residual{n}",
        "blocks:",
        "  res:",
        "    inputs: [x]",
        "    layers:",
        "      - {type: Dense, units: 8, activation: relu, name: fc}",
        "      - {type: Add, name: add, inputs: [fc, x]}",
        "model:",
        "  inputs: {x: {shape: [8]}}",
        "  layers:",
    ]
    if explicit:
        lines += [f"    - {{block: res, name: r{i}}}" for i in range(n // 2)]
    else:
        lines += [f"    - {{block: res, name: r{i}, repeat: {k}}}" for i, k in enumerate(_runs(n // 2))]
    return "\n".join(lines) + "\n"


def write(folder: Path, n: int, explicit: bool = False) -> dict[str, Path]:
    out = {}
    for kind, make in (("chain", chain), ("residual", residual)):
        path = folder / f"{kind}{n}{'x' if explicit else ''}.yaml"
        path.write_text(make(n, explicit), encoding="utf-8")
        out[kind] = path
    return out
