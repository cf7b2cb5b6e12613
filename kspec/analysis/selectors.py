"""Stage 3, resolve: output selection, `name[i]` and `name.output`, for layers and nested models with several outputs.

`encoder[2]` takes the third output of `encoder`; `encoder.z` the output of nested model `encoder` named `z` (its
output layer), `lstm.state_h` a named output of a layer that returns several (see `catalog.calls`). A name that is
itself a node (layer names may hold dots) is never split. Imports kspec only, never keras.
"""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Any

from kspec import catalog
from kspec.catalog.calls import output_names
from kspec.errors import SpecError, did_you_mean

# The graph types are `kspec.analysis.model_graph.Node` and `ModelGraph`; that module imports this one, hence `Any`.
Node = Any
ModelGraph = Any

Select = int | str | None

#: A block instance given a selected output, tensors by call argument or call options.
BLOCK_INPUTS = SpecError(
    "a block instance takes whole layers as inputs, listed by name",
    (),
    "wrong-type",
    hint="select the output in a layer inside the block, or pass it through a layer first",
)

_INDEX = re.compile(r"^(?P<base>.+)\[(?P<i>[0-9]{1,4})\]$")


def split_ref(ref: str, *known: Container[str]) -> tuple[str, Select]:
    """`enc[2]` -> (`enc`, 2); `enc.z` -> (`enc`, `z`) unless `enc.z` is itself a name (in one of `known`: several
    containers are looked into as they are, never merged into a copy per call); else (`ref`, None)."""
    if "[" not in ref and "." not in ref:  # a plain name (most of them)
        return ref, None
    m = _INDEX.match(ref)
    if m:
        return m["base"], int(m["i"])
    if "." in ref and not any(ref in names for names in known):
        base, _, out = ref.rpartition(".")
        if base:
            return base, out
    return ref, None


def label(name: str, select: Select) -> str:
    """How a selected output is written: `enc`, `enc[2]`."""
    return name if select is None else f"{name}[{select}]"


def output_labels(node: Node, models: dict[str, ModelGraph]) -> tuple[str, ...] | None:
    """Names of the outputs of `node` when it has several (None: unknown or one output)."""
    if node.kind == "model":
        graph = models.get(node.type)
        if graph is None:
            return None
        return tuple(graph.output_names())
    if node.kind in ("layer", "use"):
        return output_names(catalog.canonical_layer(node.type) or node.type, {**node.args, **node.call}) or None
    return None


def _resolve(
    graph: ModelGraph, producer: str, select: Select, models: dict[str, ModelGraph], layers: dict[str, Node]
) -> tuple[Select, SpecError | None]:
    node = graph.nodes.get(producer)
    if node is None or select is None:
        return select, None
    target = layers.get(node.layer, node) if node.kind == "use" else node
    names = output_labels(target, models)
    if isinstance(select, int):
        if node.kind == "model" and names is not None and select >= len(names):
            return select, SpecError(
                f"model '{node.type}' has {len(names)} output(s); [{select}] selects output {select + 1}",
                (),
                "unknown-output",
                hint=f"its outputs: {', '.join(f'[{i}] {n}' for i, n in enumerate(names))}",
            )
        return select, None
    if names is None:
        what = f"model '{node.type}'" if node.kind == "model" else f"{node.type} '{producer}'"
        return select, SpecError(
            f"{what} has no output named '{select}'",
            (),
            "unknown-output",
            hint=f"select by position, e.g. `{producer}[1]`, or check the layer returns several outputs",
        )
    if select not in names:
        return select, SpecError(
            f"'{producer}' has no output named '{select}'",
            (),
            "unknown-output",
            hint=did_you_mean(select, names) or f"its outputs: {', '.join(names)}",
        )
    return names.index(select), None


def resolve_selections(models: dict[str, ModelGraph], layers: dict[str, Node]) -> list[SpecError]:
    """Turn output names into positions, in every model; errors for names and positions that do not exist."""
    errors: list[SpecError] = []
    for graph in models.values():
        for node in graph.nodes.values():
            if node.selects.count(None) == len(node.selects):  # whole outputs only: nothing to resolve
                continue
            for i, (producer, select) in enumerate(zip(node.inputs, node.selects, strict=False)):
                if select is None:
                    continue
                node.selects[i], err = _resolve(graph, producer, select, models, layers)
                if err is not None:
                    loc = node.input_locs[i] if i < len(node.input_locs) else ("inputs", i)
                    errors.append(SpecError(err.message, (*node.path, *loc), err.code, hint=err.hint))
        for i, (producer, select) in enumerate(zip(graph.outputs, graph.output_selects, strict=False)):
            graph.output_selects[i], err = _resolve(graph, producer, select, models, layers)
            if err is not None:
                errors.append(SpecError(err.message, graph.output_paths[i], err.code, hint=err.hint))
    return errors
