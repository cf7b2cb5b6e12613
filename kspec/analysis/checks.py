"""Stage 4, check: graph and argument checks over a resolved spec; each check yields `SpecError`s.

Imports kspec only (the catalogue is plain JSON data); never keras.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace
from pathlib import Path as FsPath
from typing import Any

from kspec import catalog, paths
from kspec.analysis import feeding, loss_formulas, losses
from kspec.analysis.graph import ModelGraph, Node, Resolved
from kspec.catalog import calls
from kspec.errors import Path, SpecError, did_you_mean, name_problem, shorten
from kspec.lang import data_spec as spec_data
from kspec.lang import loss_spec
from kspec.lang import train_spec as spec_train
from kspec.lang.spec import NAME_PATTERN

_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class Context:
    """What the person running kspec allowed; nothing in a spec can change it."""

    plugins: Collection[str] = ()
    allow_unsafe: bool = False
    installed: Collection[str] = ()


Check = Callable[[Resolved, Context], Iterator[SpecError]]


def _arg_path(node: Node, rel: Path) -> Path:
    """Map a path relative to a layer entry onto the document (an argument may come from `defaults:`)."""
    if rel and isinstance(rel[0], str) and rel[0] in node.arg_paths:
        return (*node.arg_paths[rel[0]], *rel[1:])
    return (*node.path, *rel)


def check_layer_arguments(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Every layer type exists (or is a registered plugin) and its arguments match the Keras signature."""
    for graph in res.models.values():
        for node in graph.nodes.values():
            if node.kind == "layer":
                for err in catalog.check_layer(
                    node.type, node.args, plugins=ctx.plugins, allow_unsafe=ctx.allow_unsafe
                ):
                    notes = [f"in block instance '{'.'.join(node.block)}' (layer '{node.name}')"] if node.block else []
                    yield replace(err, path=_arg_path(node, err.path), notes=err.notes + notes)


def check_calls(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Tensors passed by call argument (`inputs: {query: x, ...}`) and `call:` options are ones the layer takes."""
    for graph in res.models.values():
        for node in graph.nodes.values():
            target = res.layers.get(node.layer) if node.kind == "use" else node
            if node.kind in ("layer", "use") and target is not None:
                form = calls.call_form(catalog.canonical_layer(target.type) or target.type)
                keys = [loc[1:] for loc in node.input_locs] if node.named else None
                for err in calls.check_call(target.type, form, keys, len(node.inputs), node.call):
                    yield err.prefixed(node.path)
            elif node.named or node.call:
                yield SpecError(
                    f"a{'n' if node.kind in ('op', 'input') else ''} {node.kind} entry takes its inputs as a list",
                    (*node.path, "inputs" if node.named else "call"),
                    "wrong-type",
                    hint="tensors by call argument and `call:` options are for layers, e.g. MultiHeadAttention",
                )


def check_layer_paths(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Arguments Keras opens as files (lookup vocabularies, application weights) stay inside the spec's folder."""
    for graph in res.models.values():
        for node in graph.nodes.values():
            info = catalog.layer_info(node.type) if node.kind == "layer" else None
            if info is None or (info.is_unsafe and not ctx.allow_unsafe):  # refused anyway (`unsafe-layer`)
                continue
            for rel, value, kind in catalog.path_arguments(node.type, node.args):
                problem = layer_path_problem(res.doc.folder, value, kind)
                if problem is not None:
                    yield replace(problem, path=_arg_path(node, rel))


def layer_path_problem(folder: FsPath, rel: str, kind: str) -> SpecError | None:
    """Why `rel` (a path-typed layer argument) cannot be opened: outside `folder`, not a `kind`, or missing (a
    warning: it may be created before `kspec build`). The file itself is never read, so nothing of it is echoed."""
    try:
        full = paths.resolve_inside(folder, rel)
    except paths.PathProblem as problem:
        return SpecError(problem.message, (), "bad-path", hint=problem.hint)
    wrong = paths.kind_problem(full, rel, "folder" if kind == "folder" else "file")
    if wrong is not None:
        return SpecError(wrong.message, (), "bad-path", hint=wrong.hint)
    if not full.exists():
        return SpecError(
            f"no {kind} {shorten(rel)} next to the spec (looked for {full})",
            (),
            "bad-path",
            severity="warning",
            hint="paths are relative to the spec file's folder; `kspec build` needs it there",
        )
    return None


def check_ops(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """`op:` entries name allow-listed keras.ops functions with known arguments and the right number of inputs."""
    for graph in res.models.values():
        for node in graph.nodes.values():
            if node.kind == "op":
                for err in catalog.check_op(node.type, node.args, n_inputs=len(node.inputs)):
                    yield err.prefixed(node.path)


def check_defaults(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Every `defaults:` entry names a layer type and arguments it takes (required ones may be left out)."""
    for type_name, args in res.spec.defaults.items():
        for err in catalog.check_layer(
            type_name, args, plugins=ctx.plugins, allow_unsafe=ctx.allow_unsafe, partial=True
        ):
            yield (
                err.prefixed(("defaults", type_name))
                if err.path != ("type",)
                else replace(err, path=("defaults", type_name))
            )


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
    data = res.spec.data
    augments = [i for i, step in enumerate(data.preprocess if data else []) if getattr(step, "type", None) == "augment"]
    if train.feed == "resident" and augments:
        yield SpecError(
            "`feed: resident` cannot apply the `augment` step: augmentation runs in a tf.data pipeline",
            ("train", "feed"),
            "train-error",
            hint=f"remove `feed` (auto picks tf.data here) or the augment step at data.preprocess[{augments[0]}]",
        )


def check_data(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Data paths stay inside the spec's folder; augmentation layers are safe Keras layers."""
    yield from spec_data.check_data(res.spec.data, res.doc.folder, allow_unsafe=ctx.allow_unsafe)


def check_init(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """`init.weights` is a .weights.h5 or .keras file inside the spec's folder (the one `build` and `train` load)."""
    from kspec import paths

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
        users = graph.consumers()
        for node in graph.nodes.values():
            if not users.get(node.name) and node.name not in graph.outputs:
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


def nodes_of(graph: ModelGraph, kind: str) -> list[Node]:
    return [n for n in graph.nodes.values() if n.kind == kind]
