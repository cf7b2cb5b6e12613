"""Stage 4, check: static output-shape and parameter inference over resolved graphs; must not import keras.

`infer` walks every model in dependency order, applies the rule of each layer (`shape_rules.RULES`), reused layer,
nested model and `keras.ops` call (`OP_RULES`), and reports shapes, parameter counts and diagnostics: a
`shape-mismatch` error where a layer cannot take what it receives, and one `unchecked-layer` note per layer type
without a rule. Whatever depends on an unknown shape is marked unchecked, never passed silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from kspec import catalog
from kspec.analysis import call_shapes
from kspec.analysis.graph import ModelGraph, Node, Resolved
from kspec.analysis.selectors import label
from kspec.analysis.shape_rules import (
    CALL_RULES,
    OP_RULES,
    OutShape,
    Rule,
    Shape,
    ShapeMismatch,
    Unsupported,
    constant_shape,
    fmt,
    lookup,
)
from kspec.errors import SpecError

__all__ = ["ModelShapes", "NodeShape", "ShapeReport", "infer"]

_HINT = "`kspec validate --deep` builds the model with Keras and checks the rest"


class NodeShape(NamedTuple):
    """What static inference found for one node of one model.

    `shape` is a tuple (batch axis first, `None` where unknown), a list of tuples for layers with several outputs,
    or None when the node is unchecked. `params` counts the weights the node owns (a `use` node owns none: the
    reused layer does; a `model` node owns its nested model's); None when unknown.
    """

    name: str
    kind: str
    type: str
    shape: OutShape | None
    params: int | None
    non_trainable: int | None
    checked: bool

    @property
    def trainable(self) -> int | None:
        return None if self.params is None or self.non_trainable is None else self.params - self.non_trainable


@dataclass
class ModelShapes:
    """One model's nodes (in topological order), input and output shapes and weight totals (None: unknown)."""

    name: str
    nodes: dict[str, NodeShape]
    inputs: dict[str, Shape]
    outputs: dict[str, OutShape | None]
    params: int | None
    trainable: int | None
    non_trainable: int | None

    @property
    def checked(self) -> bool:
        return all(n.checked for n in self.nodes.values())

    @property
    def unchecked(self) -> list[str]:
        """Names of the nodes whose shape could not be inferred."""
        return [n.name for n in self.nodes.values() if not n.checked]


@dataclass
class ShapeReport:
    """Shapes and parameter counts of every model of a spec, and the diagnostics found on the way."""

    models: dict[str, ModelShapes]
    errors: list[SpecError] = field(default_factory=list)

    def node(self, model: str, name: str) -> NodeShape | None:
        """The result for node `name` of `model`, or None when there is no such node."""
        found = self.models.get(model)
        return None if found is None else found.nodes.get(name)


#: owner (layer name) -> (params, non-trainable), or None when unknown
_Owners = dict[str, tuple[int, int] | None]


@dataclass
class _Call:
    out: OutShape
    params: int | None  # None: a nested model whose weights are not all known
    non_trainable: int | None
    owners: _Owners


_Skip = call_shapes.Skip


class _Unknown(Exception):
    """No rule for this layer type or op; reported once per type."""

    def __init__(self, type_name: str) -> None:
        super().__init__(type_name)
        self.type_name = type_name


def _flat(shapes: list[OutShape]) -> list[Shape]:
    out: list[Shape] = []
    for s in shapes:
        if isinstance(s, list):
            out.extend(s)
        else:
            out.append(s)
    return out


def _operands(name: str, args: dict[str, Any], ins: list[Shape]) -> list[Shape]:
    """Shapes of an op's tensor parameters in order: the node's inputs, or constants given as arguments."""
    info = catalog.op_info(name)
    if info is None or info.variadic or not info.tensors:
        return ins
    pending = iter(ins)
    out = [constant_shape(args[t]) if t in args else next(pending, None) for t in info.tensors]
    if any(s is None for s in out) or next(pending, None) is not None:
        raise ShapeMismatch(f"op '{name}' takes the tensors ({', '.join(info.tensors)}); received {len(ins)} input(s)")
    return [s for s in out if s is not None]


def _compatible(declared: Shape, actual: Shape) -> bool:
    return len(declared) == len(actual) and all(
        d is None or a is None or d == a for d, a in zip(declared, actual, strict=True)
    )


class _Walker:
    def __init__(self, res: Resolved) -> None:
        self.res = res
        self.reports: dict[str, ModelShapes] = {}
        self.owners: dict[str, _Owners] = {}
        self.built: dict[str, tuple[int, list[Shape]]] = {}
        self.unknown: dict[str, tuple[Node, list[str]]] = {}
        self.rules: dict[str, Rule | None] = {}  # layer type as written -> its rule, looked up once
        self.forms: dict[str, bool] = {}  # layer type as written -> whether it takes tensors by call argument
        self.kinds: dict[str, Callable[[Node, list[Shape]], _Call]] = {
            "layer": self.layer,
            "use": self.use,
            "model": self.model_call,
            "op": self.op,
        }

    def run(self) -> ShapeReport:
        errors: list[SpecError] = []
        for name in self.res.model_order():
            if name in self.res.models:
                self.reports[name], self.owners[name] = self.model(self.res.models[name], None, errors)
        for type_name, (node, after) in self.unknown.items():
            if ">" in type_name:  # plugin layers: the catalogue check already notes them as unchecked
                continue
            what = f"its output and the {len(after)} layer(s) after it are" if after else "its output is"
            errors.append(
                SpecError(
                    f"static shape inference does not know {type_name}; {what} unchecked",
                    node.path,
                    "unchecked-layer",
                    hint=_HINT,
                    severity="note",
                )
            )
        return ShapeReport(self.reports, errors)

    def model(
        self, graph: ModelGraph, given: list[Shape] | None, errors: list[SpecError]
    ) -> tuple[ModelShapes, _Owners]:
        shapes: dict[str, OutShape | None] = {}
        cause: dict[str, str] = {}
        nodes: dict[str, NodeShape] = {}
        owners: _Owners = {}
        inputs: dict[str, Shape] = {}
        for node in graph.order():
            if node.kind == "input":
                declared: Shape = (None, *node.args.get("shape", ()))
                shape = given[graph.inputs.index(node.name)] if given else declared
                inputs[node.name] = shapes[node.name] = shape
                nodes[node.name] = NodeShape(node.name, "input", node.type, shape, 0, 0, True)
                continue
            ins = [shapes.get(i) for i in node.inputs]
            result: _Call | None = None
            if ins and None not in ins:  # shapes are tuples or lists: only None equals None
                result = self.call(node, cast("list[OutShape]", ins), graph, errors, cause)
            else:
                self.note_unknown(node)
                causes = {cause[i] for i in node.inputs if i in cause}
                for c in causes:
                    if c in self.unknown and given is None:
                        self.unknown[c][1].append(node.name)
                if causes:
                    cause[node.name] = min(causes)
            if result is None:
                shapes[node.name] = None
                params = 0 if node.kind == "op" else None
                nodes[node.name] = NodeShape(node.name, node.kind, node.type, None, params, params, False)
                if node.kind in ("layer", "use"):
                    owners.setdefault(node.layer, None)
                elif node.kind == "model":
                    owners.update(self.owners.get(node.type, {node.type: None}))
                continue
            shapes[node.name] = result.out
            for key, value in result.owners.items():
                owners[key] = value if owners.get(key) is None else owners[key]
            own = 0 if node.kind == "use" else result.params
            nt = 0 if node.kind == "use" else result.non_trainable
            nodes[node.name] = NodeShape(node.name, node.kind, node.type, result.out, own, nt, True)
        values = list(owners.values())
        total = None if None in values else sum(v[0] for v in values if v is not None)
        frozen = None if None in values else sum(v[1] for v in values if v is not None)
        selects = graph.output_selects or [None] * len(graph.outputs)
        report = ModelShapes(
            graph.name,
            nodes,
            inputs,
            {
                label(o, sel): call_shapes.pick_out(shapes.get(o), sel)
                for o, sel in zip(graph.outputs, selects, strict=True)
            },
            total,
            None if total is None or frozen is None else total - frozen,
            frozen,
        )
        return report, owners

    def call(
        self, node: Node, raw: list[OutShape], graph: ModelGraph, errors: list[SpecError], cause: dict[str, str]
    ) -> _Call | None:
        try:
            picked = call_shapes.pick(node, raw)
            target = self.res.layers.get(node.layer) if node.kind == "use" else node
            if node.kind in ("layer", "use") and target is not None and self.by_argument(target.type):
                return self.named_call(node, target, picked)
            return self.kinds[node.kind](node, _flat(picked))
        except ShapeMismatch as exc:
            path = node.arg_paths.get(exc.arg, node.path) if exc.arg and node.kind != "use" else node.path
            notes = [f"layer '{node.name}' of block {' > '.join(node.block)}"] if node.block else []
            errors.append(SpecError(exc.message, path, "shape-mismatch", hint=exc.hint, notes=notes))
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError) as exc:  # arguments no rule foresaw
            cause[node.name] = node.type
            errors.append(SpecError(f"static shape inference cannot check this {node.type} with these arguments "
                                    f"({type(exc).__name__}: {exc})", node.path, "unchecked-layer", hint=_HINT,
                                    severity="note"))  # fmt: skip
        except Unsupported as exc:
            cause[node.name] = node.type
            errors.append(
                SpecError(
                    f"static shape inference cannot check this {node.type}: {exc}",
                    node.path,
                    "unchecked-layer",
                    hint=_HINT,
                    severity="note",
                )
            )
        except _Unknown as exc:
            cause[node.name] = exc.type_name
            self.unknown.setdefault(exc.type_name, (node, []))
        except _Skip:
            pass
        return None

    def by_argument(self, type_name: str) -> bool:
        """Whether layers of this type take their tensors by call argument (attention, recurrent layers)."""
        found = self.forms.get(type_name)
        if found is None:
            found = self.forms[type_name] = call_shapes.form_of(type_name) is not None
        return found

    def note_unknown(self, node: Node) -> None:
        """A node left unchecked by its inputs still gets its type noted when static inference has no rule for it."""
        if node.kind == "layer" and lookup(catalog.canonical_layer(node.type) or node.type) is None:
            self.unknown.setdefault(node.type, (node, []))
        elif node.kind == "op" and node.type not in OP_RULES:
            self.unknown.setdefault(f"op '{node.type}'", (node, []))

    # -- node kinds -------------------------------------------------------------------------------------------
    def apply(self, type_name: str, args: dict[str, Any], ins: list[Shape]) -> tuple[OutShape, int, int]:
        if type_name in self.rules:
            rule = self.rules[type_name]
        else:
            rule = self.rules[type_name] = lookup(catalog.canonical_layer(type_name) or type_name)
        if rule is None:
            raise _Unknown(type_name)
        out, params, nt = rule(args, ins)
        return out, params, params if args.get("trainable") is False else nt

    def weights(self, layer: str, params: int, nt: int, ins: list[Shape]) -> None:
        """A reused layer's weights were made for its first input; a call needing other weights is a mismatch."""
        first = self.built.setdefault(layer, (params, ins))
        if first[0] != params:
            raise ShapeMismatch(
                f"layer '{layer}' has weights for input {fmt(list(first[1]))} ({first[0]:,} params); "
                f"this call gives it {fmt(list(ins))}, which needs {params:,}"
            )

    def layer(self, node: Node, ins: list[Shape]) -> _Call:
        out, params, nt = self.apply(node.type, node.args, ins)
        self.weights(node.name, params, nt, ins)
        return _Call(out, params, nt, {node.name: (params, nt)})

    def use(self, node: Node, ins: list[Shape]) -> _Call:
        target = self.res.layers.get(node.layer)
        if target is None:
            raise _Skip
        out, params, nt = self.apply(target.type, target.args, ins)
        self.weights(node.layer, params, nt, ins)
        return _Call(out, params, nt, {node.layer: (params, nt)})

    def model_call(self, node: Node, ins: list[Shape]) -> _Call:
        graph, report = self.res.models.get(node.type), self.reports.get(node.type)
        if graph is None or report is None:
            raise _Skip
        declared = [report.inputs[i] for i in graph.inputs]
        if len(ins) != len(declared):
            raise ShapeMismatch(f"model '{node.type}' takes {len(declared)} input(s); received {len(ins)}")
        for want, got in zip(declared, ins, strict=True):
            if not _compatible(want, got):
                raise ShapeMismatch(f"model '{node.type}' expects input shape {fmt(want)}; received {fmt(got)}")
        merged = [
            tuple(w if w is not None else g for w, g in zip(want, got, strict=True))
            for want, got in zip(declared, ins, strict=True)
        ]
        owners = self.owners[node.type]
        if merged != declared:
            inner: list[SpecError] = []
            report, owners = self.model(graph, merged, inner)
            failed = [e for e in inner if e.severity == "error"]
            if failed:
                raise ShapeMismatch(f"model '{node.type}' cannot take input {fmt(list(merged))}: {failed[0].message}")
        outs = [report.outputs.get(o) for o in graph.output_names()]
        if any(o is None for o in outs):
            raise _Skip
        if node.args.get("trainable") is False:
            owners = {k: None if v is None else (v[0], v[0]) for k, v in owners.items()}
        out: OutShape = (
            outs[0]
            if len(outs) == 1 and outs[0] is not None
            else [o for o in _flat([o for o in outs if o is not None])]
        )
        nt = report.params if node.args.get("trainable") is False else report.non_trainable
        return _Call(out, report.params, nt, owners)

    def named_call(self, node: Node, target: Node, picked: list[OutShape]) -> _Call:
        """A layer with a known call signature (attention, recurrent): its tensors by call argument."""
        canonical = catalog.canonical_layer(target.type) or target.type
        form, named = call_shapes.collect(node, target, picked)
        rule = CALL_RULES.get(canonical)
        if rule is not None:
            out, params, nt = rule(target.args, node.call, named)
            nt = params if target.args.get("trainable") is False else nt
        else:
            out, params, nt = self.apply(target.type, target.args, [named[form.tensors[0]]])
            call_shapes.check_recurrent(named, form, out)
        self.weights(target.name, params, nt, _flat(picked))
        return _Call(out, params, nt, {target.name: (params, nt)})

    def op(self, node: Node, ins: list[Shape]) -> _Call:
        rule = OP_RULES.get(node.type)
        if rule is None:
            raise _Unknown(f"op '{node.type}'")
        return _Call(rule(node.type, node.args, _operands(node.type, node.args, ins)), 0, 0, {})


def infer(resolved: Resolved) -> ShapeReport:
    """Infer the output shape and parameter count of every node of every model, without Keras.

    Args:
        resolved: the graphs of a spec (`graph.resolve`); run it after the name and reference checks.

    Returns:
        A `ShapeReport`: per model and node the shape, params and whether it was checked, model totals, and
        `errors` holding `shape-mismatch` errors and `unchecked-layer` notes (paths unlocated, as every stage's).
        The report is kept in `resolved.memo` (the graphs do not change once resolved): `kspec draw` checks the spec
        and then labels the diagram with the same report.
    """
    report = resolved.memo.get("shapes")
    if report is None:
        report = resolved.memo["shapes"] = _Walker(resolved).run()
    return cast(ShapeReport, report)
