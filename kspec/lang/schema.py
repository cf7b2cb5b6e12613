"""Export: the JSON Schema of the spec language (Pydantic models + Keras catalogue) for editors. Never imports keras.

`python -m kspec.schema [-o schemas/kspec.schema.json]` (or `kspec schema`) rewrites the checked-in file. The schema is
permissive where kspec is strict: unknown layer arguments are left to `kspec validate`, and any value may be a
`${variable}`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kspec import catalog
from kspec.catalog import ParamInfo

DRAFT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_PATH = "schemas/kspec.schema.json"
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


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _ci_pattern(choices: Iterable[str]) -> str:
    """A case-insensitive regex for `choices` (JSON Schema patterns have no flags)."""
    alts = ("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in w) for w in choices)
    return "^(" + "|".join(alts) + ")$"


class _Builder:
    """Collects shared `$defs` (one per kind, object kind and layer) while translating catalogue entries."""

    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}
        self.kinds: dict[str, str] = {}

    def kind(self, p: ParamInfo) -> dict[str, Any] | None:
        """The core schema of a parameter's kind (no variables, no null); None for `any`."""
        if p.kind in catalog.OBJECT_KINDS:
            return _ref(self.object_kind(p.kind))
        if p.kind == "learning_rate":
            return {"anyOf": [{"type": "number"}, _ref(self.object_kind("schedule"))]}
        if p.kind == "layer":
            return _ref("kspec.layer")
        if p.kind == "layers":
            return {"type": "array", "items": _ref("kspec.layer")}
        if p.kind == "enum":
            return {"anyOf": [{"enum": list(p.choices)}, {"type": "string", "pattern": _ci_pattern(p.choices)}]}
        if p.kind == "dtype":
            return {"anyOf": [{"enum": sorted(catalog.load().dtypes)}, {"type": "object"}]}
        if p.kind in ("int", "number"):
            bounds = {k: v for k, v in (("minimum", p.minimum), ("maximum", p.maximum)) if v is not None}
            return {"type": "integer" if p.kind == "int" else "number", **bounds}
        return _PLAIN.get(p.kind)

    def param(self, p: ParamInfo) -> dict[str, Any]:
        """A parameter: a `$ref` to its kind (shared by every parameter of that kind), description and default."""
        schema: dict[str, Any] = {}
        core = self.kind(p)
        if core is not None:
            variant = json.dumps([core, p.nullable], sort_keys=True)
            name = self.kinds.get(variant)
            if name is None:
                label = p.kind + ("." + "-".join(p.choices) if p.choices else "")
                label += "".join(f".{k}{v:g}" for k, v in (("min", p.minimum), ("max", p.maximum)) if v is not None)
                name = self.kinds[variant] = f"kspec.kind.{label}" + (".nullable" if p.nullable else "")
                self.defs[name] = {"anyOf": [core, _ref("kspec.variable"), *([_NULL] if p.nullable else [])]}
            schema["$ref"] = f"#/$defs/{name}"
        if p.doc:
            schema["description"] = p.doc
        if p.has_default:
            schema["default"] = p.default
        return schema

    def params(self, params: Mapping[str, ParamInfo], doc: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {"properties": {n: self.param(p) for n, p in params.items()}}
        if doc:
            out["description"] = doc
        return out

    def object_kind(self, kind: str) -> str:
        name = f"kspec.{kind}"
        if name not in self.defs:
            self.defs[name] = {}  # placeholder: schedules refer to themselves through optimizers
            table = catalog.load().objects[kind]
            cases = []
            for cls in sorted(table["classes"]):
                info = catalog.object_info(kind, cls)
                assert info is not None
                names = [cls, *sorted(a for a, c in table["aliases"].items() if c == cls)]
                cases.append(_case("type", names, self.params(info.params, info.doc)))
            mapping: dict[str, Any] = {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": catalog.object_names(kind)}},
            }
            if cases:
                mapping["allOf"] = cases
            self.defs[name] = {"anyOf": [{"enum": sorted(table["names"])}, mapping]}
        return name


def _case(key: str, values: list[str], then: dict[str, Any]) -> dict[str, Any]:
    match = {"const": values[0]} if len(values) == 1 else {"enum": values}
    return {"if": {"properties": {key: match}, "required": [key]}, "then": then}


def _layer_defs(builder: _Builder) -> dict[str, Any]:
    cat = catalog.load()
    defs: dict[str, Any] = {}
    cases = []
    for name in catalog.layer_names():
        info = catalog.layer_info(name)
        assert info is not None
        defs[f"kspec.layer.{name}"] = builder.params(info.params, info.doc)
        names = [name, *sorted(a for a, c in cat.aliases.items() if c == name)]
        cases.append(_case("type", names, _ref(f"kspec.layer.{name}")))
    type_names = {"enum": catalog.layer_names(aliases=True)}
    plugin = {"type": "string", "pattern": catalog.PLUGIN_PATTERN}
    defs["kspec.layer_type"] = {"anyOf": [type_names, plugin, _ref("kspec.variable")]}
    defs["kspec.variable"] = {**VARIABLE, "description": "a `${variable}` of `vars:` or a block parameter"}
    defs["kspec.layer_args"] = {"allOf": cases}
    defs["kspec.layer"] = {
        "description": "a Keras layer: `{type: LSTM, units: 8}` or a bare type name",
        "anyOf": [
            _ref("kspec.layer_type"),
            {"type": "object", "required": ["type"], "properties": {"type": _ref("kspec.layer_type")},
             "allOf": [_ref("kspec.layer_args")]},
        ],
    }  # fmt: skip
    op_cases = []
    for op in catalog.op_names():
        op_info = catalog.op_info(op)
        assert op_info is not None
        op_cases.append(_case("op", [op], builder.params(op_info.params, op_info.doc)))
    defs["kspec.op_args"] = {"allOf": op_cases}
    return defs


def _takes_variable(schema: Mapping[str, Any]) -> bool:
    """True when `schema` already accepts a `${variable}` string (or cannot tell, as for a `const` tag)."""
    if not schema or "const" in schema or schema.get("$ref") == "#/$defs/kspec.variable":
        return True
    if schema.get("type") == "string" and not {"pattern", "enum", "format", "maxLength"} & schema.keys():
        return True
    return any(_takes_variable(s) for s in schema.get("anyOf", ()))


def _allow_variables(schema: dict[str, Any]) -> None:
    """Let every value below `schema` also be a `${variable}`: they are substituted before the spec is parsed."""
    props = schema.get("properties", {})
    for key, sub in props.items():
        props[key] = _with_variable(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            schema[key] = _with_variable(schema[key])
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, ()):
            _allow_variables(sub)


def _with_variable(schema: dict[str, Any]) -> dict[str, Any]:
    _allow_variables(schema)
    if _takes_variable(schema):
        return schema
    meta: dict[str, Any] = {k: schema.pop(k) for k in ("description", "title", "default") if k in schema}
    return {**meta, "anyOf": [schema, _ref("kspec.variable")]}


def generate() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec document, with layer types and arguments from the catalogue."""
    from kspec.lang.spec import Spec

    schema = Spec.model_json_schema()
    defs = schema.setdefault("$defs", {})
    for sub in (schema, *defs.values()):
        _allow_variables(sub)
    builder = _Builder()
    defs.update(_layer_defs(builder))
    defs.update(builder.defs)
    entry = defs["LayerEntry"]
    props = entry["properties"]
    props["type"] = {**props["type"], "anyOf": [_ref("kspec.layer_type"), _NULL]}
    props["op"] = {**props["op"], "anyOf": [{"enum": catalog.op_names()}, _ref("kspec.variable"), _NULL]}
    entry["allOf"] = [*entry.get("allOf", []), _ref("kspec.layer_args"), _ref("kspec.op_args")]
    defaults = schema["properties"].get("defaults")
    if defaults is not None:
        defaults["properties"] = {
            n: _ref(f"kspec.layer.{catalog.canonical_layer(n)}") for n in catalog.layer_names(aliases=True)
        }
    schema["$schema"] = DRAFT
    schema["$comment"] = f"generated by `kspec schema` from kspec's catalogue of Keras {catalog.load().keras_version}"
    return schema


def dumps(schema: Mapping[str, Any]) -> str:
    """Deterministic text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write(path: str | Path = DEFAULT_PATH) -> Path:
    """Write the schema to `path` (parent folders are created) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dumps(generate()), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: `python -m kspec.schema [-o PATH]`."""
    parser = argparse.ArgumentParser(prog="python -m kspec.schema", description="write the kspec JSON Schema")
    parser.add_argument("-o", "--output", default=DEFAULT_PATH, help=f"where to write it (default: {DEFAULT_PATH})")
    print(f"wrote {write(parser.parse_args(argv).output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
