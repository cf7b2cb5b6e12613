"""Stage train, before the first step: named arrays against a model with several inputs or outputs. Each model
input gets the data's array of its name, each output the target array of its name, with the per-example shape it
takes; then every split holds its arrays as tuples in the model's input and output order, which is how the feeds
(`pipeline`, the resident loop, the GradientTape loop) hand them to Keras. Imports kspec and NumPy only."""

from __future__ import annotations

from typing import Any

from kspec.data import named
from kspec.data.registry import Arrays, Splits
from kspec.errors import SpecError, did_you_mean
from kspec.lang.data_names import FedNames, Path

Shape = tuple[int | None, ...]


def fits(data: tuple[int, ...], model: Shape) -> bool:
    return len(data) == len(model) and all(m is None or m == d for d, m in zip(data, model, strict=True))


def check_side(
    arrays: Any,
    want: dict[str, Shape],
    *,
    side: str,
    model: str,
    where: dict[str, Path] | None,
    at: Path,
    fits_one: Any = None,
) -> list[SpecError]:
    """Problems of the named arrays `arrays` (or one array) against a model's inputs or outputs `want` (name ->
    per-example shape). `fits_one(name, data_shape, model_shape)` judges one array (default: equal shapes)."""
    fits_one = fits_one or (lambda _n, d, m: fits(d, m))
    what = "input" if side == "inputs" else "output"
    errors = []
    if not named.is_named(arrays):
        if len(want) > 1:
            errors.append(
                SpecError(
                    f"model '{model}' has {len(want)} {what}s ({', '.join(want)}), but the data's {side} are one array",
                    at,
                    "data-mismatch",
                    hint=f"name one array per {what} (npz `{{name: key}}`, csv column groups by name)",
                )
            )
        return errors
    located = where or {}
    for name, array in arrays.items():
        if name not in want:
            errors.append(
                SpecError(
                    f"the data's {side} name an array '{name}', but model '{model}' has no {what} '{name}'",
                    located.get(name, at),
                    "data-mismatch",
                    hint=did_you_mean(name, want) or f"its {what}s: {', '.join(want)}",
                )
            )
            continue
        shape = tuple(array.shape[1:])
        if not fits_one(name, shape, want[name]):
            errors.append(
                SpecError(
                    f"the array for {what} '{name}' has shape {list(shape)} per example, but model '{model}' "
                    f"{'takes' if what == 'input' else 'outputs'} {list(want[name])} there",
                    located.get(name, at),
                    "data-mismatch",
                    hint="store that array in the shape the model expects, or change the model's "
                    + ("input" if what == "input" else "output"),
                )
            )
    missing = [n for n in want if n not in arrays]
    if missing:
        errors.append(
            SpecError(
                f"no data for {what}{'s' if len(missing) > 1 else ''} {', '.join(missing)} of model '{model}' "
                f"(the data names {', '.join(arrays)})",
                at,
                "data-mismatch",
                hint=f"add an array for each {what} by name",
            )
        )
    return errors


def in_model_order(splits: Splits, inputs: list[str], outputs: list[str]) -> None:
    """Named arrays -> one array (one input or output) or a tuple in the model's order, in every split."""

    def ordered(arrays: Any, names: list[str]) -> Any:
        if not named.is_named(arrays):
            return arrays
        return arrays[names[0]] if len(names) == 1 else tuple(arrays[n] for n in names)

    for part_name, part in splits.named().items():
        same = part.y is part.x
        x = ordered(part.x, inputs)
        setattr(splits, part_name, Arrays(x, x if same else ordered(part.y, outputs)))


__all__ = ["FedNames", "check_side", "fits", "in_model_order"]
