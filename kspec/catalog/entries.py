"""The generated Keras catalogue: what layers, objects and ops exist and what arguments they take. Stdlib only.

`catalog.json` is written by `python -m kspec.catalog.introspect`; `kspec.catalog.checking` checks spec values
against it. `catalog.marshal` holds the same data in Python's marshal format, which loads in about a third of the time
of parsing the JSON; it is used only while it matches `catalog.json` (introspect and `kspec schema` rewrite it).
"""

from __future__ import annotations

import json
import marshal
import zlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from kspec.catalog.calls import LAYER_ALIASES
from kspec.catalog.kspec_ops import KSPEC_OPS

#: Object kinds that are a Keras identifier string or `{type: ClassName, ...arguments}`.
OBJECT_KINDS = ("activation", "callback", "constraint", "initializer", "loss", "metric", "optimizer", "regularizer",
                "schedule")  # fmt: skip
#: Keys of a layer entry that are kspec's own and never layer arguments (`name` is also a Keras argument).
RESERVED_KEYS = frozenset({"type", "inputs", "call", "repeat", "block", "use", "model", "op"})
PLUGIN_PATTERN = r"^[A-Za-z_][\w.]*>\w+$"
JSON_FILE = Path(__file__).with_name("catalog.json")
COMPACT_FILE = Path(__file__).with_name("catalog.marshal")


class ParamInfo(NamedTuple):
    """One keyword argument of a layer, object class or op, and what values kspec accepts for it."""

    name: str
    kind: str
    required: bool
    doc: str = ""
    has_default: bool = False
    default: Any = None
    nullable: bool = False
    #: the values of an `enum` (strings; `true`/`false` where Keras also takes those)
    choices: tuple[Any, ...] = ()
    #: an enum whose strings Keras lower-cases before it compares them (`padding: SAME`)
    ignore_case: bool = False
    minimum: float | None = None
    maximum: float | None = None
    #: `file` or `folder` when Keras opens a string value as a path (a lookup vocabulary, a weights file): such a
    #: value must be a path inside the spec's folder
    path: str | None = None


class LayerInfo(NamedTuple):
    """A Keras layer class (or `keras.applications` constructor) and its arguments."""

    name: str
    family: str
    doc: str
    params: dict[str, ParamInfo]
    is_application: bool = False
    is_unsafe: bool = False


class ObjectInfo(NamedTuple):
    """A configurable class of an object kind, e.g. `Adam` (optimizer) or `HeNormal` (initializer)."""

    kind: str
    name: str
    doc: str
    params: dict[str, ParamInfo]


class OpInfo(NamedTuple):
    """A `keras.ops` function of the allow-list. `tensors` are filled from the node's inputs, in order."""

    name: str
    doc: str
    params: dict[str, ParamInfo]
    tensors: tuple[str, ...]
    variadic: bool


class Catalog(NamedTuple):
    """The parsed `catalog.json`; entries stay plain data until `layer_info` etc. look them up."""

    keras_version: str
    layers: dict[str, Any]
    aliases: dict[str, str]
    applications: dict[str, Any]
    objects: dict[str, Any]
    ops: dict[str, Any]
    dtypes: frozenset[str]
    unsafe_layers: frozenset[str]
    unsafe_callbacks: frozenset[str]


@cache
def load() -> Catalog:
    """Read the catalogue once per process (from `catalog.marshal` while it matches `catalog.json`)."""
    text = JSON_FILE.read_bytes()
    data = compact(text)
    if data is None:
        data = json.loads(text)
    return Catalog(
        keras_version=data["keras_version"],
        layers=data["layers"],
        aliases=data["aliases"],
        applications=data["applications"],
        objects=data["objects"],
        ops=data["ops"],
        dtypes=frozenset(data["dtypes"]),
        unsafe_layers=frozenset(data["unsafe_layers"]),
        unsafe_callbacks=frozenset(data["unsafe_callbacks"]),
    )


def _key(text: bytes) -> str:
    """Which `catalog.json` a compact file was written from: CRC-32, Adler-32 and length of its bytes."""
    return f"{zlib.crc32(text):08x}{zlib.adler32(text):08x}-{len(text)}"


def compact(text: bytes) -> Any:
    """The data of `catalog.marshal` if it was written from the JSON `text`, else None (missing, stale, unreadable:
    the caller parses the JSON)."""
    try:
        saved = marshal.loads(COMPACT_FILE.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return saved.get("data") if isinstance(saved, dict) and saved.get("key") == _key(text) else None


def write_compact(path: Path = COMPACT_FILE) -> Path:
    """Write `catalog.marshal` from the present `catalog.json`."""
    text = JSON_FILE.read_bytes()
    path.write_bytes(marshal.dumps({"key": _key(text), "data": json.loads(text)}))
    return path


def _params(raw: Mapping[str, Any]) -> dict[str, ParamInfo]:
    return {
        name: ParamInfo(
            name=name,
            kind=p.get("kind", "any"),
            required=p["required"],
            doc=p.get("doc", ""),
            has_default="default" in p,
            default=p.get("default"),
            nullable=p.get("nullable", False),
            choices=tuple(p.get("choices", ())),
            ignore_case=p.get("ignore_case", False),
            minimum=p.get("min"),
            maximum=p.get("max"),
            path=p.get("path"),
        )
        for name, p in raw.items()
    }


def canonical_layer(name: str) -> str | None:
    """The catalogue name of a layer type or application (`Convolution2D` -> `Conv2D`); None if unknown."""
    cat = load()
    if name in cat.layers or name in cat.applications:
        return name
    return cat.aliases.get(name) or LAYER_ALIASES.get(name)


@cache
def layer_info(name: str) -> LayerInfo | None:
    """Family, doc and arguments of a layer type, alias or application; None if unknown."""
    canonical = canonical_layer(name)
    if canonical is None:
        return None
    cat = load()
    is_app = canonical in cat.applications
    raw = (cat.applications if is_app else cat.layers)[canonical]
    return LayerInfo(canonical, raw["family"], raw.get("doc", ""), _params(raw["params"]), is_app,
                     canonical in cat.unsafe_layers)  # fmt: skip


def layer_names(*, aliases: bool = False) -> list[str]:
    """Every layer type and application name, sorted; with `aliases=True` also `Convolution2D` etc."""
    cat = load()
    return sorted([*cat.layers, *cat.applications, *((*cat.aliases, *LAYER_ALIASES) if aliases else ())])


def object_names(kind: str) -> list[str]:
    """Every identifier string and class name of an object kind (`optimizer`, `loss`, ...), sorted."""
    table = load().objects[kind]
    return sorted({*table["names"], *table["classes"], *table["aliases"]})


@cache
def object_info(kind: str, name: str) -> ObjectInfo | None:
    """The configurable class `name` (or an alias such as `glorot_uniform`) of an object kind; None if none."""
    table = load().objects[kind]
    canonical = name if name in table["classes"] else table["aliases"].get(name)
    if canonical is None:
        return None
    raw = table["classes"][canonical]
    return ObjectInfo(kind, canonical, raw.get("doc", ""), _params(raw["params"]))


@cache
def op_info(name: str) -> OpInfo | None:
    """A `keras.ops` function of the allow-list; None if `name` is not on it."""
    raw = load().ops.get(name) or KSPEC_OPS.get(name)
    if raw is None:
        return None
    return OpInfo(name, raw.get("doc", ""), _params(raw["params"]), tuple(raw["tensors"]), raw["variadic"])


def op_names() -> list[str]:
    """The `op:` allow-list, sorted."""
    return sorted([*load().ops, *KSPEC_OPS])
