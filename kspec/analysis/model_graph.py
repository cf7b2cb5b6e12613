"""Stage 3, resolve: the graph types the resolver makes (`graph.resolve`) and every later stage reads: `Node`,
`ModelGraph` (one functional model) and `Resolved` (a whole spec). Imports kspec only (no keras).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kspec.analysis.selectors import Select, label
from kspec.errors import Path, SpecError
from kspec.lang.loader import Document
from kspec.lang.spec import Spec

NodeKind = Literal["input", "layer", "use", "model", "op"]


@dataclass
class Node:
    """One call in a model graph: an input, a layer, a reused layer, a nested model or a keras.ops function."""

    name: str
    kind: NodeKind
    type: str
    args: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    path: Path = ()
    arg_paths: dict[str, Path] = field(default_factory=dict)
    block: tuple[str, ...] = ()
    layer: str = ""
    selects: list[Select] = field(default_factory=list)  # per input: the output it takes (None: all)
    input_locs: list[Path] = field(default_factory=list)  # per input: where it is written, relative to `path`
    call: dict[str, Any] = field(default_factory=dict)  # constant call options (`call:`)
    named: bool = False  # inputs were given by call argument (`input_locs` hold the names)

    @property
    def trainable(self) -> bool:
        return self.args.get("trainable", True) is not False


@dataclass
class ModelGraph:
    """A functional model: nodes in definition order, input and output node names."""

    name: str
    path: Path
    nodes: dict[str, Node]
    inputs: list[str]
    outputs: list[str]
    description: str | None = None
    output_selects: list[Select] = field(default_factory=list)
    output_paths: list[Path] = field(default_factory=list)

    def output_names(self) -> list[str]:
        """The model's outputs as written (`decoder`, `encoder[2]`): the names of its Keras outputs."""
        sel = self.output_selects or [None] * len(self.outputs)
        return [label(o, s) for o, s in zip(self.outputs, sel, strict=True)]

    def order(self) -> list[Node]:
        """Nodes in topological order (inputs first); the graph must be acyclic."""
        seen: set[str] = set()
        nodes = self.nodes
        for name, node in nodes.items():  # usually every input is defined before its use: definition order
            for dep in node.inputs:
                if dep not in seen and dep in nodes:
                    break
            else:
                seen.add(name)
                continue
            break
        else:
            return list(nodes.values())
        seen.clear()
        out: list[Node] = []

        def visit(name: str) -> None:
            if name in seen or name not in self.nodes:
                return
            seen.add(name)
            for dep in self.nodes[name].inputs:
                visit(dep)
            out.append(self.nodes[name])

        for name in self.nodes:
            visit(name)
        return out

    def consumers(self) -> dict[str, list[str]]:
        users: dict[str, list[str]] = {n: [] for n in self.nodes}
        for node in self.nodes.values():
            for dep in node.inputs:
                users.setdefault(dep, []).append(node.name)
        return users


@dataclass
class Resolved:
    """A spec ready for checking, drawing and compiling."""

    doc: Document
    spec: Spec
    models: dict[str, ModelGraph]
    main: str
    layers: dict[str, Node] = field(default_factory=dict)
    diagnostics: list[SpecError] = field(default_factory=list)
    #: results later stages derive from the graphs alone, kept so that checking and then drawing derive them once
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def model_order(self) -> list[str]:
        """Model names so that every model comes after the models it nests and those defining layers it reuses."""
        calls = {name: [n for n in g.nodes.values() if n.kind in ("model", "use")] for name, g in self.models.items()}
        owner = {}  # layer name -> the model defining it; needed only when a layer is reused
        if any(n.kind == "use" for found in calls.values() for n in found):
            owner = {n.name: g.name for g in self.models.values() for n in g.nodes.values() if n.kind == "layer"}
        deps = {
            name: sorted({n.type if n.kind == "model" else owner.get(n.layer, name) for n in found} - {name})
            for name, found in calls.items()
        }
        out: list[str] = []

        def visit(name: str, stack: tuple[str, ...]) -> None:
            if name in out or name in stack or name not in self.models:
                return
            for dep in deps[name]:
                visit(dep, (*stack, name))
            out.append(name)

        for name in self.models:
            visit(name, ())
        return out
