"""The catalogue half of the JSON Schema: layer entries, layer arguments, Keras objects and ops. Never imports keras.

Every choice here is made for what editors (yaml-language-server) and `check-jsonschema` report, measured by
tests/lang/test_schema_editor.py:

- Alternatives are told apart with `if`/`then` on their discriminating key, never with `anyOf`/`oneOf` of
  alternatives, so an error is reported by the one alternative that applies (no "best match" guessing).
- `if` matches a name with an anchored `pattern`, not `const`/`enum`: while completing, yaml-language-server takes
  a `const` as matched by every value it starts with (`Dense` would pull in `DenseNet121`'s arguments).
- The list of valid names sits in an `else` branch, so hovering a valid name shows its documentation rather
  than every name.
- A `${variable}` is accepted by an `if` in front of the real schema (`if variable else real`), again so the real
  schema alone reports the error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from kspec import catalog
from kspec.catalog import ParamInfo
from kspec.catalog.calls import LAYER_ALIASES

VARIABLE = {"type": "string", "pattern": r"\$\{[A-Za-z_]\w*\}"}
_NULL = {"type": "null"}
_INT = {"type": "integer"}
_INTS = {"type": "array", "items": {"anyOf": [_INT, {"type": "array", "items": _INT}]}}
_PLAIN: dict[str, dict[str, Any]] = {
    "bool": {"type": "boolean"},
    "str": {"type": "string"},
    "list": {"type": "array"},
    "int_or_tuple": {"anyOf": [_INT, _INTS]},
    "tensor": {"anyOf": [{"type": "number"}, {"type": "array"}]},
}
#: Keras's base-layer keyword arguments, which the layer docstrings do not describe.
_BASE_DOCS = {
    "name": "the Keras layer name (default: a snake_case name derived from the class)",
    "trainable": "whether the layer's weights are updated in training",
    "dtype": "the layer's dtype policy, e.g. float32 or mixed_float16",
    "autocast": "cast floating-point inputs to the layer's compute dtype",
    "activity_regularizer": "regularizer applied to the layer's output",
    "input_shape": "Keras 2 spelling; declare shapes under the model's `inputs:`",
}
_KIND_WORDS = {"int": "integer", "number": "number", "bool": "boolean", "str": "string",
               "int_or_tuple": "integer or list"}  # fmt: skip


class _NoDoc:
    doc = ""


_NO_DOC = _NoDoc()


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def name_pattern(names: Iterable[str]) -> str:
    """An anchored pattern matching exactly `names`."""
    return "^(" + "|".join(re.escape(n) for n in names) + ")$"


def ci_pattern(choices: Iterable[str]) -> str:
    """A case-insensitive regex for `choices` (JSON Schema patterns have no flags)."""
    alts = ("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in w) for w in choices)
    return "^(" + "|".join(alts) + ")$"


def or_variable(core: Mapping[str, Any], **meta: Any) -> dict[str, Any]:
    """`core`, or a string holding a `${variable}` (substituted before the spec is parsed).

    The names `core` enumerates are repeated as `defaultSnippets`: yaml-language-server completes a value from the
    property's own schema (and its `anyOf`/`allOf`), not from `if`/`else` branches.
    """
    snippets = meta.pop("snippets", None) or snippets_for(enumerated(core))
    return {**meta, **({"defaultSnippets": snippets} if snippets else {}), "if": VARIABLE, "else": dict(core)}


def enumerated(schema: Any) -> list[Any]:
    """The values an `enum` of `schema` lists, looking through `if`/`then`/`else` and `anyOf` (not `$ref`)."""
    if not isinstance(schema, dict):
        return []
    found = list(schema.get("enum", []))
    for key in ("then", "else"):
        found += [v for v in enumerated(schema.get(key)) if v not in found]
    for sub in schema.get("anyOf", []):
        found += [v for v in enumerated(sub) if v not in found]
    return found


def snippets_for(names: Iterable[Any], docs: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Completion items for `names` (yaml-language-server's `defaultSnippets`), with the first line of each doc."""
    out = []
    for n in names:
        if isinstance(n, str):
            item: dict[str, Any] = {"label": n, "body": n}
            doc = (docs or {}).get(n, "")
            if doc:
                item["description"] = doc.strip().splitlines()[0]
            out.append(item)
    return out


def case(key: str, names: list[str], then: Mapping[str, Any]) -> dict[str, Any]:
    """`then` applies when the mapping's `key` is one of `names`."""
    return {"if": {"properties": {key: {"type": "string", "pattern": name_pattern(names)}}, "required": [key]},
            "then": dict(then)}  # fmt: skip


def _fallback_doc(owner: str, p: ParamInfo) -> str:
    text = _BASE_DOCS.get(p.name) or f"argument `{p.name}` of {owner}"
    word = _KIND_WORDS.get(p.kind, p.kind.replace("_", " ") if p.kind != "any" else "")
    return text + (f" ({word})" if word and p.name not in _BASE_DOCS else "")


class Builder:
    """Collects shared `$defs` (one per value kind, object kind and layer) while translating catalogue entries."""

    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}
        self.kinds: dict[str, str] = {}

    def kind(self, p: ParamInfo) -> dict[str, Any] | None:
        """The core schema of a parameter's kind (no variables, no null); None for `any`."""
        if p.kind in catalog.OBJECT_KINDS:
            return ref(self.object_kind(p.kind))
        if p.kind == "learning_rate":
            return {"anyOf": [{"type": "number"}, ref(self.object_kind("schedule"))]}
        if p.kind == "layer":
            return ref("kspec.layer")
        if p.kind == "layers":
            return {"type": "array", "items": ref("kspec.layer")}
        if p.kind == "enum":
            words = [c for c in p.choices if isinstance(c, str)]
            text = {"type": "string", "if": {"pattern": ci_pattern(words)}, "else": {"enum": words}}
            if not p.ignore_case:
                text = {"type": "string", "enum": words}
            flags = [c for c in p.choices if isinstance(c, bool)]
            return {"anyOf": [text, {"enum": flags}]} if flags else text
        if p.kind == "dtype":
            return {"anyOf": [{"enum": sorted(catalog.load().dtypes)}, {"type": "object"}]}
        if p.kind in ("int", "number"):
            bounds = {k: v for k, v in (("minimum", p.minimum), ("maximum", p.maximum)) if v is not None}
            return {"type": "integer" if p.kind == "int" else "number", **bounds}
        return _PLAIN.get(p.kind)

    def param(self, p: ParamInfo, owner: str) -> dict[str, Any]:
        """A parameter: a `$ref` to its kind (shared by every parameter of that kind), description and default."""
        schema: dict[str, Any] = {"description": p.doc or _fallback_doc(owner, p)}
        core = self.kind(p)
        if core is not None:
            variant = json.dumps([core, p.nullable], sort_keys=True)
            name = self.kinds.get(variant)
            if name is None:
                label = p.kind + ("." + "-".join(str(c).lower() for c in p.choices) if p.choices else "")
                label += ".exact" if p.kind == "enum" and not p.ignore_case else ""  # its case matters
                label += "".join(f".{k}{v:g}" for k, v in (("min", p.minimum), ("max", p.maximum)) if v is not None)
                name = self.kinds[variant] = f"kspec.kind.{label}" + (".nullable" if p.nullable else "")
                self.defs[name] = or_variable({"if": _NULL, "else": core} if p.nullable else core)
                if "$ref" in core and "defaultSnippets" not in self.defs[name]:
                    target = self.defs.get(core["$ref"].rsplit("/", 1)[1], {})
                    if target.get("defaultSnippets"):
                        self.defs[name]["defaultSnippets"] = target["defaultSnippets"]
            schema["$ref"] = f"#/$defs/{name}"
        if p.has_default:
            schema["default"] = p.default
        return schema

    def params(self, params: Mapping[str, ParamInfo], owner: str, doc: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {"properties": {n: self.param(p, owner) for n, p in params.items()}}
        if doc:
            out["description"] = doc
        return out

    def object_kind(self, kind: str) -> str:
        """`kspec.<kind>`: an identifier string (enumerated) or `{type: Class, ...arguments of Class}`."""
        name = f"kspec.{kind}"
        if name in self.defs:
            return name
        self.defs[name] = {}  # placeholder: schedules refer to themselves through optimizers
        table = catalog.load().objects[kind]
        cases = []
        for cls in sorted(table["classes"]):
            info = catalog.object_info(kind, cls)
            assert info is not None
            names = [cls, *sorted(a for a, c in table["aliases"].items() if c == cls)]
            then = self.params(info.params, cls, info.doc)
            then["properties"]["type"] = {"title": cls, "description": info.doc or f"the {kind} class {cls}"}
            cases.append(case("type", names, {**then, "additionalProperties": False}))
        names = catalog.object_names(kind)
        label = kind.replace("_", " ")
        mapping: dict[str, Any] = {
            "type": "object",
            "required": ["type"],
            "properties": {"type": or_variable({"enum": names}, description=f"the {label} class")},
        }
        if cases:
            mapping["allOf"] = cases
        docs = {n: (catalog.object_info(kind, n) or _NO_DOC).doc for n in names}
        self.defs[name] = or_variable(
            {"if": {"type": "object"}, "then": mapping, "else": {"enum": names}},
            description=f"a Keras {label}: a name such as {names[0]} or `{{type: ClassName, ...arguments}}`",
            snippets=snippets_for(names, docs),
        )
        return name


def layer_defs(builder: Builder, entry_props: Mapping[str, Any], entry_doc: str) -> dict[str, Any]:
    """Layer arguments per type, the layer entry with one branch per kind (`type`, `op`, `block`, ...), ops."""
    cat = catalog.load()
    defs: dict[str, Any] = {}
    structural = {k: True for k in ("type", "name", "inputs", "call", "repeat")}
    type_cases = []
    for name in catalog.layer_names():
        info = catalog.layer_info(name)
        assert info is not None
        doc = info.doc or f"the Keras layer {name}"
        defs[f"kspec.layer.{name}"] = builder.params(info.params, name, doc)
        defs[f"kspec.layer_entry.{name}"] = {
            "$ref": f"#/$defs/kspec.layer.{name}",
            "properties": {**structural, "type": {"title": name, "description": doc}},
            "unevaluatedProperties": False,
        }
        aliases = {**cat.aliases, **LAYER_ALIASES}
        names = [name, *sorted(a for a, c in aliases.items() if c == name)]
        type_cases.append(case("type", names, ref(f"kspec.layer_entry.{name}")))
    all_names = catalog.layer_names(aliases=True)
    known = "|".join([name_pattern(all_names), catalog.PLUGIN_PATTERN, VARIABLE["pattern"]])
    docs = {n: (catalog.layer_info(n) or _NO_DOC).doc for n in all_names}
    defs["kspec.layer_type"] = {
        "description": entry_props["type"].get("description", "Keras layer class"),
        "defaultSnippets": snippets_for(all_names, docs),
        "if": {"type": "string", "pattern": known},
        "else": {"enum": all_names},
    }
    defs["kspec.variable"] = {**VARIABLE, "description": "a `${variable}` of `vars:` or a block parameter"}
    common = {k: entry_props[k] for k in ("name", "inputs", "call", "repeat")}
    defs["kspec.typed_entry"] = {  # the type's own case first: hover shows the first description it finds
        "properties": common,
        "allOf": [*type_cases, {"properties": {"type": ref("kspec.layer_type")}}],
    }
    op_cases = []
    op_docs = {op: (catalog.op_info(op) or _NO_DOC).doc for op in catalog.op_names()}
    for op in catalog.op_names():
        op_info = catalog.op_info(op)
        assert op_info is not None
        then = builder.params(op_info.params, f"op {op}", op_info.doc)
        then["properties"].update({**structural, "op": {"title": op, "description": op_info.doc or op}})
        op_cases.append(case("op", [op], {**then, "additionalProperties": False}))
    defs["kspec.op_entry"] = {
        "properties": {
            "op": or_variable(
                {"enum": catalog.op_names()},
                **_meta(entry_props["op"]),
                snippets=snippets_for(catalog.op_names(), op_docs),
            ),
            **common,
        },
        "allOf": op_cases,
    }
    kinds = ("type", "block", "use", "model", "op")
    other = {k: entry_props[k] for k in kinds if k not in ("type", "op")}
    branches = [{"if": {"type": "object", "required": ["type"]}, "then": ref("kspec.typed_entry")},
                {"if": {"type": "object", "required": ["op"]}, "then": ref("kspec.op_entry")}]  # fmt: skip
    for k in other:
        branches.append({"if": {"type": "object", "required": [k]}, "then": {"properties": {k: other[k], **common}}})
    none_given = {"not": {"type": "object", "anyOf": [{"required": [k]} for k in kinds]}}
    branches.append({"if": none_given, "then": {"properties": {k: _meta(entry_props[k]) for k in kinds} | common}})
    defs["kspec.layer_entry"] = {
        "type": "object",
        "description": entry_doc,
        "oneOf": [{"required": [k]} for k in kinds],
        "allOf": branches,
    }
    defs["kspec.layer"] = {
        "description": "a Keras layer: `{type: LSTM, units: 8}` or a bare type name",
        "if": {"type": "object"},
        "then": {"required": ["type"], "$ref": "#/$defs/kspec.typed_entry"},
        "else": ref("kspec.layer_type"),
    }
    return defs


def _meta(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Only the documentation of a property (for completion where its value is not known yet)."""
    return {k: schema[k] for k in ("title", "description") if k in schema}


def defaults_properties() -> dict[str, Any]:
    """`defaults:`: per layer type, that layer's arguments and no others."""
    out = {}
    for n in catalog.layer_names(aliases=True):
        info = catalog.layer_info(n)
        assert info is not None
        out[n] = {"$ref": f"#/$defs/kspec.layer.{info.name}", "unevaluatedProperties": False,
                  "description": f"default arguments of every {n} layer"}  # fmt: skip
    return out
