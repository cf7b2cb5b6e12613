"""Developer tool: Keras signatures and identifier sets -> `catalog.json` beside it. Imports keras; nothing imports it.

Run `python -m kspec.catalog.introspect` after upgrading Keras; `tests/catalog/test_catalog_drift.py` fails until
you do.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kspec.catalog import probe
from kspec.catalog.docstrings import doc_args, first_sentence, path_args

DEFAULT_OUTPUT = Path(__file__).with_name("catalog.json")
#: Keys of a layer entry that belong to kspec; no Keras parameter may use them.
RESERVED = ("type", "inputs", "block", "use", "model", "op", "repeat")
UNSAFE_LAYERS = ("FlaxLayer", "JaxLayer", "Lambda", "TFSMLayer", "TorchModuleWrapper")
#: Callbacks that run Python code, need a Python function, or send data over the network.
UNSAFE_CALLBACKS = ("LambdaCallback", "LearningRateScheduler", "RemoteMonitor")
#: Tensors come from the model; kspec builds the application on the incoming tensor's shape.
APPLICATION_SKIP = ("input_shape", "input_tensor")
_FREEZE_DOC = "Whether the model's weights are updated in training; `false` freezes it (set after construction)."

# Kinds of parameters (see `kspec/catalog.py` for what each accepts).
_POSITIVE = {"units", "classes", "filters", "num_heads", "key_dim", "value_dim", "output_dim", "input_dim", "n",
             "head_dim", "depth_multiplier", "num_query_heads", "num_key_value_heads"}  # fmt: skip
_PROBABILITY = {"rate", "dropout", "recurrent_dropout"}
_INT_OR_TUPLE = {"kernel_size", "strides", "pool_size", "dilation_rate", "size", "cropping",
                 "output_padding", "axis", "axes", "shared_axes", "output_size"}  # fmt: skip
_NAMED_KINDS = {"layer": "layer", "backward_layer": "layer", "cell": "layer", "layers": "layers", "cells": "layers",
                "dtype": "dtype", "name": "str", "seed": "int", "learning_rate": "learning_rate",
                "inner_optimizer": "optimizer"}  # fmt: skip
_SUFFIX_KINDS = (("activation", "activation"), ("_initializer", "initializer"), ("_regularizer", "regularizer"),
                 ("_constraint", "constraint"))  # fmt: skip
#: Layer family (for diagram colours) by the `keras.src.layers` sub-package that defines the class.
_FAMILIES = {"activations": "activation", "attention": "attention", "convolutional": "conv", "merging": "merge",
             "normalization": "normalization", "pooling": "pooling", "preprocessing": "preprocessing",
             "regularization": "regularization", "reshaping": "reshaping", "rnn": "recurrent",
             "layer": "core"}  # fmt: skip
_DATA_FORMATS = ["channels_first", "channels_last"]
_PADDINGS = ("causal", "same", "valid")

# Modules with identifier strings (`keras.<module>.get(name)`) and configurable classes, by object kind.
_OBJECT_MODULES: dict[str, tuple[str, str | None]] = {
    "activation": ("activations", None),
    "initializer": ("initializers", "Initializer"),
    "regularizer": ("regularizers", "Regularizer"),
    "constraint": ("constraints", "Constraint"),
    "optimizer": ("optimizers", "Optimizer"),
    "loss": ("losses", "Loss"),
    "metric": ("metrics", "Metric"),
    "callback": ("callbacks", "Callback"),
    "schedule": ("optimizers.schedules", "LearningRateSchedule"),
}
#: Classes that cannot be written in a spec: abstract bases, wrappers of Python callables, Keras internals.
_NOT_CONFIGURABLE = {"Callback", "CallbackList", "History", "ProgbarLogger", "MeanMetricWrapper", "MultiOptimizer",
                     "OptimizerMap", "Initializer", "Regularizer", "Constraint", "Optimizer", "Loss", "Metric",
                     "LearningRateSchedule"}  # fmt: skip
#: `Model.compile` accepts these metric strings although `keras.metrics.get` does not.
_COMPILE_METRICS = ("acc",)

# The `op:` allow-list: pure tensor functions of keras.ops; nothing that takes a callable or does I/O.
_OPS = """abs absolute add all amax amin any arccos arccosh arcsin arcsinh arctan arctan2 arctanh argmax argmin argsort
average broadcast_to cast ceil clip concatenate cos cosh count_nonzero cumprod cumsum diagonal divide divide_no_nan dot
dstack einsum elu equal erf exp exp2 expand_dims expm1 flip floor floor_divide full_like gelu greater greater_equal
hard_sigmoid hard_silu hard_swish hstack hypot isfinite isinf isnan leaky_relu less less_equal log log10
log1p log2 log_sigmoid log_softmax logaddexp logical_and logical_not logical_or logical_xor logsumexp matmul max maximum
mean median min minimum mod moveaxis multiply nan_to_num negative norm normalize not_equal one_hot ones_like outer pad
power prod ravel reciprocal relu relu6 repeat reshape roll round rsqrt selu sigmoid sign silu sin sinh softmax softplus
softsign sort sqrt square squeeze stack std stop_gradient subtract sum swapaxes swish take take_along_axis tan tanh
tensordot tile trace transpose tril triu true_divide trunc var vstack where zeros_like""".split()
_FORBIDDEN_OPS = {"map", "scan", "while_loop", "fori_loop", "cond", "switch", "vectorized_map", "associative_scan",
                  "custom_gradient", "vectorize", "jvp", "convert_to_numpy"}  # fmt: skip
_TENSOR_PARAMS = {"x", "x1", "x2", "xs", "operands", "condition"}
#: Ops whose first tensor parameter takes the list of all the node's inputs.
_VARIADIC_OPS = {"concatenate", "stack", "hstack", "vstack", "dstack", "einsum"}


def _json_default(value: Any) -> tuple[bool, Any]:
    """(True, JSON value) when `value` is a plain constant; tuples become lists. Never encodes object reprs."""
    if value is None or isinstance(value, bool | int | str):
        return True, value
    if isinstance(value, float):
        return math.isfinite(value), value
    if isinstance(value, list | tuple):
        items = [_json_default(v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    return False, None


def _kind(name: str, default: Any, has_default: bool, doc: str) -> dict[str, Any]:
    """The check kind of a parameter: name families first, then the type of a non-None default."""
    if name in _POSITIVE:
        return {"kind": "int", "min": 1}
    if name in _PROBABILITY:
        return {"kind": "number", "min": 0, "max": 1}
    if name == "data_format":
        return {"kind": "enum", "choices": _DATA_FORMATS, "ignore_case": True}  # Keras lower-cases both
    if name == "padding" and isinstance(default, str):
        return {
            "kind": "enum",
            "choices": [p for p in _PADDINGS if p in doc.lower() or p != "causal"],
            "ignore_case": True,
        }
    if name in _INT_OR_TUPLE or name == "padding":
        return {"kind": "int_or_tuple"}
    if name in _NAMED_KINDS:
        return {"kind": _NAMED_KINDS[name]}
    for suffix, kind in _SUFFIX_KINDS:
        if name.endswith(suffix):
            return {"kind": kind}
    if not has_default or default is None:
        return {"kind": "any"}
    if isinstance(default, bool):
        return {"kind": "bool"}
    if isinstance(default, int):
        # Keras often writes `0` for float parameters (`min_delta=0`); only documented integers are strict.
        return {"kind": "int" if re.search(r"\bint(eger)?s?\b", doc, re.I) else "number"}
    if isinstance(default, float):
        return {"kind": "number"}
    if isinstance(default, str):
        return {"kind": "str"}
    if isinstance(default, list | tuple):
        return {"kind": "list"}
    return {"kind": "any"}


def _param(param: inspect.Parameter, doc: str) -> dict[str, Any]:
    has_default = param.default is not inspect.Parameter.empty
    entry: dict[str, Any] = {"required": not has_default}
    if has_default:
        ok, value = _json_default(param.default)
        if ok:
            entry["default"] = value
    if doc:
        entry["doc"] = doc
    entry.update(_kind(param.name, param.default if has_default else None, has_default, doc))
    nullable_kind = entry["kind"] in {"any", "str", "dtype", "activation", "initializer", "regularizer", "constraint"}
    if has_default and (param.default is None or nullable_kind):
        entry["nullable"] = True
    return entry


def _first_init(cls: type) -> Callable[..., Any]:
    """The first `__init__` in the MRO (not the whole MRO: `BaseConv`'s `rank` must not leak into `Conv2D`)."""
    owner = next(k for k in cls.__mro__ if "__init__" in k.__dict__)
    init: Callable[..., Any] = owner.__dict__["__init__"]
    return init


def signature_params(func: Callable[..., Any], extra: Callable[..., Any] | None = None) -> list[inspect.Parameter]:
    """Named parameters of `func`, plus the keyword parameters of `extra` when `func` takes `**kwargs`."""
    params = [p for n, p in inspect.signature(func).parameters.items() if n != "self"]
    named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if extra is not None and any(p.kind is p.VAR_KEYWORD for p in params):
        seen = {p.name for p in named}
        for p in signature_params(extra):
            if p.name not in seen and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self":
                named.append(p)
    return named


def _params(
    params: Iterable[inspect.Parameter], *docs: dict[str, str], paths: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    out = {p.name: _param(p, next((d[p.name] for d in docs if p.name in d), "")) for p in params}
    for name, kind in (paths or {}).items():  # Keras opens these as files or folders: kspec confines them
        if name in out:
            out[name]["path"] = kind
    return out


def _summary(obj: Any) -> str:
    doc = inspect.cleandoc(obj.__doc__ or "").split("\n\n")[0]
    return first_sentence(doc) if doc else ""


def _by_identity(module: Any, keep: Callable[[Any], bool]) -> tuple[dict[str, Any], dict[str, str]]:
    """Exported objects of `module` that `keep` accepts, by canonical name, and alias -> canonical name."""
    groups: dict[int, list[str]] = {}
    objects: dict[int, Any] = {}
    for name in sorted(dir(module)):
        obj = getattr(module, name)
        if not name.startswith("_") and keep(obj):
            groups.setdefault(id(obj), []).append(name)
            objects[id(obj)] = obj
    canon: dict[str, Any] = {}
    aliases: dict[str, str] = {}
    for key, names in groups.items():
        obj = objects[key]
        main = obj.__name__ if obj.__name__ in names else names[0]
        canon[main] = obj
        aliases.update({n: main for n in names if n != main})
    return canon, aliases


def _family(cls: type) -> str:
    name, parts = cls.__name__, cls.__module__.split(".")
    if parts[:3] != ["keras", "src", "layers"]:
        return "other"
    group = parts[3] if len(parts) > 3 else ""
    if name in ("Bidirectional", "TimeDistributed", "Wrapper"):
        return "wrapper"
    if group == "core":
        return {"Dense": "dense", "EinsumDense": "dense", "Embedding": "embedding"}.get(name, "core")
    if name == "ReversibleEmbedding":
        return "embedding"
    return _FAMILIES.get(group, "other")


def _layers(keras: Any) -> tuple[dict[str, Any], dict[str, str]]:
    base = keras.layers.Layer
    classes, aliases = _by_identity(keras.layers, lambda o: inspect.isclass(o) and issubclass(o, base))
    base_docs = doc_args(base.__doc__)
    layers: dict[str, Any] = {}
    for name, cls in classes.items():
        params = _params(
            signature_params(_first_init(cls), _first_init(base)),
            doc_args(cls.__doc__),
            base_docs,
            paths=path_args(cls.__doc__),
        )
        if name not in UNSAFE_LAYERS:
            probe.narrow(name, cls, params, keras)
        clash = set(params) & set(RESERVED)
        assert not clash, f"{name} has a parameter named like a reserved spec key: {clash}"
        layers[name] = {"doc": _summary(cls), "family": _family(cls), "params": params}
    shared: dict[
        str, str | None
    ] = {}  # a parameter documented on one layer but not another (e.g. `activity_regularizer`) shares the doc
    for info in layers.values():
        for pname, p in info["params"].items():
            shared.setdefault(pname, p.get("doc"))
    for info in layers.values():
        for pname, p in info["params"].items():
            if "doc" not in p and shared.get(pname):
                p["doc"] = shared[pname]
    return layers, aliases


def _applications(keras: Any) -> dict[str, Any]:
    funcs, _ = _by_identity(keras.applications, lambda o: inspect.isfunction(o) and o.__name__[:1].isupper())
    apps: dict[str, Any] = {}
    for name, func in funcs.items():
        params = signature_params(func)
        apps[name] = {
            "doc": _summary(func),
            "family": "application",
            "params": _params(
                [p for p in params if p.name not in APPLICATION_SKIP],
                doc_args(func.__doc__),
                paths=path_args(func.__doc__),
            ),
        }
        apps[name]["params"]["weights"].update(kind="enum", choices=["imagenet"], nullable=True)
        apps[name]["params"]["trainable"] = {"default": True, "doc": _FREEZE_DOC, "kind": "bool", "required": False}
        if "pooling" in apps[name]["params"]:
            apps[name]["params"]["pooling"].update(kind="enum", choices=["avg", "max"])
    return apps


def _objects(keras: Any, kind: str) -> dict[str, Any]:
    module_name, base_name = _OBJECT_MODULES[kind]
    assert module_name is not None
    module = importlib.import_module(f"keras.{module_name}")
    base = getattr(module, base_name) if base_name else None
    classes, aliases = _by_identity(module, lambda o: base is not None and inspect.isclass(o) and issubclass(o, base))
    classes = {n: c for n, c in classes.items() if n not in _NOT_CONFIGURABLE}
    aliases = {a: n for a, n in aliases.items() if n in classes}
    getter = getattr(module, "get", None)
    names: set[str] = set()
    if getter is None:  # callbacks, schedules: a bare class name means "with default arguments"
        names = {n for n, c in classes.items() if all(p.default is not p.empty for p in signature_params(c.__init__))}
    else:
        src = importlib.import_module(f"keras.src.{module_name}")
        for cand in sorted(set(dir(module)) | set(getattr(src, "ALL_OBJECTS_DICT", {}))):
            try:
                obj = getter(cand)
            except Exception:  # noqa: BLE001 - `get` raises many types for unknown names
                continue
            if obj is not None and not cand.startswith("_") and type(obj).__name__ not in _NOT_CONFIGURABLE:
                names.add(cand)
                cls = type(obj) if base is not None and isinstance(obj, base) else None
                if cls is not None and cls.__name__ in classes and cand != cls.__name__:
                    aliases.setdefault(cand, cls.__name__)
    if kind == "metric":
        names.update(_COMPILE_METRICS)
    out: dict[str, Any] = {"names": sorted(names), "aliases": dict(sorted(aliases.items())), "classes": {}}
    for name, cls in classes.items():
        init = _first_init(cls)
        params = [] if init is object.__init__ else signature_params(init)
        out["classes"][name] = {
            "doc": _summary(cls),
            "params": _params(params, doc_args(cls.__doc__), paths=path_args(cls.__doc__)),
        }
    return out


def _ops(keras: Any) -> dict[str, Any]:
    assert not _FORBIDDEN_OPS & set(_OPS)
    ops = {}
    missing = [name for name in _OPS if not hasattr(keras.ops, name)]
    assert not missing, f"keras.ops lacks allow-listed functions (update _OPS): {missing}"
    for name in _OPS:
        func = getattr(keras.ops, name)
        sig = inspect.signature(func).parameters.values()
        tensors = [p.name for p in sig if p.name in _TENSOR_PARAMS]
        params = _params(signature_params(func), doc_args(func.__doc__))
        for tensor in tensors:
            params.setdefault(tensor, {"required": True})["kind"] = "tensor"
        ops[name] = {"doc": _summary(func), "params": params, "tensors": tensors, "variadic": name in _VARIADIC_OPS}
    return ops


def _dtypes(keras: Any) -> list[str]:
    from keras.src.backend.common import dtypes

    candidates = set(dtypes.ALLOWED_DTYPES) | {"mixed_float16", "mixed_bfloat16"}
    ok = []
    for name in sorted(candidates):
        try:
            keras.dtype_policies.get(name)
            ok.append(name)
        except Exception:  # noqa: BLE001
            pass
    return ok


def build() -> dict[str, Any]:
    """Introspect the installed Keras and return the catalogue (plain JSON data)."""
    import keras

    layers, aliases = _layers(keras)
    missing = [n for n in UNSAFE_LAYERS if n not in layers]
    assert not missing, f"unsafe layers not found in keras.layers: {missing}"
    objects = {kind: _objects(keras, kind) for kind in _OBJECT_MODULES}
    return {
        "aliases": aliases,
        "applications": _applications(keras),
        "dtypes": _dtypes(keras),
        "keras_version": keras.__version__,
        "layers": layers,
        "objects": objects,
        "ops": _ops(keras),
        "unsafe_callbacks": [n for n in UNSAFE_CALLBACKS if n in objects["callback"]["classes"]],
        "unsafe_layers": list(UNSAFE_LAYERS),
    }


def dumps(catalog: dict[str, Any]) -> str:
    """Deterministic JSON text: sorted keys, one space indent, trailing newline."""
    return json.dumps(catalog, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line: `python -m kspec.introspect [-o PATH]`."""
    parser = argparse.ArgumentParser(prog="python -m kspec.introspect", description=__doc__)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the catalogue")
    args = parser.parse_args(argv)
    text = dumps(build())
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text) // 1024} KiB)", file=sys.stderr)
    if args.output == DEFAULT_OUTPUT:
        from kspec.catalog import entries

        print(f"wrote {entries.write_compact()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
