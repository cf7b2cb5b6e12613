"""Stage 5, build: resolved graphs -> Keras 3 functional models; Keras errors come back as located `SpecError`s.

One of the few modules that import keras.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from kspec import catalog, paths
from kspec.analysis.graph import ModelGraph, Node, Resolved
from kspec.catalog import calls
from kspec.catalog.kspec_ops import KSPEC_OPS
from kspec.compiler import init_weights, plugins
from kspec.compiler.depth import room_for
from kspec.errors import Path, SpecError, SpecErrors, shorten

if TYPE_CHECKING:
    import keras

_NESTED_LAYER_ARGS = ("layer", "backward_layer")


@dataclass
class Compiled:
    """The Keras models of a spec, by name, and which nested models each one freezes."""

    models: dict[str, keras.Model]
    main: str
    frozen: dict[str, set[str]] = field(default_factory=dict)
    #: model name -> its output names as the spec writes them (`decoded`, `encoder[2]`), in output order
    outputs: dict[str, list[str]] = field(default_factory=dict)
    #: the spec's `losses:` (name -> LossSpec), for `train.loss` entries that name one
    losses: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> keras.Model:
        return self.models[self.main]

    @contextmanager
    def freezing(self, name: str) -> Iterator[keras.Model]:
        """Model `name` with the nested models it marks `trainable: false` frozen for the duration."""
        subs = [self.models[s] for s in self.frozen.get(name, ())]
        before = [s.trainable for s in subs]
        for sub in subs:
            sub.trainable = False
        try:
            yield self.models[name]
        finally:
            for sub, flag in zip(subs, before, strict=True):
                sub.trainable = flag


def to_keras_config(value: Any) -> Any:
    """`{type: X, **args}` -> Keras's `{"class_name": X, "config": args}`, recursively; other values unchanged."""
    if isinstance(value, dict):
        if "type" in value:
            rest = {k: to_keras_config(v) for k, v in value.items() if k != "type"}
            return {"class_name": value["type"], "config": rest}
        return {k: to_keras_config(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_keras_config(v) for v in value]
    return value


class _PathRefused(Exception):
    """A path-typed layer argument that is not a file inside the spec's folder (at build time)."""

    def __init__(self, error: SpecError) -> None:
        super().__init__(error.message)
        self.error = error


def _rejected(exc: Exception, node: Node) -> SpecError:
    files = [(rel, value) for rel, value, _ in catalog.path_arguments(node.type, node.args)]
    if files:  # Keras quotes the file's lines in its messages: say which file, never what is in it
        rel, value = files[0]
        return SpecError(
            f"Keras could not use the file {shorten(value)} given as `{rel[-1]}` for {node.type} '{node.name}' "
            f"({type(exc).__name__}; its contents are not shown)",
            node.arg_paths.get(str(rel[0]), (*node.path, *rel)),
            "keras-rejected",
            hint="check that the file holds what Keras expects there (one vocabulary term per line)",
        )
    text = " ".join(str(exc).split())
    if len(text) > 400:
        text = text[:397] + "..."
    path: Path = node.path
    for arg in node.args:
        if re.search(rf"`{re.escape(arg)}`|\b{re.escape(arg)}=", text):
            path = node.arg_paths.get(arg, (*node.path, arg))
            break
    return SpecError(f"Keras rejected {node.type} '{node.name}': {text}", path, "keras-rejected")


def make_layer(
    type_name: str, args: dict[str, Any], name: str | None, input_shape: tuple[Any, ...] | None = None
) -> Any:
    """Instantiate a Keras layer (or application, or registered plugin layer) from a spec entry.

    An application (e.g. VGG16) is built for `input_shape`, the shape of the tensor it is called on, so the layers
    inside it have sizes, as `VGG16(input_shape=...)` in the book.
    """
    import keras

    trainable = args.get("trainable", True)
    kwargs = {k: v for k, v in args.items() if k not in _NESTED_LAYER_ARGS and k != "trainable"}
    kwargs = to_keras_config(kwargs)
    for key in _NESTED_LAYER_ARGS:
        inner = args.get(key)
        if isinstance(inner, dict):
            inner_args = {k: v for k, v in inner.items() if k != "type"}
            kwargs[key] = make_layer(str(inner["type"]), inner_args, inner_args.pop("name", None))
    if name is not None:
        kwargs["name"] = name
    if ">" in type_name:
        plugins.load(type_name.split(">")[0])
        cls = keras.saving.get_registered_object(type_name)
        if cls is None:
            raise ValueError(f"the plugin does not register a layer named '{type_name}'")
        layer = cls(**kwargs)
    else:
        info = catalog.layer_info(type_name)
        if info is None:
            raise ValueError(f"'{type_name}' is not in kspec's catalogue of Keras layers")
        if info.is_application:
            if input_shape is not None:
                kwargs.setdefault("input_shape", input_shape)
            layer = getattr(keras.applications, info.name)(**kwargs)
        else:
            layer = getattr(keras.layers, info.name)(**kwargs)
    if trainable is False:
        layer.trainable = False
    return layer


def _call_op(node: Node, tensors: list[Any], seed: int | None = None) -> Any:
    import keras

    if node.type in KSPEC_OPS:
        from kspec.compiler import kspec_layers

        return kspec_layers.call(node.type, node.name, node.args, tensors, seed)
    info = catalog.op_info(node.type)
    if info is None:
        raise ValueError(f"'{node.type}' is not an allowed keras.ops function")
    fn = getattr(keras.ops, node.type)
    if info.variadic:
        out = fn(tensors, **node.args)
    else:  # tensors fill the tensor parameters not given as constants (`{op: subtract, x1: 1.0}`: x2), by name
        free = [t for t in info.tensors if t not in node.args]
        out = fn(**node.args, **dict(zip(free, tensors, strict=False)))
    out._keras_history.operation.name = node.name
    return out


def _select(value: Any, select: Any) -> Any:
    """The output a selector (`name[i]`) picks from a layer's or model's outputs."""
    if select is None:
        return value
    if not isinstance(value, list | tuple) or not isinstance(select, int) or select >= len(value):
        n = len(value) if isinstance(value, list | tuple) else 1
        raise ValueError(f"output [{select}] selected from {n} output(s)")
    return value[select]


def _call_named(layer: Any, form: calls.CallForm, node: Node, ins: list[Any]) -> Any:
    """Call a layer with its tensors by call argument (`query=`, `value=`, `mask=`, ...) and `call:` options."""
    keys = [loc[1:] for loc in node.input_locs] if node.named else None
    named: dict[str, Any] = {}
    for arg, tensor in zip(calls.named_inputs(form, keys, len(ins)), ins, strict=True):
        if arg in form.lists:
            named.setdefault(arg, []).append(tensor)
        else:
            named[arg] = tensor
    options = dict(node.call)
    if form.packed:
        packed = [named.pop(k) for k in form.packed if k in named]
        masks = [named.pop(k, None) for k in form.masks]
        if any(m is not None for m in masks):
            named["mask"] = masks
        return layer(packed, **named, **options)
    first = named.pop(form.tensors[0])
    return layer(first, **named, **options)


class _Builder:
    def __init__(self, res: Resolved) -> None:
        self.res = res
        self.layers: dict[str, Any] = {}
        self.models: dict[str, Any] = {}
        self.frozen: dict[str, set[str]] = {}
        self.errors: list[SpecError] = []

    def model(self, graph: ModelGraph) -> None:
        import keras

        tensors: dict[str, Any] = {}
        for node in graph.order():
            if any(i not in tensors for i in node.inputs):
                return
            try:
                ins = [
                    _select(tensors[i], sel) for i, sel in zip(node.inputs, node.selects or [None] * 99, strict=False)
                ]
                tensors[node.name] = self.call(node, ins, graph)
            except _PathRefused as refused:
                self.errors.append(refused.error)
                return
            except Exception as exc:  # Keras raises ValueError, TypeError, NotImplementedError, ...
                self.errors.append(_rejected(exc, node))
                return
        try:
            selects = graph.output_selects or [None] * len(graph.outputs)
            outs = [_select(tensors[o], sel) for o, sel in zip(graph.outputs, selects, strict=True)]
            self.models[graph.name] = keras.Model(
                inputs=[tensors[i] for i in graph.inputs] if len(graph.inputs) > 1 else tensors[graph.inputs[0]],
                outputs=outs if len(outs) > 1 else outs[0],
                name=graph.name,
            )
        except Exception as exc:
            self.errors.append(
                SpecError(f"Keras could not assemble model '{graph.name}': {exc}", graph.path, "keras-rejected")
            )

    def confined(self, node: Node) -> dict[str, Any]:
        """The node's arguments with every path-typed one (a vocabulary file, a weights file) checked again and
        resolved inside the spec's folder, so Keras opens exactly the file `validate` accepted."""
        from kspec.analysis.checks import layer_path_problem

        args = dict(node.args)
        for rel, value, kind in catalog.path_arguments(node.type, node.args):
            problem = layer_path_problem(self.res.doc.folder, value, kind)
            if problem is not None:
                raise _PathRefused(replace(problem, path=node.arg_paths.get(str(rel[0]), (*node.path, *rel))))
            full = str(paths.resolve_inside(self.res.doc.folder, value))
            target: Any = args
            for item in rel[:-1]:  # a nested layer's argument: copy the containers on the way down
                target[item] = copy.copy(target[item])
                target = target[item]
            target[rel[-1]] = full
        return args

    def call(self, node: Node, ins: list[Any], graph: ModelGraph) -> Any:
        import keras

        arg = ins[0] if len(ins) == 1 else ins
        if node.kind == "input":
            return keras.Input(shape=tuple(node.args["shape"]), dtype=node.args.get("dtype"), name=node.name)
        if node.kind == "op":
            return _call_op(node, ins, getattr(self.res.spec.train, "seed", None))
        if node.kind == "model":
            if node.args.get("trainable") is False:
                self.frozen.setdefault(graph.name, set()).add(node.type)
            return self.models[node.type](arg)
        if node.kind == "use":
            target = self.res.layers.get(node.layer)
            form = None if target is None else calls.call_form(catalog.canonical_layer(target.type) or target.type)
            layer = self.layers[node.layer]
            return layer(arg) if form is None else _call_named(layer, form, node, ins)
        shape = tuple(ins[0].shape[1:]) if len(ins) == 1 else None
        layer = make_layer(node.type, self.confined(node), node.name, shape)
        self.layers[node.name] = layer
        form = calls.call_form(catalog.canonical_layer(node.type) or node.type)
        return layer(arg) if form is None else _call_named(layer, form, node, ins)


def build(res: Resolved) -> Compiled:
    """Build every model of a resolved spec with Keras; raises `SpecErrors` (unlocated) on failure."""
    builder = _Builder(res)
    with room_for(sum(len(graph.nodes) for graph in res.models.values())):
        for name in res.model_order():
            if name in res.models:
                builder.model(res.models[name])
            if builder.errors:
                break
    if builder.errors:
        raise SpecErrors(builder.errors)
    outputs = {name: graph.output_names() for name, graph in res.models.items()}
    compiled = Compiled(builder.models, res.main, builder.frozen, outputs, dict(res.spec.losses))
    init_weights.load(res, compiled.model)
    return compiled


def _shape(shape: Any) -> list[int | None]:
    return [None if d is None else int(d) for d in shape]


def _count(weights: list[Any]) -> int:
    import math

    return sum(math.prod(w.shape) for w in weights)


def summarize(compiled: Compiled, spec_name: str) -> dict[str, Any]:
    """The `kspec build --json` document: per model its params, input/output shapes and layers."""
    models = []
    for name, model in compiled.models.items():
        with compiled.freezing(name):
            shapes = _output_shapes(model)
            layers = [
                {
                    "name": op.name,
                    "class": type(op).__name__,
                    "output_shape": shapes.get(op.name),
                    "params": int(op.count_params()) if getattr(op, "built", False) else 0,
                }
                for op in model.operations
                if type(op).__name__ != "InputLayer"
            ]
            models.append(
                {
                    "name": name,
                    "params": _count(model.weights),
                    "trainable_params": _count(model.trainable_weights),
                    "non_trainable_params": _count(model.non_trainable_weights),
                    "inputs": [_shape(t.shape) for t in model.inputs],
                    "outputs": [_shape(t.shape) for t in model.outputs],
                    "layers": layers,
                }
            )
    return {"name": spec_name, "models": models}


def _output_shapes(model: Any) -> dict[str, Any]:
    """Operation name -> output shape(s) within `model` (a shared layer has one call per model)."""
    out: dict[str, Any] = {}
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            shapes = [_shape(t.shape) for t in node.outputs]
            out[node.operation.name] = shapes[0] if len(shapes) == 1 else shapes
    return out
