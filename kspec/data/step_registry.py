"""Stage data: the registry of preprocessing step functions (`STEP_FUNCTIONS`, filled with `@step(name)`) and what
the steps share: mapping a function over the inputs and/or targets of every split (one array or named arrays),
statistics fitted on the training split, subsets. NumPy only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kspec.data import named
from kspec.data.registry import Arrays, Splits
from kspec.errors import SpecError, SpecErrors

StepFn = Callable[[Any, Splits, tuple[str | int, ...]], Splits]
STEP_FUNCTIONS: dict[str, StepFn] = {}


def step(name: str) -> Callable[[StepFn], StepFn]:
    """Register a step function under its step's `type`."""

    def deco(fn: StepFn) -> StepFn:
        STEP_FUNCTIONS[name] = fn
        return fn

    return deco


def sides(on: Any) -> tuple[Any, Any]:
    """What `on` selects on each side: None (every array), a list of names, or False (that side is left alone)."""
    if isinstance(on, list):
        return on, on
    return (None if on in ("x", "both") else False), (None if on in ("y", "both") else False)


def map_arrays(splits: Splits, on: Any, fn: Callable[[Any], Any]) -> Splits:
    """Apply `fn` to the inputs and/or targets of every split (`on`: x, y, both or a list of array names)."""
    return map_sides(splits, *sides(on), fn, both=on == "both")


def map_sides(splits: Splits, on_x: Any, on_y: Any, fn: Callable[[Any], Any], both: bool = False) -> Splits:
    for part in splits.named().values():
        same = part.y is part.x
        old_x = part.x
        if on_x is not False:
            part.x = named.apply(part.x, fn, on_x)
        if same:  # targets copied from the inputs: `x` steps leave them as they were
            part.y = part.x if both else named.apply(old_x, fn, on_y) if on_y is not False else old_x
        elif on_y is not False and part.y is not None:
            part.y = named.apply(part.y, fn, on_y)
    return splits


def fitted(splits: Splits, on: Any, stats: Callable[[Any], tuple[Any, Any]]) -> Splits:
    """A step whose (shift, divisor) come from the training split only: each array's own, fitted on its training
    examples (the inputs' for the inputs, the targets' for the targets, each named array its own)."""

    def fit(ref: Any) -> Callable[[Any], Any]:
        shift, div = stats(np.asarray(ref, dtype=np.float64))
        div = np.where(div == 0, 1.0, div)
        return lambda a: ((a - shift) / div).astype(np.float32)

    train = splits.train
    if train.y is train.x or train.y is None:  # one set of arrays: fitted once, as `map_arrays` applies it
        if not named.is_named(train.x):
            return map_arrays(splits, on, fit(train.x))
        on_x, on_y = sides(on)
        for key in [k for k in train.x if not isinstance(on, list) or k in on]:
            one = [key]
            splits = map_sides(splits, one if on_x is not False else False, one if on_y is not False else False,
                               fit(train.x[key]), both=on == "both")  # fmt: skip
        return splits
    on_x, on_y = sides(on)
    for side, want in (("x", on_x), ("y", on_y)):
        arrays = train.x if side == "x" else train.y
        if want is False:
            continue
        for key in list(arrays) if named.is_named(arrays) else [None]:
            if key is not None and want is not None and key not in want:
                continue
            sel: list[str] | None = None if key is None else [key]
            fn = fit(arrays if key is None else arrays[key])
            splits = map_sides(splits, sel if side == "x" else False, sel if side == "y" else False, fn)
    return splits


def labels(splits: Splits, path: Any) -> list[Any]:
    ys = [p.y for p in splits.named().values() if p.y is not None and p.y is not p.x]
    if not ys:
        raise SpecErrors([SpecError("this step needs labels, but the data has no targets", path, "data-error")])
    return ys


def single(splits: Splits, path: Any, side: str, hint: str) -> None:
    """Steps that work on one input (or target) array refuse named arrays, at the step."""
    part = splits.train
    arrays = part.x if side == "x" else part.y
    if named.is_named(arrays):
        what = "inputs" if side == "x" else "targets"
        raise SpecErrors(
            [
                SpecError(
                    f"this step works on one {what[:-1]} array, but the data's {what} are named arrays "
                    f"{named.describe(arrays)}",
                    path,
                    "data-mismatch",
                    hint=hint,
                )
            ]
        )


def subset(part: Arrays, index: Any) -> Arrays:
    x = named.rows(part.x, index)
    return Arrays(x, x if part.y is part.x else named.rows(part.y, index))
