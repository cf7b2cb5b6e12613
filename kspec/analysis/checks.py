"""Stage 4, check: graph and argument checks over a resolved spec; each check yields `SpecError`s.

The checks of each layer entry's own arguments live in `layer_checks`; `CHECKS` lists them all, in order.
Imports kspec only (the catalogue is plain JSON data); never keras.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kspec import catalog, paths
from kspec.analysis import feeding, loss_formulas, losses
from kspec.analysis.graph import Resolved
from kspec.analysis.layer_checks import Check as Check  # re-exported, as Context
from kspec.analysis.layer_checks import Context as Context
from kspec.analysis.layer_checks import (
    check_calls,
    check_defaults,
    check_layer_arguments,
    check_layer_paths,
    check_ops,
)
from kspec.analysis.layer_checks import layer_path_problem as layer_path_problem  # re-exported (the compiler)
from kspec.errors import Path, SpecError, did_you_mean, name_problem, shorten
from kspec.lang import data_spec as spec_data
from kspec.lang import loss_spec
from kspec.lang import train_spec as spec_train
from kspec.lang.spec import NAME_PATTERN

_NAME = re.compile(NAME_PATTERN)


def check_train(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Optimizers, losses, metrics, callbacks and schedules are Keras's; ranges, named models, callback paths."""
    train = res.spec.train
    if train is None:
        return
    objects: list[tuple[str, Any, Path]] = [("optimizer", train.optimizer, ("train", "optimizer"))]
    if train.loss is not None and not losses.named_losses(res) and not loss_formulas.uses(res):
        objects.append(("loss", train.loss, ("train", "loss")))
    if train.schedule is not None:
        objects.append(("schedule", train.schedule, ("train", "schedule")))
    objects += [("metric", m, ("train", "metrics", i)) for i, m in enumerate(train.metrics)
                if loss_spec.reference(m, res.spec.losses) is None]  # fmt: skip
    objects += [("callback", c, ("train", "callbacks", i)) for i, c in enumerate(train.callbacks)]
    if train.gan is not None:
        for key in ("d_optimizer", "g_optimizer"):
            if getattr(train.gan, key) is not None:
                objects.append(("optimizer", getattr(train.gan, key), ("train", "gan", key)))
    for kind, value, path in objects:
        for err in catalog.check_object(kind, value, allow_unsafe=ctx.allow_unsafe):
            yield err.prefixed(path)
    yield from spec_train.check_train(train, {name: len(g.outputs) for name, g in res.models.items()})
    yield from _per_class_metrics(train.metrics)
    data = res.spec.data
    augments = [i for i, step in enumerate(data.preprocess if data else []) if getattr(step, "type", None) == "augment"]
    if train.feed == "resident" and augments:
        yield SpecError(
            "`feed: resident` cannot apply the `augment` step: augmentation runs in a tf.data pipeline",
            ("train", "feed"),
            "train-error",
            hint=f"remove `feed` (auto picks tf.data here) or the augment step at data.preprocess[{augments[0]}]",
        )


#: Keras metrics whose result is one value per class unless `average` is set, by the names a spec may give them
_PER_CLASS = {"F1Score": "F1Score", "f1_score": "F1Score", "FBetaScore": "FBetaScore", "fbeta_score": "FBetaScore"}


def _per_class_metrics(metrics: list[Any]) -> Iterator[SpecError]:
    """kspec's history, progress lines and plots hold one number per metric and epoch."""
    for i, m in enumerate(metrics):
        kind = m.get("type") if isinstance(m, dict) else m
        if kind in _PER_CLASS and (not isinstance(m, dict) or m.get("average") is None):
            yield SpecError(
                f"{kind} without `average` gives one value per class; kspec records one number per metric and epoch",
                ("train", "metrics", i),
                "train-error",
                hint=f"add `average: macro` (or micro, weighted): {{type: {_PER_CLASS[kind]}, average: macro}}",
            )


def check_data(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Data paths stay inside the spec's folder; augmentation layers are safe Keras layers."""
    yield from spec_data.check_data(res.spec.data, res.doc.folder, allow_unsafe=ctx.allow_unsafe)


def check_init(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """`init.weights` is a .weights.h5 or .keras file inside the spec's folder (the one `build` and `train` load)."""

    init = res.spec.init
    if init is None:
        return
    at: Path = ("init", "weights")
    rel = init.weights
    if not rel.endswith((".weights.h5", ".keras")):
        yield SpecError(
            f"{shorten(rel)} is not a Keras weights file",
            at,
            "weights-error",
            hint="give a .weights.h5 file (model.save_weights) or a .keras file",
        )
        return
    try:
        full = paths.resolve_inside(res.doc.folder, rel)
    except paths.PathProblem as problem:
        yield SpecError(problem.message, at, "weights-error", hint=problem.hint)
        return
    wrong = paths.kind_problem(full, rel, "file")
    if wrong is not None:
        yield SpecError(wrong.message, at, "weights-error", hint=wrong.hint)
    elif not full.exists():
        yield SpecError(
            f"no file {shorten(rel)} next to the spec (looked for {full})",
            at,
            "weights-error",
            hint="paths are relative to the spec file's folder; `kspec import` writes it there",
        )


def check_plugins(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Every plugin the spec declares is registered by an installed package."""
    for i, name in enumerate(res.spec.plugins):
        if name not in ctx.installed:
            yield SpecError(
                f"no installed package registers the plugin '{name}'",
                ("plugins", i),
                "unknown-layer",
                hint=did_you_mean(name, ctx.installed)
                or "install the package that provides it (entry-point group `kspec.plugins`)",
            )


def check_inputs(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Input dtypes are Keras dtypes."""
    dtypes = catalog.load().dtypes
    for graph in res.models.values():
        for name in graph.inputs:
            node = graph.nodes.get(name)
            dtype = node.args.get("dtype") if node is not None else None
            if node is not None and isinstance(dtype, str) and dtype not in dtypes:
                yield SpecError(
                    f"{shorten(dtype, 40)} is not a Keras dtype",
                    (*node.path, "dtype"),
                    "bad-value",
                    hint=did_you_mean(dtype, dtypes) or f"one of: {', '.join(sorted(dtypes))}",
                )


def check_references(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Inputs name existing nodes; `use:` names an existing layer; `model:` names another model."""
    for graph in res.models.values():
        for node in graph.nodes.values():
            for i, name in enumerate(node.inputs):
                if name not in graph.nodes:
                    yield SpecError(
                        f"'{name}' is not a layer or input of model '{graph.name}'",
                        (*node.path, *(node.input_locs[i] if i < len(node.input_locs) else ("inputs", i))),
                        "unknown-input",
                        hint=did_you_mean(name, graph.nodes),
                    )
            if node.kind == "use" and node.layer not in res.layers:
                yield SpecError(
                    f"no layer named '{node.layer}' to call again",
                    (*node.path, "use"),
                    "unknown-input",
                    hint=did_you_mean(node.layer, res.layers),
                )
            if node.kind == "model":
                if node.type not in res.models:
                    yield SpecError(
                        f"no model named '{node.type}'",
                        (*node.path, "model"),
                        "unknown-model",
                        hint=did_you_mean(node.type, res.models),
                    )
                elif node.type == graph.name:
                    yield SpecError(f"model '{graph.name}' cannot contain itself", (*node.path, "model"), "cycle")


def check_cycles(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """No node feeds itself, directly or through others; nested models form no loop either."""
    for graph in res.models.values():
        cycle = _find_cycle({n.name: n.inputs for n in graph.nodes.values()})
        if cycle:
            yield SpecError(
                f"layers form a cycle: {' → '.join(cycle)}",
                graph.nodes[cycle[0]].path,
                "cycle",
                hint="a layer's inputs must come from layers that do not depend on it",
            )
    nesting = {name: [n.type for n in g.nodes.values() if n.kind == "model"] for name, g in res.models.items()}
    cycle = _find_cycle(nesting)
    if cycle and len(cycle) > 2:
        yield SpecError(f"models nest each other in a cycle: {' → '.join(cycle)}", res.models[cycle[0]].path, "cycle")


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    earlier: set[str] = set()
    for name, deps in edges.items():  # every dependency defined before its user: no cycle, no search
        for dep in deps:
            if dep not in earlier and dep in edges:
                break
        else:
            earlier.add(name)
            continue
        break
    else:
        return None
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for dep in edges.get(name, []):
            if dep not in edges:
                continue
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[name] = 2
        return None

    for name in edges:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


def check_outputs(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Every model has at least one input and one output."""
    for graph in res.models.values():
        if not graph.outputs:
            yield SpecError(
                f"model '{graph.name}' has no output",
                (*graph.path, "outputs"),
                "no-output",
                hint="list its outputs under `outputs:`",
            )
        if not graph.inputs:
            yield SpecError(
                f"model '{graph.name}' has no input",
                graph.path,
                "no-input",
                hint="declare `inputs: {x: {shape: [...]}}` or start with a `model:` entry",
            )


def check_unused(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """A layer whose output nobody uses is probably a wiring mistake (warning)."""
    for graph in res.models.values():
        if not graph.outputs:
            continue  # reported as no-output; every layer would look unused
        used = {dep for node in graph.nodes.values() for dep in node.inputs}
        for node in graph.nodes.values():
            if node.name not in used and node.name not in graph.outputs:
                what = "input" if node.kind == "input" else "layer"
                yield SpecError(
                    f"the output of {what} '{node.name}' is never used",
                    node.path,
                    "unused-layer",
                    severity="warning",
                    hint="feed it to a layer or list it under `outputs:`",
                )


def check_names(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Model names are usable as Keras names and do not collide with layer names."""
    for name, graph in res.models.items():
        named = [(name, graph.path)] + [(i, graph.nodes[i].path) for i in graph.inputs if i in graph.nodes]
        for label, path in named:
            if not _NAME.match(str(label)):
                yield SpecError(
                    name_problem(label),
                    path,
                    "bad-name",
                    hint="start with an ASCII letter or _, then up to 63 ASCII letters, digits, _ . or -",
                )
        if name in res.layers:
            yield SpecError(
                f"model '{name}' has the same name as a layer",
                graph.path,
                "duplicate-name",
                hint="Keras needs distinct names for nested models and layers",
            )


#: Every check, run in order by `run`.
CHECKS: tuple[Check, ...] = (
    check_names,
    check_plugins,
    check_inputs,
    check_references,
    check_cycles,
    check_outputs,
    check_layer_arguments,
    check_calls,
    check_layer_paths,
    check_defaults,
    check_ops,
    check_train,
    losses.check_losses,
    loss_formulas.check_defined,
    loss_formulas.check_uses,
    feeding.check_feedable,
    check_data,
    check_init,
    check_unused,
)


def run(res: Resolved, ctx: Context | None = None) -> list[SpecError]:
    """All diagnostics of all checks (errors, warnings and notes)."""
    ctx = ctx or Context()
    return [err for check in CHECKS for err in check(res, ctx)]
