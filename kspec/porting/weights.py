"""The weights an imported spec starts from: the spec is built, each layer takes the weights of the source's
same-named layer, and the result is saved with `save_weights` for `init: {weights: ...}`. Imports keras lazily.

Going through the spec's own model (rather than copying the source's weights file) makes the file fit what
`kspec build` makes, whatever container structure the source had (a nested `Sequential` becomes a functional
model, for instance), and proves at import time that the spec builds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kspec.errors import SpecErrors


def copy_weights(source: Any, target: Any) -> None:
    """Give every layer of `target` the weights of the same-named layer of `source` (nested models too)."""
    for op in source.operations:
        if not getattr(op, "weights", None):
            continue
        dest = target.get_layer(op.name)
        if hasattr(op, "operations") and hasattr(dest, "operations"):
            copy_weights(op, dest)
        else:
            dest.set_weights(op.get_weights())


def write(source_model: Any, text: str, out: Path, weights_path: Path) -> None:
    """Build the spec `text` (its `init:` line left out), copy `source_model`'s weights in, save them."""
    import kspec

    tmp = out.with_name(f".{out.stem}.importing.yaml")
    tmp.write_text("\n".join(line for line in text.splitlines() if not line.startswith("init:")), encoding="utf-8")
    try:
        compiled = kspec.compile_resolved(kspec.load(tmp))
    except SpecErrors as exc:
        for err in exc.errors:
            err.file = str(out)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    copy_weights(source_model, compiled.model)
    compiled.model.save_weights(str(weights_path))
