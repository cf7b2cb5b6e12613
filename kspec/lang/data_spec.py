"""Stage 2, parse: the `data:` section (sources and preprocessing steps as registries of small models), and its
validate-time checks (`check_data`). Pydantic and pure Python only: no numpy, no keras.

A source or a step is written like every other object in kspec: a bare name (`mnist`, `flatten`) or a mapping
`{type: name, ...arguments}`. Each kind is one small model registered by name; the unions the document is validated
against are built from the registries, so adding a source or a step is one decorated class and nothing else.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Field

from kspec import catalog
from kspec import paths as data_paths
from kspec.errors import CODES, SpecError, did_you_mean, shorten
from kspec.lang.base import StrictModel
from kspec.lang.data_sources import SOURCES, SourceBase
from kspec.lang.data_steps import STEPS, Augment, StepBase, is_augmentation_layer


def _bare_name(value: Any) -> Any:
    """`mnist` is short for `{type: mnist}`."""
    return {"type": value} if isinstance(value, str) else value


def _union(table: dict[str, Any]) -> Any:
    return Annotated[Union[tuple(table.values())], Field(discriminator="type")]  # noqa: UP007


if TYPE_CHECKING:
    Source = SourceBase
    Step = StepBase
else:
    # Editors see the short form too: a bare name is as good as `{type: name}`.
    _SourceInput = Union[Literal[tuple(SOURCES)], _union(SOURCES)]  # noqa: UP007
    _StepInput = Union[Literal[tuple(STEPS)], _union(STEPS)]  # noqa: UP007
    Source = Annotated[_union(SOURCES), BeforeValidator(_bare_name, json_schema_input_type=_SourceInput)]
    Step = Annotated[_union(STEPS), BeforeValidator(_bare_name, json_schema_input_type=_StepInput)]


class DataSpec(StrictModel):
    """The `data:` section: a source, then preprocessing steps in order.

    Example:
        ```yaml
        data:
          source: mnist
          preprocess: [flatten, {type: scale, divide: 255}, one_hot]
        ```
    """

    source: Source = Field(description="a dataset name (mnist, digits, ...) or {type: csv, path: ...}")
    preprocess: list[Step] = Field(default_factory=list, description="steps applied in order")
    cache: Literal["auto"] | bool = Field("auto", description="cache the prepared examples in memory (auto: yes)")
    shuffle_buffer: int | None = Field(None, ge=1, description="default: the whole training split")


def _value_at(data: Any, path: tuple[Any, ...]) -> Any:
    for item in path:
        try:
            data = data[item]
        except (KeyError, IndexError, TypeError):
            return None
    return data


#: names people reach for that are spelt differently here (a did-you-mean would mislead: `normalise` -> `noise`)
_SYNONYMS = {
    "normalise": "standardize (mean 0, std 1) or minmax ([0, 1])",
    "normalize": "standardize (mean 0, std 1) or minmax ([0, 1])",
    "gaussian_noise": "did you mean 'noise'?",
}


def _tag_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return str(value["type"])
    return None


def _registry_for(path: tuple[Any, ...]) -> dict[str, Any] | None:
    keys = [p for p in path if isinstance(p, str)]
    if keys[-1:] == ["source"]:
        return SOURCES
    if keys[-1:] == ["preprocess"]:
        return STEPS
    return None


def explain_error(err: dict[str, Any], data: Any) -> tuple[tuple[Any, ...], str, str, str | None] | None:
    """Translate a Pydantic error under `data:` into `(document path, message, code, hint)`, or None if generic.

    Pydantic puts a discriminated union's tag into `loc` (`data.preprocess[0].scale.divide`); this drops it so the
    path is a real document path, names unknown sources and steps with a did-you-mean, and suggests field names of
    the source or step the entry really is. `data` is the whole document.
    """
    loc: list[Any] = []
    for item in err["loc"]:
        if isinstance(item, str) and (
            item.startswith(("function-", "tagged-union"))
            or _tag_of(_value_at(data, tuple(loc))) == item
            and _registry_for(tuple(loc))
        ):
            continue
        loc.append(item)
    path = tuple(loc)
    kind = str(err["type"])
    ctx = err.get("ctx") or {}
    if kind.replace("_", "-") in CODES:  # raised by a validator here, as PydanticCustomError(code, message, ctx)
        return (*path, *ctx.get("at", ())), str(err["msg"]), kind.replace("_", "-"), ctx.get("hint")
    if kind == "missing" and path != tuple(err["loc"]) and len(path) >= 2:
        owner, name = path[:-1], str(path[-1])
        tag = _tag_of(_value_at(data, owner))
        add = f"write it as `{{type: {tag}, {name}: ...}}`" if tag else f"add `{name}:`"
        return owner, f"missing field '{name}'" + (f" for `{tag}`" if tag else ""), "missing-field", add
    if err["type"] == "union_tag_invalid":
        table = _registry_for(path)
        if table is None:
            return None
        tag = _tag_of(_value_at(data, path)) or "?"
        what = "source" if table is SOURCES else "preprocessing step"
        hint = _SYNONYMS.get(tag.lower().replace("-", "_")) or did_you_mean(tag, table)
        return path, f"unknown {what} '{tag}'", "bad-value", hint or f"one of: {', '.join(table)}"
    if err["type"] == "extra_forbidden" and len(path) >= 2:
        owner = path[:-1]
        table = _registry_for(owner[:-1]) if isinstance(owner[-1], int) else _registry_for(owner)
        owner_tag = _tag_of(_value_at(data, owner))
        if table is not None and owner_tag in table:
            tag = str(owner_tag)
            fields = [f for f in table[tag].model_fields if f != "type"]
            hint = did_you_mean(str(path[-1]), fields) or (f"`{tag}` takes: {', '.join(fields)}" if fields else None)
            return path, f"unknown field '{path[-1]}' for `{tag}`", "unknown-field", hint
    if path != tuple(err["loc"]):
        msg = str(err.get("ctx", {}).get("error", err["msg"])) if err["type"] == "value_error" else err["msg"]
        return path, msg[0].lower() + msg[1:], "wrong-type", None
    return None


# ---------------------------------------------------------------------------------------------------------- checks


def check_data(data: DataSpec | None, folder: Path, *, allow_unsafe: bool = False) -> Iterator[SpecError]:
    """Checks of the `data:` section that need no data: file paths and augmentation layers. Pure Python.

    Args:
        data: the parsed `data:` section (None: nothing to check).
        folder: the spec file's folder; file paths are relative to it and must stay inside it.
        allow_unsafe: accept augmentation layers that run code from outside the spec (as for model layers).

    Yields:
        Errors at document paths: `data-error` for a URL, an absolute path, a path that resolves outside `folder`
        or is not a regular file/folder; a `data-error` warning for a file that does not exist (yet); the layer
        checks' codes (`unsafe-layer`, `unknown-argument`, ...) for augmentation layers.
    """
    if data is None:
        return
    yield from _check_paths(data.source, folder)
    for i, step in enumerate(data.preprocess):
        if isinstance(step, Augment):
            yield from _check_augment(step, ("data", "preprocess", i), allow_unsafe)


def _check_paths(source: SourceBase, folder: Path) -> Iterator[SpecError]:
    for name, kind in getattr(source, "path_fields", {}).items():
        rel = getattr(source, name)
        if rel is None:
            continue
        path = ("data", "source", name)
        try:
            full = data_paths.resolve_inside(folder, rel)
        except data_paths.PathProblem as problem:
            yield SpecError(problem.message, path, "data-error", hint=problem.hint)
            continue
        wrong = data_paths.kind_problem(full, rel, kind)
        if wrong is not None:
            yield SpecError(wrong.message, path, "data-error", hint=wrong.hint)
        elif not full.exists():
            yield SpecError(
                f"no {kind} {shorten(rel)} next to the spec (looked for {full})",
                path,
                "data-error",
                severity="warning",
                hint="paths are relative to the spec file's folder; `kspec train` needs it there",
            )


def _check_augment(step: Augment, path: tuple[str | int, ...], allow_unsafe: bool) -> Iterator[SpecError]:
    for j, layer in enumerate(step.layers):
        at = (*path, "layers", j)
        type_name = layer.get("type")
        if not isinstance(type_name, str):
            yield SpecError("an augmentation layer needs `type:`", at, "missing-field", hint="e.g. {type: RandomFlip}")
            continue
        args = {k: v for k, v in layer.items() if k != "type"}
        found = [e.prefixed(at) for e in catalog.check_layer(type_name, args, allow_unsafe=allow_unsafe)]
        yield from found
        if not any(e.severity == "error" for e in found) and not is_augmentation_layer(type_name):
            yield SpecError(
                f"'{type_name}' is not an augmentation layer",
                (*at, "type"),
                "data-error",
                hint=did_you_mean(type_name, _augmentation_names())
                or "augment takes Random* layers (RandomFlip, RandomRotation, ...), RandAugment, AugMix, MixUp, CutMix",
            )


def _augmentation_names() -> list[str]:
    return [n for n in catalog.layer_names() if is_augmentation_layer(n)]
