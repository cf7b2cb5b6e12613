"""Stage 2, parse: `Spec`'s Pydantic validator, prebuilt, so that a run does not make it again from the annotations.

Pydantic makes a model's validator from its type annotations: for kspec's spec models that was about a quarter of the
CPU time of `kspec validate specs/`, in every process. The models are defined with `defer_build=True`; importing
this module gives `Spec` the validator made from the core schema saved in `spec_core_schema.pickle`. `kspec schema`
writes that file beside the package's JSON Schema (`write`). It is used only when it was written from exactly the
present sources of the modules defining the models and their validators, with this Pydantic, pydantic-core and
Python; otherwise Pydantic makes the schema as before (same results, only slower). `tests/lang/test_prebuilt.py`
compares the saved schema with the one Pydantic makes now and asks for `kspec schema` when they differ.

The pickle holds the core schema: plain data, and references by module and name to kspec's own model classes and
validator functions. It is a file of the kspec package, written by kspec; a spec is never unpickled.
"""

from __future__ import annotations

import pickle
import re
import sys
import zlib
from pathlib import Path
from typing import Any

import pydantic
import pydantic_core

from kspec.lang.spec import Spec

FILE = Path(__file__).with_name("spec_core_schema.pickle")
_REFS = ("ref", "schema_ref")
_REF_ID = re.compile(r":\d+$")


def key(modules: list[str]) -> str:
    """What the saved schema depends on: the sources of the kspec modules it refers to (those defining the models
    and their validators), Pydantic's, pydantic-core's and Python's versions. Two checksums (CRC-32 and Adler-32,
    from zlib, which Python has loaded already; hashlib would load OpenSSL) and the length: this tells a file written
    for other sources from a current one, it is not a seal against tampering (the file is part of the package)."""
    crc, adler, size = 0, 1, 0
    package = Path(__file__).parents[1]
    parts = [f"{pydantic.VERSION} {pydantic_core.__version__} {sys.version_info[:2]}".encode()]
    for name in modules:
        source = package.joinpath(*name.split(".")[1:]).with_suffix(".py")
        parts.append(name.encode() + b"\0" + (source.read_bytes() if source.is_file() else b"missing"))
    for part in parts:
        crc, adler, size = zlib.crc32(part, crc), zlib.adler32(part, adler), size + len(part)
    return f"{crc:08x}{adler:08x}-{size}"


def _modules(schema: Any) -> list[str]:
    """The kspec modules whose classes and functions `schema` refers to."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif callable(item):
            module = getattr(getattr(item, "__func__", item), "__module__", "") or ""
            found.update([module] if module.startswith("kspec.") else [])
    return sorted(found)


def read(path: Path = FILE) -> tuple[Any, Any] | None:
    """The saved (core schema, core config) of `Spec`, or None when the file is missing or was written for other
    sources or versions."""
    try:
        saved = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, AttributeError, ImportError, EOFError):
        return None
    if not isinstance(saved, dict) or saved.get("key") != key(saved.get("modules", [])):
        return None
    return saved["schema"], saved["config"]


def install(path: Path = FILE) -> bool:
    """Give `Spec` its validator and serializer from the saved schema; False (nothing changed) when it is stale."""
    if Spec.__pydantic_complete__:
        return True
    saved = read(path)
    if saved is None:
        return False
    schema, config = saved
    Spec.__pydantic_core_schema__ = schema
    Spec.__pydantic_validator__ = pydantic_core.SchemaValidator(schema, config)
    Spec.__pydantic_serializer__ = pydantic_core.SchemaSerializer(schema, config)
    Spec.__pydantic_complete__ = True
    return True


def fresh() -> tuple[Any, Any]:
    """`Spec`'s core schema and core config as Pydantic makes them from the annotations now."""
    from pydantic._internal._config import ConfigWrapper  # Pydantic's own: the config it passes with the schema

    Spec.model_rebuild(force=True)
    return Spec.__pydantic_core_schema__, ConfigWrapper(Spec.model_config, check=False).core_config(title="Spec")


def _stable(value: Any) -> Any:
    """`value` with Pydantic's reference names made the same in every process (`module.Class:<id>` -> `module.Class`;
    kspec's class paths are unique), so that the file changes only when the schema does."""
    if isinstance(value, dict):
        return {k: _REF_ID.sub("", v) if k in _REFS and isinstance(v, str) else _stable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_stable(v) for v in value)
    return value


def write(path: Path = FILE) -> Path:
    """Save `Spec`'s core schema, made afresh, for `install` (run by `kspec schema`)."""
    schema, config = fresh()
    schema = _stable(schema)
    modules = _modules(schema)
    saved = {"key": key(modules), "modules": modules, "schema": schema, "config": config}
    path.write_bytes(pickle.dumps(saved, protocol=4))
    return path


install()
