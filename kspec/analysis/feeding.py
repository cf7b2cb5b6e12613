"""Stage 4, check: the data section feeds the trained model's inputs and outputs. One array feeds a model with one
input (or output); named arrays (`npz` keys, `csv` column groups, `pairs`) feed inputs and outputs by name, and every
name must be one of the model's, each input and output fed once. Imports kspec only; never keras."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kspec.analysis.losses import trained_outputs
from kspec.errors import SpecError, did_you_mean
from kspec.lang.data_names import FedNames, Path, fed_names

if TYPE_CHECKING:
    from kspec.analysis.graph import Resolved

_NAME_THEM = (
    "name one array per {what}: npz `{key}: {{{names}}}` (file keys by {what} name), or csv "
    "`{col}: {{{first}: [columns...], ...}}`"
)


def check_feedable(res: Resolved, ctx: Any) -> Iterator[SpecError]:
    """Named arrays name the trained model's inputs and outputs; a model with several of them gets named arrays."""
    train, data = res.spec.train, res.spec.data
    found = trained_outputs(res)
    if train is None or data is None or found is None or train.recipe == "gan":
        return
    graph = res.models[found[0]]
    inputs, outputs = list(graph.inputs), found[1]
    fed = fed_names(data, inputs)
    if not fed.known:
        if not fed.by_model and (len(inputs) > 1 or len(outputs) > 1):
            what = f"{len(inputs)} inputs ({', '.join(inputs)})" if len(inputs) > 1 else f"{len(outputs)} outputs"
            yield SpecError(
                f"model '{graph.name}' has {what}, but a synthetic source with `input_shape`/`output_shape` makes "
                "one input and one target array",
                ("data", "source"),
                "data-mismatch",
                hint="leave out input_shape and output_shape: synthetic data then takes each input's and output's "
                "shape from the model, by name",
            )
        return
    yield from _on_names(fed)
    for at, kind, names in fed.one_array_steps:
        yield SpecError(
            f"`{kind}` works on one array, but the data has named arrays here ({', '.join(names)})",
            at,
            "data-mismatch",
            hint="store one-hot targets in the file or use a sparse loss per output"
            if kind == "one_hot"
            else "apply it to single-array data (one input and one target array)",
        )
    yield from _side(fed.x, fed.x_at, inputs, graph.name, "input", ("x", "features"))
    if train.recipe == "autoencoder" or not fed.targets:
        return
    yield from _side(fed.y, fed.y_at, outputs, graph.name, "output", ("y", "targets"))
    if len(outputs) > 1 and train.class_weight:
        yield SpecError(
            f"`class_weight` weighs the examples of one output, but model '{graph.name}' has {len(outputs)}",
            ("train", "class_weight"),
            "train-error",
            hint="remove class_weight (Keras supports it for single-output models only)",
        )


def _on_names(fed: FedNames) -> Iterator[SpecError]:
    """A step's `on: [names]` names arrays the data has by name at that step."""
    for at, names, have in fed.named_steps:
        for j, name in enumerate(names):
            if name not in have:
                what = f"named arrays {', '.join(have)}" if have else "no named arrays (one input and one target array)"
                yield SpecError(
                    f"this step names the array '{name}', but the data has {what} here",
                    (*at, "on", j),
                    "data-mismatch",
                    hint=did_you_mean(name, have) or ("use on: x, y or both" if not have else None),
                )


def _side(
    arrays: dict[str, Path] | None, at: Path, names: list[str], model: str, what: str, keys: tuple[str, str]
) -> Iterator[SpecError]:
    if arrays is None:
        if len(names) > 1:
            yield SpecError(
                f"model '{model}' has {len(names)} {what}s ({', '.join(names)}), but the data feeds one "
                f"{'input' if what == 'input' else 'target'} array",
                at,
                "data-mismatch",
                hint=_NAME_THEM.format(
                    what=what, key=keys[0], col=keys[1], names=", ".join(f"{n}: ..." for n in names), first=names[0]
                ),
            )
        return
    for name, path in arrays.items():
        if name not in names:
            yield SpecError(
                f"the data names an array '{name}', but model '{model}' has no {what} '{name}'",
                path,
                "data-mismatch",
                hint=did_you_mean(name, names) or f"its {what}s: {', '.join(names)}",
            )
    missing = [n for n in names if n not in arrays]
    if missing:
        yield SpecError(
            f"no data for {what}{'s' if len(missing) > 1 else ''} {', '.join(missing)} of model '{model}'",
            at,
            "data-mismatch",
            hint=f"add an array for {'each' if len(missing) > 1 else 'it'} by name ({', '.join(missing)})",
        )


__all__ = ["FedNames", "check_feedable"]
