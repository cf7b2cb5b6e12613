"""Keras config values in the form a person writes in a spec, and Keras's defaults to leave out. Imports keras lazily.

A class's defaults come from the class itself: it is built from the config's required arguments only, and its
config is compared key by key with the layer's.
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

from kspec import catalog

_OBJECT_MODULES = {
    "keras.initializers": "initializer",
    "keras.regularizers": "regularizer",
    "keras.constraints": "constraint",
}
#: Arguments where `[3, 3]` and `3` (or `[[1, 1], [1, 1]]` and `1`) configure the same layer.
_SQUARE_ARGS = frozenset({"kernel_size", "strides", "pool_size", "dilation_rate", "size", "padding", "cropping"})
DROPPED_KEYS = frozenset({"name", "build_config", "compile_config"})


def snake_case(name: str) -> str:
    """`BatchNormalization` -> `batch_normalization` (Keras's class-to-name rule)."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def plain(value: Any) -> Any:
    """Tuples as lists, `__tuple__` wrappers unwrapped: the JSON form of a config value."""
    if isinstance(value, dict):
        if value.get("class_name") == "__tuple__":
            return [plain(v) for v in value["config"]["value"]]
        # `shared_object_id` marks objects shared between layers in a .keras archive; not an argument
        return {k: plain(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class _Defaults:
    """Reference configs: the config of a Keras class built with only the required arguments of a config."""

    def __init__(self) -> None:
        self.cache: dict[tuple[Any, str], dict[str, Any] | None] = {}
        self.rebuilt: dict[tuple[Any, str], dict[str, Any] | None] = {}
        self.required: dict[Any, tuple[str, ...] | None] = {}

    def required_args(self, cls: Any) -> tuple[str, ...] | None:
        """The arguments `cls` cannot be built without (None: its signature is unknown)."""
        if cls not in self.required:
            try:
                params = list(inspect.signature(cls.__init__).parameters.values())[1:]
            except (TypeError, ValueError):
                self.required[cls] = None
            else:
                kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
                self.required[cls] = tuple(p.name for p in params if p.default is p.empty and p.kind in kinds)
        return self.required[cls]

    def reference(self, cls: Any, cfg: dict[str, Any]) -> dict[str, Any] | None:
        """Keras's defaults for `cls`; the required arguments (always written) are left out."""
        names = self.required_args(cls)
        if names is None:
            return None
        required = {name: cfg[name] for name in names if name in cfg}
        key = (cls, json.dumps(required, sort_keys=True, default=str))
        if key not in self.cache:
            try:
                ref = plain(cls.from_config(dict(required)).get_config())
                self.cache[key] = {k: v for k, v in ref.items() if k not in required}
            except Exception:  # a class that cannot be built from its required arguments alone
                self.cache[key] = None
        return self.cache[key]

    def dependent(self, cls: Any, cfg: dict[str, Any], args: dict[str, Any]) -> list[str]:
        """Arguments left out as defaults that come out differently when the layer is built from `args` alone."""
        key = (cls, json.dumps(args, sort_keys=True, default=str))
        if key not in self.rebuilt:
            try:
                self.rebuilt[key] = plain(cls.from_config({k: cfg[k] for k in args}).get_config())
            except Exception:
                self.rebuilt[key] = None
        again = self.rebuilt[key]
        if again is None:
            return []
        return [
            k for k, v in again.items() if k in cfg and k not in args and k not in DROPPED_KEYS and plain(cfg[k]) != v
        ]


def keras_class(module: str, class_name: str) -> Any:
    import keras

    parts = module.split(".")
    if (
        parts[0] != "keras"
        or len(parts) != 2
        or parts[1] not in ("layers", "initializers", "regularizers", "constraints")
    ):
        return None
    return getattr(getattr(keras, parts[1]), class_name, None)


class Values:
    """Converts config values; remembers reference configs across the layers of one import."""

    def __init__(self) -> None:
        self.defaults = _Defaults()

    def value(self, arg: str, value: Any) -> Any:
        """A config value in the form a person writes in a spec."""
        value = plain(value)
        if isinstance(value, dict) and "class_name" in value and "config" in value:
            return self.obj(value)
        if arg in _SQUARE_ARGS and isinstance(value, list) and value:
            flat = [v for v in value if not isinstance(v, list)] + [x for v in value if isinstance(v, list) for x in v]
            if len(set(map(json.dumps, flat))) == 1 and isinstance(flat[0], int) and not isinstance(flat[0], bool):
                return flat[0]
        return value

    def obj(self, cfg: dict[str, Any]) -> Any:
        module, class_name, inner = cfg.get("module") or "", cfg["class_name"], cfg.get("config") or {}
        if class_name in ("DTypePolicy", "FloatDTypePolicy"):
            return inner.get("name")
        if class_name == "__keras_tensor__":
            return None
        cls = keras_class(module, class_name)
        ref = self.defaults.reference(cls, inner) if cls is not None else None
        args = {k: self.value(k, v) for k, v in inner.items() if k not in DROPPED_KEYS or module == "keras.layers"}
        if ref is not None:
            args = {k: v for k, v in args.items() if k == "name" or plain(inner[k]) != ref.get(k, object())}
        elif module in _OBJECT_MODULES:
            args = {k: v for k, v in args.items() if v is not None}
        if module == "keras.layers":
            args.pop("trainable", None) if args.get("trainable", True) is True else None
            return {"type": class_name, **args}
        kind = _OBJECT_MODULES.get(module)
        if not args and kind is not None:
            aliases = catalog.load().objects[kind]["aliases"]
            short = [a for a, target in aliases.items() if target == class_name and a == snake_case(class_name)]
            if short:
                return short[0]
        return {"type": class_name, **args}

    # -- models -----------------------------------------------------------------------------------------------
