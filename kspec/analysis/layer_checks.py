"""Stage 4, check: the checks of each layer entry's own arguments (catalogue arguments, tensors by call argument and
`call:` options, file paths, ops, `defaults:`); each yields `SpecError`s. `checks.CHECKS` runs them.

A deep stack repeats the same few layers thousands of times, so what the catalogue says about a layer type and its
arguments is asked once per distinct (type, arguments) and mapped onto each node's place in the document.
Imports kspec only (the catalogue is plain JSON data); never keras.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace
from pathlib import Path as FsPath

from kspec import catalog, paths
from kspec.analysis.graph import Node, Resolved
from kspec.catalog import calls
from kspec.errors import Path, SpecError, shorten


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
    found: dict[tuple[str, str], list[SpecError]] = {}  # the errors of a type and arguments, checked once
    for graph in res.models.values():
        for node in graph.nodes.values():
            if node.kind == "layer":
                key = (node.type, repr(node.args))
                errors = found.get(key)
                if errors is None:
                    errors = found[key] = list(
                        catalog.check_layer(node.type, node.args, plugins=ctx.plugins, allow_unsafe=ctx.allow_unsafe)
                    )
                for err in errors:
                    notes = [f"in block instance '{'.'.join(node.block)}' (layer '{node.name}')"] if node.block else []
                    yield replace(err, path=_arg_path(node, err.path), notes=err.notes + notes)


def check_calls(res: Resolved, ctx: Context) -> Iterator[SpecError]:
    """Tensors passed by call argument (`inputs: {query: x, ...}`) and `call:` options are ones the layer takes."""
    forms: dict[str, calls.CallForm | None] = {}
    for graph in res.models.values():
        for node in graph.nodes.values():
            target = res.layers.get(node.layer) if node.kind == "use" else node
            if node.kind in ("layer", "use") and target is not None:
                if target.type not in forms:
                    forms[target.type] = calls.call_form(catalog.canonical_layer(target.type) or target.type)
                form = forms[target.type]
                if form is None and not node.named and not node.call:
                    continue  # inputs as a list, no call options: nothing to check
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
    found: dict[tuple[str, str], list[tuple[Path, str, str]]] = {}  # the path arguments of a type and arguments
    takes: dict[str, bool] = {}  # layer type -> whether any argument may be a path (or a layer holding one)
    for graph in res.models.values():
        for node in graph.nodes.values():
            if node.kind != "layer" or takes.get(node.type) is False:
                continue
            info = catalog.layer_info(node.type)
            if info is None or (info.is_unsafe and not ctx.allow_unsafe):  # refused anyway (`unsafe-layer`)
                continue
            if node.type not in takes:
                kinds = [(p.path, p.kind) for p in info.params.values()]
                takes[node.type] = any(path is not None or kind in ("layer", "layers") for path, kind in kinds)
                if not takes[node.type]:
                    continue
            key = (node.type, repr(node.args))
            if key not in found:
                found[key] = list(catalog.path_arguments(node.type, node.args))
            for rel, value, kind in found[key]:
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
