"""Stage 1b, expand: apply `--set` overrides and substitute `${var}` variables in the plain document data.

Paths are unchanged by both steps, so positions recorded by the loader stay valid. Imports kspec only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kspec.errors import Path, SpecError, SpecErrors, did_you_mean, shorten

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_override(text: str) -> tuple[Path, Any]:
    """`"train.epochs=3"` -> `(("train", "epochs"), 3)`; the value is read as YAML (`1e-3` is a float)."""
    from kspec.lang.loader import parse_text

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise SpecErrors(
            [
                SpecError(
                    f"override {shorten(text)} is not of the form path=value",
                    (),
                    "bad-override",
                    file="<--set>",
                    hint="e.g. --set train.epochs=3",
                )
            ]
        )
    path: list[str | int] = []
    for name, index in _SEGMENT.findall(key.strip()):
        path.append(int(index) if index else int(name) if name.isdigit() else name)
    value = parse_text(raw, "<--set>").data if raw.strip() else ""
    return tuple(path), value


def apply_overrides(data: Any, overrides: Sequence[str]) -> Any:
    """Apply `--set path=value` overrides in order; the parent of each path must exist."""
    errors = []
    for text in overrides:
        path, value = parse_override(text)
        parent = data
        for depth, key in enumerate(path[:-1]):
            parent = _child(parent, key)
            if parent is None:
                errors.append(_missing(text, path[: depth + 1]))
                break
        else:
            last = path[-1]
            if isinstance(parent, dict) and isinstance(last, str):
                parent[last] = value
            elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
                parent[last] = value
            else:
                errors.append(_missing(text, path))
    if errors:
        raise SpecErrors(errors)
    return data


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, dict) and isinstance(key, str):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and key < len(node):
        return node[key]
    return None


def _missing(text: str, path: Path) -> SpecError:
    from kspec.errors import format_path

    return SpecError(
        f"override {shorten(text)}: the spec has nothing at '{format_path(path)}'",
        path,
        "bad-override",
        file="<--set>",
        hint="overrides may change or add a key of an existing mapping",
    )


def substitute(value: Any, env: Mapping[str, Any], path: Path, errors: list[SpecError]) -> Any:
    """`value` with every `${name}` replaced from `env`; a whole-string `${name}` keeps the variable's type."""
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole:
            name = whole.group(1)
            if name in env:
                return env[name]
            errors.append(_unknown(name, env, path))
            return value

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                errors.append(_unknown(name, env, path))
                return match.group(0)
            return str(env[name])

        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: substitute(v, env, (*path, k), errors) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, env, (*path, i), errors) for i, v in enumerate(value)]
    return value


def _unknown(name: str, env: Mapping[str, Any], path: Path) -> SpecError:
    hint = did_you_mean(name, env) or ("define it under `vars:`" if not env else f"known: {', '.join(sorted(env))}")
    return SpecError(f"unknown variable '${{{name}}}'", path, "unknown-variable", hint=hint)


def expand_document(data: Any) -> Any:
    """Substitute `vars:` everywhere except inside `blocks:` (block bodies are expanded per instance)."""
    if not isinstance(data, dict):
        return data
    env = data.get("vars") or {}
    if not isinstance(env, dict):
        return data
    errors: list[SpecError] = []
    env = substitute(env, {}, ("vars",), errors)
    out = {k: (v if k in ("blocks", "vars") else substitute(v, env, (k,), errors)) for k, v in data.items()}
    out["vars"] = env
    if errors:
        raise SpecErrors(errors)
    return out


def variables_in(value: Any) -> Iterator[str]:
    """Names of the variables `value` refers to."""
    if isinstance(value, str):
        yield from _VAR.findall(value)
    elif isinstance(value, dict):
        for v in value.values():
            yield from variables_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from variables_in(v)
