"""Stage parse: which named arrays the `data:` section feeds, read from the spec alone (no data is opened).

A source gives one input array and one target array, or named arrays (`npz` with `x: {title: title_ids, ...}`,
`csv` with `features: {title: [...], ...}`); steps may change that (`pairs` makes two named inputs and one target
array, `input_as_target` copies the inputs to the targets). The analysis checks these names against the trained
model's inputs and outputs; training uses the document paths to locate a mismatch it finds in the data itself.
Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kspec.lang import data_sources as ds
from kspec.lang.data_spec import DataSpec

Path = tuple[str | int, ...]


@dataclass
class FedNames:
    """What the data section feeds: per side, the names of its arrays with where each is written, or None for one
    unnamed array. `known` is False where the spec alone cannot tell (a synthetic source follows the model);
    `targets` is False where the data certainly has no targets."""

    x: dict[str, Path] | None = None
    y: dict[str, Path] | None = None
    x_at: Path = ("data", "source")
    y_at: Path = ("data", "source")
    known: bool = True
    #: the source names its arrays after the model's inputs and outputs (`npy_folder`): checked when read
    by_model: bool = False
    targets: bool = True
    steps: dict[str, Path] = field(default_factory=dict)
    #: steps that name arrays (`on: [title]`): (the step's path, the names it gives, the names the data has there)
    named_steps: list[tuple[Path, list[str], list[str]]] = field(default_factory=list)
    #: steps that work on one array but meet named arrays there: (the step's path, its type, the names)
    one_array_steps: list[tuple[Path, str, list[str]]] = field(default_factory=list)


def _named(value: Any, at: Path) -> dict[str, Path] | None:
    return {name: (*at, name) for name in value} if isinstance(value, dict) else None


#: steps that take one array: on which side (x: the inputs, y: the targets)
_ONE_ARRAY = {"one_hot": "y", "window": "x", "augment": "x", "pairs": "xy"}


def fed_names(data: DataSpec, input_names: list[str]) -> FedNames:
    """The arrays `data` feeds after all its steps, for a model whose inputs are `input_names` (in order).

    Args:
        data: the parsed `data:` section.
        input_names: the trained model's inputs (a `pairs` step without `inputs:` feeds the model's two inputs).
    """
    src, base = data.source, ("data", "source")
    out = FedNames()
    if isinstance(src, ds.Npz):
        out.x, out.y = _named(src.x, (*base, "x")), _named(src.y, (*base, "y"))
        out.x_at, out.y_at, out.targets = (*base, "x"), (*base, "y"), src.y is not None
    elif isinstance(src, ds.Csv):
        out.x, out.y = _named(src.features, (*base, "features")), _named(src.targets, (*base, "targets"))
        out.x_at, out.y_at, out.targets = (*base, "features"), (*base, "targets"), bool(src.targets)
    elif isinstance(src, ds.Npy):
        out.targets = src.targets is not None
    elif isinstance(src, ds.Synthetic) and not (src.input_shape or src.output_shape):
        out.known, out.by_model = False, True  # made in the model's shapes, by its input and output names
    elif isinstance(src, ds.Synthetic):
        out.known = False  # explicit shapes: one input and one target array
    elif isinstance(src, ds.NpyFolder):  # the folder's files are named after the model's inputs and outputs
        out.known, out.by_model = False, True
    for i, step in enumerate(data.preprocess):
        at: Path = ("data", "preprocess", i)
        out.steps[step.type] = at
        on = getattr(step, "on", None)
        if isinstance(on, list) and out.known:
            out.named_steps.append((at, list(on), [*(out.x or {}), *(out.y or {})]))
        side = _ONE_ARRAY.get(step.type, "")
        meets = [*(out.x or {} if "x" in side else {}), *(out.y or {} if "y" in side else {})]
        if meets and out.known:
            out.one_array_steps.append((at, step.type, meets))
        if step.type == "pairs":
            names = getattr(step, "inputs", None) or (input_names if len(input_names) == 2 else None)
            if names is None:
                out.x = None  # refused at train time with the hint to name them; checked statically as such
            else:
                at_names: Path = (*at, "inputs") if getattr(step, "inputs", None) else at
                out.x = {name: ((*at_names, j) if at_names != at else at) for j, name in enumerate(names)}
            out.x_at, out.y, out.y_at, out.targets = at, None, at, True
        elif step.type == "input_as_target":
            out.y, out.y_at, out.targets = out.x, at, True
        elif step.type == "window":
            out.x, out.y, out.x_at, out.y_at, out.targets = None, None, at, at, True
    return out
