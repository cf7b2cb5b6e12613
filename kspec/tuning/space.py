"""Stage 3, check: the `search:` section against the spec it searches. Pure Python: no Optuna, no Keras.

`check` is what `kspec validate` runs for a spec with a `search:` section. Each searched path must name a value of
the document (or a new key of an existing mapping), `when:` must name an earlier searched path and a value it can
take, the metric must be one the training history will hold, and every value of every space must fit the field it
replaces: the spec is checked once per probe value (each choice, each bound of a range) with that value applied, and
the errors a probe adds to the spec's own come back at the space, located.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from kspec.errors import Path, SpecError, did_you_mean, format_path, shorten
from kspec.lang.expand import parse_path
from kspec.lang.search_spec import SearchSpec, SpaceSpec

#: checks a document (plain data, before `${var}` expansion) the way `kspec validate` would: its errors, unlocated
Probe = Callable[[Any], list[SpecError]]

#: probe values per range: its two bounds; per choice list: every choice up to this many
MAX_PROBED_CHOICES = 32


class Param(NamedTuple):
    """One searched path: its key as written, the path it names and its space."""

    key: str
    path: Path
    space: SpaceSpec

    @property
    def at(self) -> Path:
        return ("search", "space", self.key)


def params(search: SearchSpec) -> list[Param]:
    """The searched paths in the order they are written (the order Optuna samples them in)."""
    return [Param(key, parse_path(key), space) for key, space in search.space.items()]


def override(key: str, value: Any) -> str:
    """A `--set` override text for a searched value (JSON is YAML 1.2, so the value reads back as itself)."""
    return f"{key}={json.dumps(value)}"


def apply(data: Any, values: Mapping[str, Any]) -> Any:
    """A copy of the document data with the searched values applied (keys: paths as written in `space:`)."""
    out = copy.deepcopy(data)
    for key, value in values.items():
        path = parse_path(key)
        parent = _at(out, path[:-1])
        last = path[-1]
        if isinstance(parent, dict) and isinstance(last, str):
            parent[last] = copy.deepcopy(value)
        elif isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
            parent[last] = copy.deepcopy(value)
        else:
            raise KeyError(key)
    return out


def probe_values(space: SpaceSpec) -> list[Any]:
    """The values a space is checked with statically: every choice (up to a bound), or both ends of a range."""
    if space.choice is not None:
        return list(space.choice[:MAX_PROBED_CHOICES])
    low, high = space.bounds
    if space.kind == "int":
        return [int(low), int(high)]
    return [float(low), float(high)]


def active(param: Param, values: Mapping[str, Any]) -> bool:
    """Whether a conditional param is searched, given the values taken so far."""
    for key, wanted in (param.space.when or {}).items():
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if key not in values or values[key] not in allowed:
            return False
    return True


def check(search: SearchSpec, source: Any, train: Any, probe: Probe) -> list[SpecError]:
    """Every problem of the `search:` section, at its document path (see the module docstring).

    Args:
        search: the parsed section.
        source: the document data after `--set`, before `${var}` expansion (what trial values are applied to).
        train: the parsed `train:` section (for the metric names), or None.
        probe: checks a changed document and returns its errors.
    """
    found: list[SpecError] = []
    all_params = params(search)
    usable = []
    for i, param in enumerate(all_params):
        problems = [*_check_path(param, source), *_check_when(param, all_params[:i])]
        found += problems
        if not problems:
            usable.append(param)
    found += list(_check_metric(search, train))
    base = {_key(e) for e in probe(source)}
    for param in usable:
        found += _check_values(param, all_params, source, base, probe)
    return found


def _key(err: SpecError) -> tuple[Path, str, str]:
    return (err.path, err.code, err.message)


def _at(data: Any, path: Path) -> Any:
    node = data
    for item in path:
        if isinstance(node, dict) and isinstance(item, str) and item in node:
            node = node[item]
        elif isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node):
            node = node[item]
        else:
            return None
    return node


def _check_path(param: Param, source: Any) -> list[SpecError]:
    path = param.path
    if not path or format_path(path) != param.key:
        return [
            SpecError(
                f"{shorten(param.key, 60)} is not a spec path",
                param.at,
                "unknown-path",
                hint="write it as for --set, e.g. vars.dropout or model.layers[0].units",
            )
        ]
    if path[0] == "search":
        return [SpecError("the search cannot change its own section", param.at, "unknown-path")]
    for depth in range(len(path) - 1):  # every parent exists
        if not _has(source, path[: depth + 1]):
            return [_no_path(param, path, depth, _at(source, path[:depth]))]
    parent, last = _at(source, path[:-1]), path[-1]
    if path[0] == "vars" and len(path) == 2 and not _has(source, path):
        return [_no_path(param, path, 1, parent)]  # a new variable: nothing could refer to it
    if isinstance(parent, dict) and isinstance(last, str):
        return []  # an existing key, or a new key of a mapping as --set allows (the probes check the field exists)
    if isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
        return []
    return [_no_path(param, path, len(path) - 1, parent)]


def _has(data: Any, path: Path) -> bool:
    parent, last = _at(data, path[:-1]), path[-1]
    if isinstance(parent, dict):
        return last in parent
    return isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent)


def _no_path(param: Param, path: Path, depth: int, parent: Any) -> SpecError:
    where = format_path(path[: depth + 1])
    hint = None
    if isinstance(parent, dict) and isinstance(path[depth], str):
        hint = did_you_mean(str(path[depth]), [str(k) for k in parent])
        if hint is None and parent:
            hint = f"'{format_path(path[:depth]) or 'the spec'}' has: {', '.join(map(str, list(parent)[:12]))}"
    elif isinstance(parent, list):
        hint = f"'{format_path(path[:depth])}' has {len(parent)} item(s), [0] to [{len(parent) - 1}]"
    elif parent is not None:
        hint = f"'{format_path(path[:depth])}' is {shorten(parent, 30)}; write it as a mapping to search inside it"
    return SpecError(f"the spec has nothing at '{where}'", param.at, "unknown-path", hint=hint)


def _check_when(param: Param, earlier: Sequence[Param]) -> Iterator[SpecError]:
    named = {p.key: p for p in earlier}
    for key, wanted in (param.space.when or {}).items():
        at = (*param.at, "when", key)
        other = named.get(key)
        if other is None:
            yield SpecError(
                f"`when` names '{key}', which is not a searched path written before this one",
                at,
                "unknown-path",
                hint=did_you_mean(key, named) or "a condition refers to a path searched earlier in `space:`",
            )
            continue
        possible = probe_values(other.space) if other.space.choice is not None else None
        for value in wanted if isinstance(wanted, list) else [wanted]:
            if possible is not None and value not in possible:
                yield SpecError(
                    f"'{key}' never takes the value {shorten(value, 40)}",
                    at,
                    "bad-search",
                    hint=f"its choices: {', '.join(shorten(v, 20) for v in possible)}",
                )


def metric_names(train: Any) -> list[str] | None:
    """The epoch metrics a training history holds (None: not knowable statically, e.g. a metric object)."""
    if train is None:
        return None
    names = ["loss"]
    for metric in train.metrics:
        if not isinstance(metric, str):
            return None
        names.append({"acc": "accuracy"}.get(metric, metric))
    return names + [f"val_{n}" for n in names]


def _check_metric(search: SearchSpec, train: Any) -> Iterator[SpecError]:
    if train is None:
        yield SpecError("`kspec tune` trains the spec, which has no `train:` section", ("search",), "bad-search")
        return
    if train.recipe == "gan":
        yield SpecError("`kspec tune` does not search GANs (recipe `gan`)", ("search",), "bad-search")
        return
    names = metric_names(train)
    if names is not None and search.metric not in names:
        yield SpecError(
            f"the training history has no metric '{search.metric}'",
            ("search", "metric"),
            "bad-search",
            hint=did_you_mean(search.metric, names) or f"it holds: {', '.join(names)}",
        )


def _check_values(
    param: Param, all_params: Sequence[Param], source: Any, base: set[tuple[Path, str, str]], probe: Probe
) -> list[SpecError]:
    conditions = _condition_values(param, all_params)
    where = "choice" if param.space.kind == "choice" else param.space.kind
    found: list[SpecError] = []
    for i, value in enumerate(probe_values(param.space)):
        data = apply(source, {**conditions, param.key: value})
        new = [e for e in probe(data) if e.severity == "error" and _key(e) not in base]
        if not new:
            continue
        first = new[0]
        if first.code in ("unknown-field", "unknown-argument") and first.path == param.path:
            return [
                SpecError(
                    f"the spec has nothing at '{param.key}': {first.message}", param.at, "unknown-path", hint=first.hint
                )
            ]  # a new key the spec does not take
        inner = f" (at {format_path(first.path)})" if first.path and first.path != param.path else ""
        more = f"; and {len(new) - 1} more error(s)" if len(new) > 1 else ""
        found.append(
            SpecError(
                f"with {param.key} = {shorten(value, 40)} the spec is invalid: {first.message}{inner}{more}",
                (*param.at, where, i),
                "bad-search",
                hint=first.hint or "narrow the space to values the field accepts",
            )
        )
    return found


def _condition_values(param: Param, all_params: Sequence[Param]) -> dict[str, Any]:
    """Values of the searched paths `param`'s `when:` names (the first allowed one of each), so a probe reaches it."""
    out: dict[str, Any] = {}
    by_key = {p.key: p for p in all_params}
    for key, wanted in (param.space.when or {}).items():
        other = by_key.get(key)
        if other is not None:
            out.update(_condition_values(other, all_params))
        out[key] = wanted[0] if isinstance(wanted, list) and wanted else wanted
    return out
