"""Render every spec's architecture into `specs/diagrams/<name>.dot` and `.svg` (`--check`: fail when stale).

Run as `python -m tools.diagrams [--check]`. The DOT text is the source of truth for the staleness check (it is
byte-deterministic); the SVG is rendered from it with whatever renderer kspec finds (graphviz-pure after a plain
`pip install`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import kspec
from kspec import diagram
from kspec.analysis import shapes
from kspec.diagram import render

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
OUT = SPECS / "diagrams"


def dot_of(spec: Path) -> tuple[str, str]:
    """The spec's name and its diagram as DOT text, with static shapes."""
    resolved = kspec.load(spec)
    dot = diagram.to_dot(resolved, diagram.DrawOptions(), shapes=shapes.infer(resolved))
    return resolved.spec.name, dot


def stale() -> list[str]:
    """Names of the specs whose committed DOT or SVG is missing or differs from a fresh drawing."""
    out = []
    for spec in sorted(SPECS.glob("*.yaml")):
        name, dot = dot_of(spec)
        dot_file, svg_file = OUT / f"{name}.dot", OUT / f"{name}.svg"
        if not dot_file.exists() or dot_file.read_text() != dot or not svg_file.exists():
            out.append(name)
    names = {dot_of(s)[0] for s in SPECS.glob("*.yaml")}
    out += sorted(p.stem for p in OUT.glob("*.dot") if p.stem not in names)
    return out


def write() -> None:
    OUT.mkdir(exist_ok=True)
    for spec in sorted(SPECS.glob("*.yaml")):
        name, dot = dot_of(spec)
        (OUT / f"{name}.dot").write_text(dot)
        render.render(dot, OUT / f"{name}.svg")
        print(f"wrote {OUT.relative_to(ROOT)}/{name}.svg")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when a diagram is missing or stale")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        if names:
            print(f"stale diagrams: {', '.join(names)}; run python -m tools.diagrams", file=sys.stderr)
            return 1
        return 0
    write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
