"""Export: the JSON Schema of the spec language (Pydantic models + Keras catalogue) for editors. Never imports keras.

`kspec schema` rewrites the checked-in copies (`schemas/kspec.schema.json` and the one shipped in the package,
`kspec schema --path`); `kspec schema --print` writes it to stdout. The schema says, where JSON Schema can, what
`kspec validate` says statically: layer types and each type's own arguments, Keras object names, exactly one of
`type/block/use/model/op`, data sources and steps. Anything may also be a `${variable}`. How each construct is
written for editors is explained in `kspec.lang.schema_catalog`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from kspec import catalog
from kspec.lang.schema_catalog import VARIABLE, Builder, case, defaults_properties, layer_defs, or_variable, ref
from kspec.lang.signatures import SIGNATURE_KEY

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: A stable name for the schema of spec format 1 (`kspec: 1`); not a download location.
SCHEMA_ID = "urn:kspec:schema:spec-1"
DEFAULT_PATH = "schemas/kspec.schema.json"
#: The editor file pattern (SchemaStore's `fileMatch`) kspec documents for specs outside `specs/` folders.
FILE_MATCH = ("*.kspec.yaml", "*.kspec.yml")
_PACKAGE_FILE = "kspec.schema.json"
#: Fields whose value is a Keras object of a catalogue kind (an identifier or `{type: Class, ...}`).
_OBJECT_FIELDS = {
    "optimizer": "optimizer",
    "d_optimizer": "optimizer",
    "g_optimizer": "optimizer",
    "loss": "loss",
    "metrics": "metric",
    "schedule": "schedule",
    "callbacks": "callback",
}
#: Kinds a field may also give per model output, `{output name: value}`.
_PER_OUTPUT = ("loss",)
_KERAS_OBJECT = {"anyOf": [{"type": "string"}, {"additionalProperties": True, "type": "object"}]}
#: A loss of the spec's `losses:` section, by name or `{type: NAME, param: number}` (which names exist is the
#: document's own data, which JSON Schema cannot refer to; `kspec validate` checks them).
_FORMULA_LOSS = {
    "anyOf": [
        {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_.-]{0,63}$", "description": "a loss of `losses:`"},
        {"type": "object", "required": ["type"], "properties": {"type": {"type": "string", "description": "its name"}},
         "additionalProperties": {"anyOf": [{"type": "number"}, VARIABLE]},
         "description": "a loss of `losses:` with parameters"},
    ]
}  # fmt: skip


def package_path() -> Path:
    """Where the installed package keeps its copy of the schema."""
    return Path(str(resources.files("kspec.lang").joinpath(_PACKAGE_FILE)))


def _objects(schema: Any, kind: str, builder: Builder) -> Any:
    """Replace the generic `str | dict` of a Keras-object field with the catalogue's schema of `kind`."""
    if isinstance(schema, dict):
        alts = schema.get("anyOf", [])
        if all(a in alts for a in _KERAS_OBJECT["anyOf"]):
            rest = [a for a in alts if a not in _KERAS_OBJECT["anyOf"]]
            core: dict[str, Any] = ref(builder.object_kind(kind))
            if kind in _PER_OUTPUT:  # also {output name: value} for a model with several outputs
                per_output = {"type": "object", "additionalProperties": core, "description": "one per output name"}
                core = {"if": {"type": "object", "not": {"required": ["type"]}}, "then": per_output, "else": core}
            return {**{k: v for k, v in schema.items() if k != "anyOf"}, **({"anyOf": [core, *rest]} if rest else core)}
        return {k: _objects(v, kind, builder) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_objects(v, kind, builder) for v in schema]
    return schema


def _cases(schema: Any) -> Any:
    """Pydantic's discriminated unions (`oneOf` + `discriminator`) as `if`/`then` cases; `str | union` the same."""
    if isinstance(schema, list):
        return [_cases(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {k: _cases(v) for k, v in schema.items()}
    disc = schema.get("discriminator")
    if isinstance(disc, dict) and "propertyName" in disc and "oneOf" in schema:
        schema.pop("discriminator")
        key, mapping = disc["propertyName"], disc["mapping"]
        schema.pop("oneOf")
        schema.update(
            type="object",
            required=[key],
            properties={key: {"enum": sorted(mapping), "description": "which kind (the discriminating key)"}},
            allOf=[case(key, [k], {"$ref": v}) for k, v in sorted(mapping.items())],
        )
    alts = schema.get("anyOf")
    if isinstance(alts, list) and {"type": "null"} in alts and len(alts) > 1:
        rest = [a for a in alts if a != {"type": "null"}]
        schema.pop("anyOf")
        schema.update({"if": {"type": "null"}, "else": rest[0] if len(rest) == 1 else {"anyOf": rest}})
        return schema
    if isinstance(alts, list) and len(alts) == 2 and alts[0].get("type") == "string" and "allOf" in alts[1]:
        schema.pop("anyOf")
        schema.update({"if": {"type": "object"}, "then": alts[1], "else": alts[0]})
    return schema


def _takes_variable(schema: Mapping[str, Any]) -> bool:
    """True when `schema` already accepts a `${variable}` string (or cannot tell, as for a `const` tag)."""
    if not schema or "const" in schema or str(schema.get("$ref", "")).startswith("#/$defs/kspec."):
        return True
    if schema.get("if") == VARIABLE:
        return True
    if schema.get("type") == "string" and not {"pattern", "enum", "format", "maxLength"} & schema.keys():
        return True
    return any(_takes_variable(s) for s in schema.get("anyOf", ()))


def _allow_variables(schema: dict[str, Any]) -> None:
    """Let every value below `schema` also be a `${variable}`: they are substituted before the spec is parsed."""
    props = schema.get("properties", {})
    for key, sub in props.items():
        if key != "type" or "const" not in sub:
            props[key] = _with_variable(sub)
    for key in ("items", "additionalProperties", "then", "else"):
        if isinstance(schema.get(key), dict):
            schema[key] = _with_variable(schema[key])
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, ()):
            _allow_variables(sub)


def _with_variable(schema: dict[str, Any]) -> dict[str, Any]:
    _allow_variables(schema)
    if _takes_variable(schema):
        return schema
    meta = {k: schema.pop(k) for k in ("description", "title", "default") if k in schema}
    return or_variable(schema, **meta)


def _describe(schema: Any, owner_doc: str = "") -> None:
    """Give every property without a description one from its name, value type and default (editors show it)."""
    if isinstance(schema, list):
        for v in schema:
            _describe(v, owner_doc)
        return
    if not isinstance(schema, dict):
        return
    doc = schema.get("description", owner_doc)
    for key, sub in schema.get("properties", {}).items():
        if isinstance(sub, dict) and "description" not in sub:
            if "const" in sub:
                sub["description"] = (doc.splitlines() or [f"`{sub['const']}`"])[0]
            else:
                default = f"; default {json.dumps(sub['default'])}" if sub.get("default") is not None else ""
                sub["description"] = f"{key.replace('_', ' ')} ({_type_words(sub)}{default})"
    for key, sub in schema.items():
        if key not in ("if", "properties"):
            _describe(sub, doc)
    for sub in schema.get("properties", {}).values():
        _describe(sub, "")


def _type_words(schema: Mapping[str, Any]) -> str:
    words = {"integer": "integer", "number": "number", "string": "text", "boolean": "true/false", "array": "list",
             "object": "mapping", "null": "null"}  # fmt: skip
    found: list[str] = []

    def collect(s: Any) -> None:
        if isinstance(s, dict):
            t = s.get("type")
            for name in [t] if isinstance(t, str) else (t or []):
                if words.get(name) and words[name] not in found:
                    found.append(words[name])
            if "enum" in s:
                found.append("one of " + ", ".join(map(str, s["enum"])))
            for k in ("else", "then", "items"):
                collect(s.get(k))
            for alt in s.get("anyOf", []):
                collect(alt)

    collect(schema)
    return " or ".join(found) or "any value"


def generate() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec document, with layer types and arguments from the catalogue."""
    from kspec.lang.spec import Spec

    builder = Builder()
    schema = Spec.model_json_schema()
    defs = schema.setdefault("$defs", {})
    for owner in (schema, *defs.values()):
        for key, sub in owner.get("properties", {}).items():
            if key in _OBJECT_FIELDS:
                owner["properties"][key] = _objects(sub, _OBJECT_FIELDS[key], builder)
    schema = _cases(schema)
    _describe(schema)
    defs = schema["$defs"]
    for sub in (schema, *defs.values()):
        _allow_variables(sub)
    entry = defs.pop("LayerEntry")
    defs.update(layer_defs(builder, entry["properties"], entry.get("description", "")))
    defs.update(builder.defs)
    text = json.dumps(schema).replace('"#/$defs/LayerEntry"', '"#/$defs/kspec.layer_entry"')
    schema = dict(json.loads(text))
    defaults = schema["properties"].get("defaults")
    if defaults is not None:
        target = defaults.get("else", defaults)
        target["properties"] = defaults_properties()
    _block_signatures(schema)
    _formula_losses(schema, builder)
    schema["$schema"] = DRAFT
    schema["$id"] = SCHEMA_ID
    schema["$comment"] = f"generated by `kspec schema` from kspec's catalogue of Keras {catalog.load().keras_version}"
    return schema


def _formula_losses(schema: dict[str, Any], builder: Builder) -> None:
    """`train.loss` and `train.metrics` may also name a loss of `losses:`; a document without a `losses:` section
    keeps the strict schema, so a misspelt Keras loss or metric is still flagged in the editor."""
    train = schema["$defs"]["TrainSpec"]["properties"]
    strict = {key: train[key] for key in ("loss", "metrics")}
    for key, kind in (("loss", "loss"), ("metrics", "metric")):
        core = json.dumps(ref(builder.object_kind(kind)))
        either = json.dumps({"anyOf": [json.loads(core), _FORMULA_LOSS]})
        train[key] = json.loads(json.dumps(strict[key]).replace(core, either))
    schema["if"] = {"not": {"required": ["losses"]}}
    schema["then"] = {"properties": {"train": {"description": "without `losses:`, Keras's losses and metrics",
                                               "properties": strict}}}  # fmt: skip


def _block_signatures(schema: dict[str, Any]) -> None:
    """Blocks written as signatures, `stage(filters, strides=2): [layers]` (see `kspec.lang.signatures`)."""
    blocks = schema["properties"]["blocks"]
    target = blocks.get("else", blocks)
    layers = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/BlockLayerEntry"}}
    long_form = {"$ref": "#/$defs/BlockSpec", "not": {"required": ["params"]}}
    target["patternProperties"] = {
        SIGNATURE_KEY: {
            "description": "a block as a signature: parameters in its name (no default: required), layers as value",
            "anyOf": [layers, long_form],
        }
    }


def dumps(schema: Mapping[str, Any]) -> str:
    """Deterministic text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write(path: str | Path = DEFAULT_PATH, *, package_copy: bool = False) -> Path:
    """Write the schema to `path` (parent folders are created), and to the package's copy if asked; return `path`."""
    text = dumps(generate())
    target = Path(path)
    for out in (target, *([package_path()] if package_copy else [])):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    if package_copy:  # the package's prebuilt validator of `Spec`, from the same models, and the compact catalogue
        from kspec.catalog import entries
        from kspec.lang import prebuilt

        prebuilt.write()
        entries.write_compact()
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: `python -m kspec.lang.schema [-o PATH]`."""
    parser = argparse.ArgumentParser(prog="python -m kspec.lang.schema", description="write the kspec JSON Schema")
    parser.add_argument("-o", "--output", default=DEFAULT_PATH, help=f"where to write it (default: {DEFAULT_PATH})")
    args = parser.parse_args(argv)
    print(f"wrote {write(args.output, package_copy=args.output == DEFAULT_PATH)}")
    return 0


__all__ = ["DRAFT", "FILE_MATCH", "SCHEMA_ID", "VARIABLE", "dumps", "generate", "package_path", "write"]

if __name__ == "__main__":
    sys.exit(main())
