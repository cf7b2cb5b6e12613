"""Stage 4, check: losses and loss weights given per output name (`loss: {decoded: mse, label: ...}`), and the
losses the `gan` recipe can use. Imports kspec only; never keras."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kspec import catalog
from kspec.errors import SpecError, did_you_mean
from kspec.lang.loss_spec import reference
from kspec.lang.train_spec import per_output

if TYPE_CHECKING:
    from kspec.analysis.graph import Resolved


def trained_outputs(res: Resolved) -> tuple[str, list[str]] | None:
    """The trained model's name and its output names (`decoded`, `encoder[2]`), or None if unknown."""
    train = res.spec.train
    name = train.model if train is not None and train.model else res.main
    graph = res.models.get(name)
    return None if graph is None else (name, graph.output_names())


def named_losses(res: Resolved) -> bool:
    """`loss:` is a mapping by output name (one of its keys names an output; else it is a `{type: ...}` object)."""
    train, found = res.spec.train, trained_outputs(res)
    if train is None or found is None or not per_output(train.loss):
        return False
    assert isinstance(train.loss, dict)
    return any(key in found[1] for key in train.loss) or train.recipe == "gan" and "discriminator" in train.loss


def check_losses(res: Resolved, ctx: Any) -> Iterator[SpecError]:
    """Per-output losses and weights name the trained model's outputs, each once, and every output gets a loss."""
    train = res.spec.train
    found = trained_outputs(res)
    if train is None or found is None:
        return
    model, names = found
    if train.recipe == "gan":
        if named_losses(res):
            yield SpecError("the gan recipe takes one loss for the discriminator's output, not one per output",
                            ("train", "loss"), "train-error",
                            hint="write e.g. `loss: {type: BinaryCrossentropy, from_logits: true}`")  # fmt: skip
        return
    if named_losses(res):
        assert isinstance(train.loss, dict)
        yield from _named(train.loss, names, model, "loss", lambda k, v: _check_loss(v, ("train", "loss", k), res))
        missing = [n for n in names if n not in train.loss]
        if missing:
            yield SpecError(
                f"no loss for output{'s' if len(missing) > 1 else ''} {', '.join(missing)} of model '{model}'",
                ("train", "loss"),
                "train-error",
                hint="give every output a loss (an output that should not train can be left out of `outputs:`)",
            )
    if isinstance(train.loss_weights, dict):
        yield from _named(train.loss_weights, names, model, "loss_weights", lambda k, v: iter(()))


def _check_loss(value: Any, path: tuple[str | int, ...], res: Resolved) -> Iterator[SpecError]:
    if reference(value, res.spec.losses) is not None:
        return  # a loss of `losses:` (checked by `loss_formulas`)
    for err in catalog.check_object("loss", value):
        yield err.prefixed(path)


def _named(table: dict[str, Any], names: list[str], model: str, key: str, check: Any) -> Iterator[SpecError]:
    for out, value in table.items():
        if out not in names:
            yield SpecError(
                f"model '{model}' has no output named '{out}'",
                ("train", key, out),
                "unknown-output",
                hint=did_you_mean(out, names) or f"its outputs: {', '.join(names)}",
            )
        else:
            yield from check(out, value)
