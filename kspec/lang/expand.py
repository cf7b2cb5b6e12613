"""Stage 1b, expand: apply `--set` overrides and substitute `${var}` variables in the plain document data.

Paths are unchanged by both steps, so positions recorded by the loader stay valid. Imports kspec only.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kspec.errors import SET_SOURCE, Path, SpecError, SpecErrors, did_you_mean, shorten

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
                    file=SET_SOURCE,
                    hint="e.g. --set train.epochs=3",
                )
            ]
        )
    try:
        value = parse_text(raw, SET_SOURCE).data if raw.strip() else ""
    except SpecErrors as exc:
        raise SpecErrors([replace(e, notes=[*e.notes, f"in --set {shorten(text)}"]) for e in exc.errors]) from None
    return parse_path(key), value


def parse_path(text: str) -> Path:
    """`"model.layers[0].units"` -> `("model", "layers", 0, "units")` (as `--set` and `search.space` write them)."""
    path: list[str | int] = []
    for name, index in _SEGMENT.findall(text.strip()):
        path.append(int(index) if index else int(name) if name.isdigit() else name)
    return tuple(path)


@dataclass
class Overrides:
    """The outcome of applying `--set` overrides: the changed data, which override set each path, and the errors of
    those that could not be applied (the others still are, so the spec's own errors are found too)."""

    data: Any
    sources: dict[Path, str] = field(default_factory=dict)
    errors: list[SpecError] = field(default_factory=list)


def apply_overrides(data: Any, overrides: Sequence[str]) -> Overrides:
    """Apply `--set path=value` overrides in order; the parent of each path must exist, and a variable must be one
    the spec defines under `vars:` (a misspelt name would otherwise be a new variable nothing uses)."""
    out = Overrides(data)
    for text in overrides:
        try:
            path, value = parse_override(text)
        except SpecErrors as exc:
            out.errors += exc.errors
            continue
        problem = _unknown_variable(data, text, path)
        if problem is not None:
            out.errors.append(problem)
            continue
        parent = data
        for depth, key in enumerate(path[:-1]):
            child = _child(parent, key)
            if child is None:
                out.errors.append(_missing(text, path[: depth + 1], parent))
                break
            parent = child
        else:
            last = path[-1]
            if isinstance(parent, dict) and isinstance(last, str):
                parent[last] = value
            elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
                parent[last] = value
            else:
                out.errors.append(_missing(text, path, parent))
                continue
            out.sources[path] = text
    return out


def _unknown_variable(data: Any, text: str, path: Path) -> SpecError | None:
    """`--set vars.NAME=...` where the spec defines no variable NAME."""
    env = data.get("vars") if isinstance(data, dict) else None
    if len(path) != 2 or path[0] != "vars" or not isinstance(env, dict) or path[1] in env:
        return None
    name = str(path[1])
    return SpecError(
        f"override {shorten(text)}: the spec has no variable '{name}'",
        path,
        "bad-override",
        file=SET_SOURCE,
        hint=did_you_mean(name, env) or (f"its variables: {', '.join(env)}" if env else "the spec's `vars:` is empty"),
    )


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, dict) and isinstance(key, str):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and key < len(node):
        return node[key]
    return None


def _missing(text: str, path: Path, parent: Any) -> SpecError:
    """The override's path leaves the spec at `path[-1]`, a key or index `parent` does not have."""
    from kspec.errors import format_path

    hint = None
    if isinstance(parent, dict) and isinstance(path[-1], str):
        hint = did_you_mean(path[-1], [str(k) for k in parent])
    elif isinstance(parent, list):
        hint = f"the list has {len(parent)} item(s), [0] to [{len(parent) - 1}]" if parent else "the list is empty"
    return SpecError(
        f"override {shorten(text)}: the spec has nothing at '{format_path(path)}'",
        path,
        "bad-override",
        file=SET_SOURCE,
        hint=hint or "overrides may change or add a key of an existing mapping",
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
        return {k: v if _constant(v) else substitute(v, env, (*path, k), errors) for k, v in value.items()}
    if isinstance(value, list):
        return [v if _constant(v) else substitute(v, env, (*path, i), errors) for i, v in enumerate(value)]
    return value


def _constant(value: Any) -> bool:
    """A value `substitute` returns as it is: not a mapping or list, and no `${` in it (saves a call and a path)."""
    if isinstance(value, str):
        return "${" not in value
    return not isinstance(value, dict | list)


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
    """Names of the variables `value` refers to, in document order."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "${" in item:
                yield from _VAR.findall(item)
        elif isinstance(item, dict):
            stack.extend(reversed(item.values()))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def unused_variables(data: Any, aliased: Collection[Path] = ()) -> list[SpecError]:
    """A warning for each `vars:` entry that nothing in the spec refers to (blocks included); `aliased` are the
    paths YAML aliases repeat, so an entry that only holds an anchor (`base: &base {...}`) counts as used."""
    env = data.get("vars") if isinstance(data, dict) else None
    if not isinstance(env, dict):
        return []
    used = set(variables_in({k: v for k, v in data.items() if k != "vars"}))
    return [
        SpecError(
            f"variable '{name}' is defined but never used",
            ("vars", name),
            "unused-variable",
            hint=f"refer to it as ${{{name}}}, or remove it",
            severity="warning",
        )
        for name in env
        if name not in used and ("vars", name) not in aliased
    ]
