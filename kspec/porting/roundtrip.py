"""Proof helpers for `kspec import`: compare a rebuilt model with its source (structure, parameters, static shapes,
outputs under the source's weights). Used by the tests and `tools/import_applications.py`. Imports keras lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kspec.porting.weights import copy_weights

__all__ = ["copy_weights", "differences", "max_output_difference", "static_shape_differences", "structure"]

if TYPE_CHECKING:
    from kspec.analysis.graph import Resolved


def _count(weights: list[Any]) -> int:
    import math

    return sum(math.prod(w.shape) for w in weights)


def _producers(value: Any) -> Any:
    """Tensors replaced by `producer` or `producer[i]`; lists kept in order, other values dropped."""
    history = getattr(value, "_keras_history", None)
    if history is not None:
        op, node_index, index = history
        outs = op._inbound_nodes[node_index].outputs if node_index < len(op._inbound_nodes) else []
        return op.name if len(outs) <= 1 else f"{op.name}[{index}]"
    if isinstance(value, list | tuple):
        found = [_producers(v) for v in value]
        return [f for f in found if f is not None] or None
    return None


def _bound(op: Any, node: Any) -> dict[str, Any]:
    """A call's tensor arguments by call parameter name, however they were passed (positionally or by keyword)."""
    import inspect

    args, kwargs = node.arguments.args, node.arguments.kwargs
    try:
        bound = dict(inspect.signature(op.call).bind_partial(*args, **kwargs).arguments)
    except (TypeError, ValueError):
        bound = {**{str(i): a for i, a in enumerate(args)}, **kwargs}
    out = {k: _producers(v) for k, v in bound.items()}
    return {k: v for k, v in out.items() if v is not None}


def _inbound(op: Any, model: Any) -> list[dict[str, Any]]:
    owned = {id(n) for nodes in model._nodes_by_depth.values() for n in nodes}
    return [_bound(op, node) for node in op._inbound_nodes if id(node) in owned]


def structure(model: Any) -> dict[str, tuple[str, int, int, list[dict[str, Any]]]]:
    """Operation name -> (class, parameters, trainable parameters, each call's input producers by call argument).

    A nested `Sequential` counts as `Functional`: kspec's models are functional, with the same layers and wiring.
    """
    return {
        op.name: (
            "Functional" if type(op).__name__ == "Sequential" else type(op).__name__,
            _count(getattr(op, "weights", [])),
            _count(getattr(op, "trainable_weights", [])),
            _inbound(op, model),
        )
        for op in model.operations
    }


def differences(original: Any, rebuilt: Any) -> list[str]:
    """Human-readable differences in layers, classes, names, connections and parameter counts; [] when equal."""
    a, b = structure(original), structure(rebuilt)
    out = [f"layer '{n}' missing" for n in a if n not in b] + [f"extra layer '{n}'" for n in b if n not in a]
    for name in a.keys() & b.keys():
        if a[name] != b[name]:
            out.append(f"layer '{name}': {a[name]} != {b[name]}")
    for what in ("weights", "trainable_weights"):
        x, y = _count(getattr(original, what)), _count(getattr(rebuilt, what))
        if x != y:
            out.append(f"{what}: {x} != {y}")
    return sorted(out)


def sample_inputs(model: Any, seed: int = 0, size: int = 32) -> list[Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for t in model.inputs:
        shape = [2, *(d if d is not None else size for d in t.shape[1:])]
        if "int" in str(t.dtype):
            out.append(rng.integers(0, 10, size=shape).astype(str(t.dtype)))
        else:
            out.append(rng.uniform(0.0, 1.0, size=shape).astype("float32"))
    return out


def max_output_difference(original: Any, rebuilt: Any, seed: int = 0) -> float:
    """Largest absolute difference between the two models' outputs on the same random inputs."""
    import keras
    import numpy as np

    xs = sample_inputs(original, seed)
    ya = original(xs if len(xs) > 1 else xs[0], training=False)
    yb = rebuilt(xs if len(xs) > 1 else xs[0], training=False)
    ya, yb = (ya if isinstance(ya, list | tuple) else [ya]), (yb if isinstance(yb, list | tuple) else [yb])
    pairs = zip(ya, yb, strict=True)
    return max(float(np.max(np.abs(keras.ops.convert_to_numpy(p) - keras.ops.convert_to_numpy(q)))) for p, q in pairs)


def static_shape_differences(resolved: Resolved, model: Any) -> list[str]:
    """Layers whose statically inferred output shape differs from Keras's (or that static inference left open)."""
    from kspec.analysis.shapes import infer

    report = infer(resolved).models[resolved.main]
    keras_shapes: dict[str, Any] = {}
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            shapes = [tuple(t.shape) for t in node.outputs]
            keras_shapes[node.operation.name] = shapes[0] if len(shapes) == 1 else shapes
    out = []
    for name, node in report.nodes.items():
        if node.kind == "input":
            continue
        want = keras_shapes.get(name)
        got = tuple(node.shape) if node.shape is not None and not isinstance(node.shape, list) else node.shape
        if not node.checked or got != want:
            out.append(f"{name} ({node.type}): static {got} != Keras {want}")
    return out
