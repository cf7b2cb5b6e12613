"""Stage: a Keras model's config (`get_config()`, or a `.keras` archive's `config.json`) -> the import IR.

The config is read as data: nothing in it is deserialised except Keras's own layers, ops and objects, which are
instantiated (with the config's required arguments only) to learn their default arguments. Imports keras lazily.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kspec import catalog
from kspec.catalog import calls
from kspec.errors import Path
from kspec.porting.model import Entry, Imported, ImportedModel, Problem
from kspec.porting.values import DROPPED_KEYS, Values, keras_class, plain, snake_case

_MODEL_CLASSES = ("Functional", "Sequential", "Model")


def _is_tensor(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _tensors(value: Any) -> Iterator[list[Any]]:
    if _is_tensor(value):
        yield list(value["config"]["keras_history"])
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


class Reader:
    def __init__(self, source: str) -> None:
        import keras

        self.imported = Imported({}, "", source, keras.__version__)
        self.values = Values()
        self.defaults = self.values.defaults
        self.multi: set[str] = set()  # the current functional model's multi-output layers

    # -- values -----------------------------------------------------------------------------------------------
    def read(self, top: dict[str, Any]) -> Imported:
        """`top` is a serialised model (`{"class_name": "Functional", "config": {...}}`)."""
        self.imported.main = self.model(top, ("config",))
        return self.imported

    def model(self, serialized: dict[str, Any], where: Path) -> str:
        cfg = serialized["config"]
        name = cfg["name"]
        if serialized["class_name"] == "Sequential":
            model = self.sequential(cfg, where)
        else:
            model = self.functional(cfg, where)
        self.imported.models[name] = model
        return str(name)

    def sequential(self, cfg: dict[str, Any], where: Path) -> ImportedModel:
        layers = list(cfg["layers"])
        inputs: dict[str, dict[str, Any]] = {}
        if layers and layers[0]["class_name"] == "InputLayer":
            first = layers.pop(0)["config"]
            inputs[first["name"]] = _input(first)
        elif cfg.get("build_input_shape"):
            inputs[f"{cfg['name']}_input"] = {"shape": list(cfg["build_input_shape"][1:])}
        entries: list[Entry] = []
        prev = next(iter(inputs), None)
        for i, layer in enumerate(layers):
            entry = self.layer(layer, (*where, "layers", i), [prev] if prev else [], 0)
            if entry is not None:
                entries.append(entry)
                prev = entry.name
        return ImportedModel(cfg["name"], inputs, entries, [prev] if prev else [])

    def functional(self, cfg: dict[str, Any], where: Path) -> ImportedModel:
        inputs: dict[str, dict[str, Any]] = {}
        produced: dict[tuple[str, int], str] = {}
        entries: list[Entry] = []
        multi = self.multi = _multi_output(cfg)
        for i, layer in enumerate(cfg["layers"]):
            lpath: Path = (*where, "layers", i)
            if layer["class_name"] == "InputLayer":
                inputs[layer["config"]["name"]] = _input(layer["config"])
                produced[(layer["config"]["name"], 0)] = layer["config"]["name"]
                continue
            lname = layer.get("name") or layer["config"]["name"]
            for k, node in enumerate(layer.get("inbound_nodes") or []):
                ins = self.call_inputs(node, produced)
                entry = self.layer(layer, lpath, ins, k, node)
                self.multi = multi  # reading a nested model replaced it
                if entry is not None and entry.kind in ("type", "use"):
                    self.named_call(layer, node, entry, produced)
                if entry is not None:
                    entries.append(entry)
                    produced[(lname, k)] = entry.name
        outputs = [self.ref(ref, produced) for ref in _refs(cfg.get("output_layers"))]
        ordered = _topological(entries, set(inputs))
        return ImportedModel(cfg["name"], inputs, ordered, outputs)

    def ref(self, hist: list[Any], produced: dict[tuple[str, int], str]) -> str:
        """The spec's name for a tensor: `layer`, or `layer[i]` for output i of a multi-output layer or model."""
        name = produced.get((hist[0], hist[1]), hist[0])
        return f"{name}[{hist[2]}]" if hist[0] in self.multi else name

    def call_inputs(self, node: dict[str, Any], produced: dict[tuple[str, int], str]) -> list[str]:
        return [self.ref(hist, produced) for hist in _tensors(node.get("args", []))] + [
            self.ref(hist, produced) for hist in _tensors(node.get("kwargs") or {})
        ]

    def problem(self, layer: str, cls: str, where: Path, message: str, code: str) -> None:
        self.imported.problems.append(Problem(layer, cls, where, message, code))

    def layer(
        self, layer: dict[str, Any], where: Path, ins: list[str], k: int, node: dict[str, Any] | None = None
    ) -> Entry | None:
        cls_name = layer["class_name"]
        cfg = layer.get("config") or {}
        lname = cfg.get("name") or layer.get("name") or snake_case(cls_name)
        if cls_name in _MODEL_CLASSES and isinstance(cfg.get("layers"), list):
            if k == 0:
                self.model(layer, (*where, "config"))
            args = {"trainable": False} if cfg.get("trainable") is False else {}
            return Entry(lname if k == 0 else f"{lname}_call_{k}", "model", cfg["name"], args, {}, ins)
        if k > 0:
            return Entry(f"{lname}_call_{k}", "use", lname, {}, {}, ins)
        if node is not None and not self.plain_call(layer, node, where):
            return Entry(lname, "unsupported", cls_name, {}, {}, ins)
        module = layer.get("module") or ""
        if module.startswith("keras.src.ops") or module.startswith("keras.ops"):
            return self.op(layer, where, ins, node)
        registered = layer.get("registered_name") or ""
        if ">" in registered:
            package = registered.split(">")[0]
            if package not in self.imported.plugins:
                self.imported.plugins.append(package)
            args = {k2: self.values.value(k2, v) for k2, v in cfg.items() if k2 not in DROPPED_KEYS}
            return Entry(lname, "type", registered, args, {}, ins)
        info = catalog.layer_info(cls_name) if module == "keras.layers" else None
        if info is None or info.is_unsafe:
            if info is not None:
                why = ("runs arbitrary code; the spec language has no safe equivalent", "unsafe-layer")
            else:
                why = (
                    f"is not a Keras layer kspec knows (module {module or '?'}); a plugin could provide it",
                    "unknown-layer",
                )
            self.problem(lname, cls_name, where, *why)
            return Entry(lname, "unsupported", cls_name, {}, {}, ins)
        return self.keras_layer(layer, lname, ins)

    def named_call(self, layer: dict[str, Any], node: dict[str, Any], entry: Entry, produced: Produced) -> None:
        """Tensors by call argument and `call:` options, for the layers whose call form kspec knows (attention, RNN)."""
        form = calls.call_form(layer["class_name"])
        if form is None:
            return
        args = list(node.get("args", []))
        if form.packed and args and isinstance(args[0], list):
            args = [*args[0], *args[1:]]
        named: dict[str, Any] = {}
        for arg, value in zip(form.tensors, args, strict=False):
            if _is_tensor(value):
                named[arg] = self.ref(value["config"]["keras_history"], produced)
        for key, value in (node.get("kwargs") or {}).items():
            if key == "mask" and form.masks and isinstance(value, list):
                named.update({m: self.ref(v["config"]["keras_history"], produced)
                              for m, v in zip(form.masks, value, strict=False) if _is_tensor(v)})  # fmt: skip
            elif _is_tensor(value):
                named[key] = self.ref(value["config"]["keras_history"], produced)
            elif isinstance(value, list) and value and all(map(_is_tensor, value)):
                named[key] = [self.ref(v["config"]["keras_history"], produced) for v in value]
            elif key != "training" and value is not None and key in form.options:
                entry.call[key] = value
        if list(named) != list(form.tensors[: len(named)]) or len(named) > form.positional:
            entry.named = named

    def plain_call(self, layer: dict[str, Any], node: dict[str, Any], where: Path) -> bool:
        """A call the spec language can write: one tensor or a list of tensors, no other call arguments (except by
        name for the layers whose call form kspec knows)."""
        args = node.get("args", [])
        # Keras records `training` for every symbolic call; it is not part of the model's wiring.
        kwargs = {k: v for k, v in (node.get("kwargs") or {}).items() if v is not None and k != "training"}
        module = layer.get("module") or ""
        form = calls.call_form(layer["class_name"]) if module == "keras.layers" else None
        if form is not None:
            known = set(form.tensors) | set(form.options) | ({"mask"} if form.masks else set())
            ok = set(kwargs) <= known
            kwargs = {k: v for k, v in kwargs.items() if k not in known}
        elif module.startswith("keras.src.ops") or module.startswith("keras.ops"):
            ok = not any(_is_tensor(v) or list(_tensors(v)) for v in kwargs.values())
        else:
            ok = len(args) == 1 and not kwargs and (_is_tensor(args[0]) or all(map(_is_tensor, args[0])))
        if not ok:
            extra = sorted(kwargs) if kwargs else []
            what = f"call arguments {', '.join(extra)}" if extra else f"{len(args)} positional tensor arguments"
            self.problem(
                layer["config"].get("name", "?"),
                layer["class_name"],
                where,
                f"is called with {what}; the spec language passes one tensor or a list",
                "not-expressible",
            )
        return ok

    def keras_layer(self, layer: dict[str, Any], lname: str, ins: list[str]) -> Entry:
        cls_name, cfg = layer["class_name"], layer["config"]
        cls = keras_class("keras.layers", cls_name)
        ref = self.defaults.reference(cls, cfg) if cls is not None else None
        args: dict[str, Any] = {}
        keras_defaults: dict[str, Any] = {}
        for key, raw in cfg.items():
            if key in DROPPED_KEYS:
                continue
            if ref is not None and key in ref:
                keras_defaults[key] = self.values.value(key, ref[key])
                if plain(raw) == ref[key]:
                    continue
            if key == "trainable" and raw is True:
                continue
            args[key] = self.values.value(key, raw)
        if ref is not None:
            for key in self.defaults.dependent(cls, cfg, args):
                args[key] = self.values.value(key, cfg[key])  # e.g. pooling strides that follow pool_size when left out
        return Entry(lname, "type", cls_name, args, keras_defaults, ins)

    def op(self, layer: dict[str, Any], where: Path, ins: list[str], node: dict[str, Any] | None) -> Entry:
        cfg = layer.get("config") or {}
        lname = cfg.get("name") or layer["name"]
        fn = snake_case(layer["class_name"])
        info = catalog.op_info(fn)
        if info is None:
            self.problem(
                lname,
                layer["class_name"],
                where,
                f"calls keras.ops.{fn}, which is not on kspec's allow-list of ops",
                "unknown-op",
            )
            return Entry(lname, "unsupported", layer["class_name"], {}, {}, ins)
        args = {k: self.values.value(k, v) for k, v in cfg.items() if k not in DROPPED_KEYS}
        names = list(info.params)
        positional = (node or {}).get("args", [])
        if info.variadic and len(positional) == 1 and isinstance(positional[0], list):
            positional = [positional[0]]
        for i, value in enumerate(positional):
            if not (_is_tensor(value) or (info.variadic and i == 0)) and i < len(names):
                args[names[i]] = plain(value)
        for key, value in ((node or {}).get("kwargs") or {}).items():
            if not _is_tensor(value) and key != "training":
                args[key] = plain(value)
        return Entry(lname, "op", fn, args, {}, ins)


Produced = dict[tuple[str, int], str]


def _multi_output(cfg: dict[str, Any]) -> set[str]:
    """Layers (and nested models) of a functional config with several outputs: their references need `[i]`."""
    multi = {
        h[0] for layer in cfg["layers"] for node in layer.get("inbound_nodes") or [] for h in _tensors(node) if h[2]
    }
    multi |= {r[0] for r in _refs(cfg.get("output_layers")) if r[2]}
    for layer in cfg["layers"]:
        inner = layer.get("config") or {}
        if layer["class_name"] in _MODEL_CLASSES and len(_refs(inner.get("output_layers"))) > 1:
            multi.add(inner.get("name", ""))
        elif calls.output_names(layer["class_name"], inner):
            multi.add(inner.get("name", ""))
        for node in layer.get("inbound_nodes") or []:
            if calls.output_names(layer["class_name"], node.get("kwargs") or {}):
                multi.add(inner.get("name", ""))
    return multi


def _input(cfg: dict[str, Any]) -> dict[str, Any]:
    shape = list(cfg.get("batch_shape") or [None, *cfg.get("shape", [])])[1:]
    out: dict[str, Any] = {"shape": shape}
    dtype = cfg.get("dtype")
    if isinstance(dtype, dict):
        dtype = dtype.get("config", {}).get("name")
    if dtype and dtype != "float32":
        out["dtype"] = dtype
    return out


def _refs(value: Any) -> list[list[Any]]:
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [value]
    if isinstance(value, dict):
        return (
            [list(value["config"]["keras_history"])]
            if _is_tensor(value)
            else [r for v in value.values() for r in _refs(v)]
        )
    return [r for v in value or [] for r in _refs(v)]


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _topological(entries: list[Entry], ready: set[str]) -> list[Entry]:
    """Entries so that each comes after its inputs (a shared layer's later calls can be listed before them), and
    layers of one name prefix stay together (`conv2_block1_0_conv` next to `conv2_block1_3_bn`, not after it)."""
    names = {e.name for e in entries}
    waiting = {e.name: sum(1 for i in set(e.inputs) if i in names and i not in ready) for e in entries}
    users: dict[str, list[Entry]] = {}
    for e in entries:
        for i in set(e.inputs):
            users.setdefault(i, []).append(e)
    index = {e.name: k for k, e in enumerate(entries)}
    available = [e for e in entries if waiting[e.name] == 0]
    out: list[Entry] = []
    prev = ""
    while available:
        best = max(available, key=lambda e: (_common(prev, e.name), -index[e.name]))
        available.remove(best)
        out.append(best)
        prev = best.name
        for user in users.get(best.name, []):
            waiting[user.name] -= 1
            if waiting[user.name] == 0:
                available.append(user)
    if len(out) < len(entries):  # a cycle or a dangling reference: keep the rest in config order
        out.extend(e for e in entries if e not in out)
    return out
