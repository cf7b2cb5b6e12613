"""Stage 3, resolve: `Spec` -> named graphs of nodes (blocks expanded, repeats unrolled, implicit chaining, auto names).

The graph types (`Node`, `ModelGraph`, `Resolved`) live in `model_graph` and are imported from here as before.
Imports kspec only (no keras, no pydantic models beyond reading them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kspec.analysis import entry_facts
from kspec.analysis.entry_facts import snake_case as snake_case  # re-exported: the auto-name rule
from kspec.analysis.model_graph import ModelGraph as ModelGraph  # re-exported: the graph types
from kspec.analysis.model_graph import Node as Node
from kspec.analysis.model_graph import NodeKind as NodeKind
from kspec.analysis.model_graph import Resolved as Resolved
from kspec.analysis.selectors import BLOCK_INPUTS, Select, resolve_selections, split_ref
from kspec.errors import Path, SpecError, did_you_mean
from kspec.lang.expand import substitute
from kspec.lang.loader import Document
from kspec.lang.spec import LayerEntry, ModelSpec, Spec


@dataclass
class _Scope:
    model: str
    prefix: str = ""
    block: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    env: dict[str, Any] | None = None
    stack: tuple[str, ...] = ()


class _Resolver:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.errors: list[SpecError] = []
        self.layer_names: dict[str, Path] = {}
        self.counters: dict[str, int] = {}
        self.reserved = {e.name for m in spec.all_models().values() for e in m.layers if e.name}
        self.reserved |= set(spec.all_models())  # an auto-named layer must not take a model's name
        self.nodes: dict[str, Node] = {}
        self.last: str | None = None
        self.facts: dict[int, tuple[LayerEntry, entry_facts.EntryFacts]] = {}  # id -> the entry (kept) and its facts
        self.paths: dict[Path, dict[str, Path]] = {}  # entry's place -> its argument paths (see `arg_paths`)

    # -- naming -----------------------------------------------------------------------------------------------
    def auto_name(self, base: str) -> str:
        while True:
            k = self.counters.get(base, 0)
            self.counters[base] = k + 1
            name = base if k == 0 else f"{base}_{k}"
            if name not in self.reserved and name not in self.layer_names and name not in self.nodes:
                return name

    def claim(self, name: str, path: Path, spec_wide: bool) -> str:
        """Register a node name; a name used twice is reported and the node gets a private name (`name#2`), so the
        rest of the graph is still checked without phantom cycles."""
        taken = name in self.nodes or (spec_wide and name in self.layer_names)
        if taken:
            self.errors.append(
                SpecError(
                    f"the name '{name}' is used twice",
                    (*path, "name"),
                    "duplicate-name",
                    hint="layer names must be unique in a spec; rename one of them",
                )
            )
        if spec_wide:
            self.layer_names.setdefault(name, path)
        if not taken:
            return name
        k = 2
        while f"{name}#{k}" in self.nodes:
            k += 1
        return f"{name}#{k}"

    # -- models -----------------------------------------------------------------------------------------------
    def model(self, name: str, spec: ModelSpec, path: Path) -> ModelGraph:
        self.nodes = {}
        scope = _Scope(model=name)
        inputs = self.model_inputs(name, set())
        for in_name, in_spec in inputs.items():
            ipath = (*path, "inputs", in_name) if in_name in spec.inputs else (*path, "layers", 0)
            in_name = self.claim(in_name, ipath, spec_wide=False)
            self.nodes[in_name] = Node(in_name, "input", "Input", in_spec, [], ipath, layer=in_name)
        prev = next(iter(inputs)) if len(inputs) == 1 else None
        self.entries(spec.layers, (*path, "layers"), scope, prev)
        outputs, selects, opaths = [], [], []
        names = spec.output_names if spec.output_names is not None else ([self.last] if self.last else [])
        for i, out in enumerate(names):
            out, select = split_ref(out, self.nodes)
            target = scope.aliases.get(out, out)
            opath = (*path, "outputs", i) if isinstance(spec.outputs, list) else (*path, "outputs")
            selects.append(select)
            opaths.append(opath)
            if target not in self.nodes:
                self.errors.append(
                    SpecError(
                        f"output '{out}' is not a layer of model '{name}'",
                        opath,
                        "unknown-output",
                        hint=did_you_mean(out, self.nodes),
                    )
                )
            outputs.append(target)
        return ModelGraph(name, path, self.nodes, list(inputs), outputs, spec.description, selects, opaths)

    def model_inputs(self, name: str, seen: set[str]) -> dict[str, Any]:
        """Input name -> {shape, dtype}; a model whose inputs are omitted takes those of its first nested model."""
        spec = self.spec.all_models().get(name)
        if spec is None or name in seen:
            return {}
        if spec.inputs:
            return {k: {"shape": list(v.shape), "dtype": v.dtype} for k, v in spec.inputs.items()}
        first = spec.layers[0]
        if first.model is not None:
            return self.model_inputs(first.model, seen | {name})
        return {}

    # -- entries ----------------------------------------------------------------------------------------------
    def entries(self, entries: Sequence[LayerEntry], path: Path, scope: _Scope, prev: str | None) -> str | None:
        for i, entry in enumerate(entries):
            facts = self.facts_of(entry)
            for rep in range(facts.times):
                prev = self.entry(entry, facts, (*path, i), scope, prev, rep)
            self.last = prev
        return prev

    def facts_of(self, entry: LayerEntry) -> entry_facts.EntryFacts:
        """What `entry` says, read once (a block's entries are resolved once per instance)."""
        found = self.facts.get(id(entry))
        if found is None or found[0] is not entry:
            found = self.facts[id(entry)] = (entry, entry_facts.read(entry, self.spec.defaults))
        return found[1]

    def resolve_inputs(
        self, facts: entry_facts.EntryFacts, path: Path, scope: _Scope, prev: str | None, rep: int
    ) -> tuple[list[str], list[Select], list[Path]]:
        names = facts.names
        if names is None or rep > 0:
            if prev is None:
                self.errors.append(
                    SpecError(
                        "this layer has no input: nothing comes before it",
                        path,
                        "no-input",
                        hint="name its input with `inputs: [...]`",
                    )
                )
                return [], [], []
            return [prev], [None], [()]
        inputs: list[str] = []
        selects: list[Select] = []
        aliases, prefix, nodes = scope.aliases, scope.prefix, self.nodes
        for ref in names:
            name, select = split_ref(ref, nodes, aliases)
            inputs.append(aliases.get(name, prefix + name if prefix + name in nodes else name))
            selects.append(select)
        return inputs, selects, list(facts.locs)

    def entry(
        self, entry: LayerEntry, facts: entry_facts.EntryFacts, path: Path, scope: _Scope, prev: str | None, rep: int
    ) -> str | None:
        inputs: list[str]
        selects: list[Select]
        locs: list[Path]
        if (facts.names is None or rep > 0) and prev is not None:  # the layer before: the common case, inline
            inputs, selects, locs = [prev], [None], [()]
        else:
            inputs, selects, locs = self.resolve_inputs(facts, path, scope, prev, rep)
        repeated = entry.repetition(rep) if facts.varying else {}
        args: dict[str, Any] = {**facts.args, **repeated}
        if scope.env is not None and facts.has_vars:
            args = substitute(args, scope.env, path, self.errors)
        suffix = f"_{rep + 1}" if facts.times > 1 else ""
        if entry.block is not None:
            if selects.count(None) != len(selects) or entry.call or facts.named:  # something selected
                self.errors.append(BLOCK_INPUTS.prefixed((*path, "inputs")))
            return self.block(entry, path, scope, inputs, args, suffix)
        arg_paths = None if repeated else self.paths.get(path)  # a path names one entry of the spec
        if arg_paths is None:
            arg_paths = self.arg_paths(entry, facts, path, repeated, rep)
        base, type_name, node_kind = facts.base, facts.type_name, facts.node_kind
        args = {**facts.defaults, **args} if facts.defaults else args
        local = (entry.name + suffix) if entry.name else None
        if local is not None:
            name = scope.prefix + local
        elif node_kind == "model" and base not in self.nodes:
            name = base
        elif node_kind == "use":
            name = base if base not in self.nodes else self.auto_name(f"{base}_call")
        else:
            name = scope.prefix + self.auto_name(base) if not scope.prefix else self.auto_name(scope.prefix + base)
        name = self.claim(name, path, spec_wide=node_kind in ("layer", "op"))
        layer = entry.use if node_kind == "use" else name
        node = Node(name, node_kind, type_name, args, inputs, path, arg_paths, scope.block, layer or name,  # type: ignore[arg-type]
                    selects, locs, dict(entry.call) if entry.call else {}, facts.named and rep == 0)  # fmt: skip
        self.nodes[name] = node
        if local is not None and scope.prefix:
            scope.aliases[local] = name
        return name

    def arg_paths(
        self, entry: LayerEntry, facts: entry_facts.EntryFacts, path: Path, repeated: dict[str, Any], rep: int
    ) -> dict[str, Path]:
        """`entry_facts.arg_paths`; one dict for the nodes of the entry at `path` unless `repeat:` varies them."""
        found = entry_facts.arg_paths(entry, facts, path, facts.defaults, repeated, rep)
        if not repeated:
            self.paths[path] = found  # nothing changes a node's `arg_paths` once made
        return found

    def block(
        self, entry: LayerEntry, path: Path, scope: _Scope, inputs: list[str], args: dict[str, Any], suffix: str
    ) -> str | None:
        assert entry.block is not None
        block = self.spec.blocks.get(entry.block)
        if block is None:
            self.errors.append(
                SpecError(
                    f"no block named '{entry.block}'",
                    (*path, "block"),
                    "unknown-block",
                    hint=did_you_mean(entry.block, self.spec.blocks) or "define it under `blocks:`",
                )
            )
            return inputs[0] if inputs else None
        if entry.block in scope.stack:
            self.errors.append(SpecError(f"block '{entry.block}' contains itself", (*path, "block"), "cycle"))
            return inputs[0] if inputs else None
        bpath: Path = ("blocks", entry.block)
        for key in args:
            if key not in block.params:
                self.errors.append(
                    SpecError(
                        f"block '{entry.block}' has no parameter '{key}'",
                        (*path, key),
                        "unknown-argument",
                        hint=did_you_mean(key, block.params),
                    )
                )
        env = {**self.spec.vars, **(scope.env or {}), **block.params, **args}
        for key, default in block.params.items():
            if default is None and key not in args:
                self.errors.append(
                    SpecError(
                        f"block '{entry.block}' needs parameter '{key}'",
                        (*path, "block"),
                        "missing-argument",
                        hint=f"add `{key}: ...`",
                    )
                )
        instance = entry.name + suffix if entry.name else self.auto_name(entry.block)
        if len(inputs) != len(block.inputs):
            self.errors.append(
                SpecError(
                    f"block '{entry.block}' takes {len(block.inputs)} input(s) ({', '.join(block.inputs)}), "
                    f"received {len(inputs)}",
                    (*path, "inputs"),
                    "unknown-input",
                )
            )
            return inputs[0] if inputs else None
        inner = _Scope(
            scope.model,
            f"{scope.prefix}{instance}_",
            (*scope.block, instance),
            dict(zip(block.inputs, inputs, strict=False)),
            env,
            (*scope.stack, entry.block),
        )
        first = inputs[0] if inputs else None
        last = self.entries(block.layers, (*bpath, "layers"), inner, first)
        out = inner.aliases.get(block.output, block.output) if block.output else last
        if block.output and out not in self.nodes:
            self.errors.append(
                SpecError(
                    f"block output '{block.output}' is not a layer of the block", (*bpath, "output"), "unknown-output"
                )
            )
            out = last
        scope.aliases[(entry.name + suffix) if entry.name else instance] = out or ""
        return out


def resolve(doc: Document, spec: Spec) -> tuple[Resolved, list[SpecError]]:
    """Expand every model of `spec` into a `ModelGraph`; returns the graphs and the errors found on the way."""
    r = _Resolver(spec)
    models: dict[str, ModelGraph] = {}
    layers: dict[str, Node] = {}
    for name, mspec in spec.all_models().items():
        models[name] = r.model(name, mspec, spec.model_path(name))
        layers.update({n.name: n for n in models[name].nodes.values() if n.kind == "layer"})
    main = _main_model(spec, models)
    return Resolved(doc, spec, models, main, layers), r.errors + resolve_selections(models, layers)


def _main_model(spec: Spec, models: dict[str, ModelGraph]) -> str:
    wanted = getattr(spec.train, "model", None) if spec.train is not None else None
    if isinstance(wanted, str) and wanted in models:
        return wanted
    return list(models)[-1]
