"""Check that `kspec draw` writes the same DOT text as another checkout: for every spec in the repository (specs/,
tests/cases/valid/, examples/...) and deep residual and chain stacks, under four sets of options.

Run: `python tools/dot_identity.py --against DIR` (e.g. `git worktree add /tmp/base main`). Each tree draws in a
process of its own (its kspec first on the path); the DOT texts are compared byte for byte, and every difference is
named. Exit status 1 when any differs. Specs that do not load or check are skipped on both sides alike.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: runs in each tree: draws every spec named on stdin into the folder argv[1], one file per spec and option set
_DRAW = r"""
import sys, pathlib
import kspec
from kspec import diagram
from kspec.analysis import shapes
from kspec.errors import SpecErrors
OPTIONS = {
    "default": {},
    "full": dict(collapse=True, expand_nested=True, show_dtype=True, show_trainable=True),
    "bare": dict(show_shapes=False, show_layer_names=False, show_layer_activations=False, show_hyperparams=False,
                 show_params=False, legend=False, rankdir="LR"),
    "collapse": dict(collapse=True),
}
out = pathlib.Path(sys.argv[1])
for i, line in enumerate(sys.stdin.read().splitlines()):
    try:
        resolved = kspec.load(line)
        kspec.check(resolved, max_synthetic_values=None)
        report = shapes.infer(resolved)
    except SpecErrors:
        continue
    for key, options in OPTIONS.items():
        try:
            text = diagram.to_dot(resolved, diagram.DrawOptions(**options), shapes=report)
        except Exception as exc:  # the same failure on both sides is no difference
            text = f"error: {type(exc).__name__}: {exc}"
        (out / f"{i:04d}.{key}.dot").write_text(text, encoding="utf-8")
"""


def _draw(tree: Path, specs: list[Path], out: Path) -> None:
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tree)}
    listing = "\n".join(str(p) for p in specs)
    subprocess.run([sys.executable, "-c", _DRAW, str(out)], input=listing, text=True, env=env, cwd=tree, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, required=True, help="the other checkout's root")
    parser.add_argument("--sizes", default="1000,5000", help="layers of the generated residual and chain stacks")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import deep_specs

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        specs = sorted(p for p in ROOT.rglob("*.yaml") if ".git" not in p.parts and "invalid" not in p.parts)
        for n in [int(s) for s in args.sizes.split(",") if s.strip()]:
            specs += sorted(deep_specs.write(folder, n).values()) + sorted(deep_specs.write(folder, n, True).values())
        _draw(ROOT, specs, folder / "this")
        _draw(args.against.resolve(), specs, folder / "against")
        ours = {p.name: p.read_bytes() for p in (folder / "this").iterdir()}
        theirs = {p.name: p.read_bytes() for p in (folder / "against").iterdir()}
        differ = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
        for key in differ:
            index, options = key.split(".")[:2]
            print(f"differs: {specs[int(index)]} ({options})")
        print(f"{len(ours)} DOT texts from {len(specs)} specs compared; {len(differ)} differ")
        return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
