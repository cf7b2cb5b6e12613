"""kspec: declarative YAML model specs, validated without Keras and compiled to Keras 3 functional models.

The façade: `load`, `validate`, `build`, `train`, `draw`. Heavy stages (Keras, TensorFlow) are imported inside
the functions that need them, so `import kspec` and `kspec.validate` stay light.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kspec.errors import SpecError, SpecErrors

if TYPE_CHECKING:
    from kspec.analysis.graph import Resolved
    from kspec.compiler.functional import Compiled
    from kspec.lang.loader import Document

__all__ = [
    "MAX_PARAMS",
    "MAX_SYNTHETIC_VALUES",
    "SpecError",
    "SpecErrors",
    "__version__",
    "build",
    "check",
    "compile_resolved",
    "load",
    "validate",
]
__version__ = "0.1.0"


def _located(doc: Document, errors: Sequence[SpecError]) -> SpecErrors:
    return SpecErrors([doc.locate(e) for e in errors])


def load(path: str | Path, overrides: Sequence[str] = ()) -> Resolved:
    """Read, expand, parse and resolve a spec file; raises `SpecErrors` with located diagnostics.

    Args:
        path: the spec file.
        overrides: `dotted.path=value` strings applied before validation (`--set`).
    """
    from kspec.analysis import graph
    from kspec.lang import expand, loader, prebuilt, spec  # noqa: F401 (prebuilt: Spec's validator)
    from kspec.lang.events import plain_copy

    doc = loader.read(path)
    applied = expand.apply_overrides(doc.data, overrides)
    doc.overrides = applied.sources
    doc.source = plain_copy(applied.data)
    unused = expand.unused_variables(applied.data, doc.aliased)
    try:  # the overrides that could not be applied are reported with the spec's own errors, not instead of them
        data = expand.expand_document(applied.data)
        parsed = spec.parse(data)
    except SpecErrors as exc:
        raise _located(doc, [*applied.errors, *exc.errors]) from None
    if applied.errors:
        raise _located(doc, applied.errors)
    doc.data = data
    resolved, errors = graph.resolve(doc, parsed)
    resolved.diagnostics = [doc.locate(e) for e in [*unused, *errors]]
    return resolved


#: Default budgets: a spec whose static parameter count, or whose synthetic data (values), is larger is refused
#: before anything is allocated. The person running kspec raises them with --max-params / --max-synthetic-values.
MAX_PARAMS = 250_000_000
MAX_SYNTHETIC_VALUES = 500_000_000


def check(
    resolved: Resolved,
    *,
    plugins: Sequence[str] | None = None,
    allow_unsafe: bool = False,
    max_params: int = MAX_PARAMS,
    max_synthetic_values: int | None = MAX_SYNTHETIC_VALUES,
    search: bool = True,
) -> list[SpecError]:
    """Run the graph, argument and shape checks; raises `SpecErrors` when any error is found.

    Args:
        resolved: the spec, from `load`.
        plugins: plugin names to accept (default: those the spec declares that are installed).
        allow_unsafe: accept code-running layers (Lambda, ...); only the person running kspec may set it.
        max_params: refuse a model whose inferred parameter count is larger (`--max-params`).
        max_synthetic_values: refuse `synthetic` data with more values than this (`--max-synthetic-values`);
            None: no data budget (building or drawing allocates no data).
        search: also check the `search:` section (every searched value against the field it replaces).

    Returns:
        The warnings and notes (unused layers, layers static inference could not check).
    """
    limits = (plugins, allow_unsafe, max_params, max_synthetic_values)
    found = _problems(resolved, *limits)
    spec_search = resolved.spec.search
    if search and spec_search is not None and not any(e.severity == "error" for e in found):
        from kspec.tuning import space

        found += space.check(spec_search, resolved.doc.source, resolved.spec.train, _probe(resolved, limits))
    located = [resolved.doc.locate(e) for e in found]
    if any(e.severity == "error" for e in located):
        raise SpecErrors(located)
    return located


def _problems(
    resolved: Resolved,
    plugins: Sequence[str] | None,
    allow_unsafe: bool,
    max_params: int,
    max_synthetic_values: int | None,
) -> list[SpecError]:
    """The diagnostics of `check`, not yet located."""
    from kspec.analysis import checks, loss_formulas, shapes

    names, installed = [*resolved.spec.plugins, *(plugins or ())], []
    if names:  # the registry (and the compiler package it lives in) only for a spec that names plugins
        from kspec.compiler import plugins as plugin_registry

        scan = plugin_registry.needs_scan(names)
        installed = list(plugin_registry.registered() if scan else plugin_registry.BUILTIN)
    declared = [p for p in resolved.spec.plugins if p in installed] if plugins is None else list(plugins)
    ctx = checks.Context(plugins=declared, allow_unsafe=allow_unsafe, installed=installed)
    found = [*resolved.diagnostics, *checks.run(resolved, ctx)]
    if not any(e.severity == "error" for e in found):
        report = shapes.infer(resolved)
        found += report.errors + loss_formulas.check_shapes(resolved, report)
        for name, model in report.models.items():
            if model.params is not None and model.params > max_params:
                found.append(
                    SpecError(
                        f"model '{name}' has {model.params:,} parameters, more than the budget of {max_params:,}",
                        resolved.models[name].path,
                        "budget-exceeded",
                        hint="raise the budget with --max-params N if this is intended",
                    )
                )
        if max_synthetic_values is not None:
            found += _synthetic_budget(resolved, report, max_synthetic_values)
    return found


def _probe(resolved: Resolved, limits: tuple[Any, ...]) -> Any:
    """Checks a changed copy of the spec's data (before `${var}` expansion), for the `search:` checks."""
    from kspec.analysis import graph
    from kspec.lang import expand, spec
    from kspec.lang.loader import Document

    def probe(source: Any) -> list[SpecError]:
        try:
            data = expand.expand_document(source)
            parsed = spec.parse(data)
        except SpecErrors as exc:
            return list(exc.errors)
        doc = Document(resolved.doc.file, data, resolved.doc.positions)
        changed, errors = graph.resolve(doc, parsed)
        changed.diagnostics = errors
        return _problems(changed, *limits)

    return probe


def validate(
    path: str | Path,
    overrides: Sequence[str] = (),
    *,
    deep: bool = False,
    allow_unsafe: bool = False,
    max_params: int = MAX_PARAMS,
    max_synthetic_values: int = MAX_SYNTHETIC_VALUES,
) -> list[SpecError]:
    """Validate a spec file without importing Keras (with `deep`, also build it).

    Returns:
        Warnings and notes; raises `SpecErrors` when the spec is invalid.
    """
    resolved = load(path, overrides)
    found = check(resolved, allow_unsafe=allow_unsafe, max_params=max_params, max_synthetic_values=max_synthetic_values)
    if deep:
        compile_resolved(resolved)
    return found


def compile_resolved(resolved: Resolved) -> Compiled:
    """Build the Keras models of an already checked spec; Keras errors come back located."""
    from kspec import compiler

    try:
        return compiler.build(resolved)
    except SpecErrors as exc:
        raise _located(resolved.doc, exc.errors) from None


def build(
    path: str | Path,
    overrides: Sequence[str] = (),
    *,
    allow_unsafe: bool = False,
    max_params: int = MAX_PARAMS,
    max_synthetic_values: int | None = None,
) -> Compiled:
    """Validate and build a spec into Keras functional models (`max_synthetic_values`: as in `check`; building
    allocates no data, so there is no data budget unless one is given)."""
    resolved = load(path, overrides)
    check(resolved, allow_unsafe=allow_unsafe, max_params=max_params, max_synthetic_values=max_synthetic_values)
    return compile_resolved(resolved)


def _synthetic_budget(resolved: Resolved, report: Any, limit: int) -> list[SpecError]:
    """`synthetic` data whose examples times values per example exceed `limit` (checked before any allocation)."""
    import math

    data = resolved.spec.data
    source: Any = getattr(data, "source", None)
    if source is None or getattr(source, "type", None) != "synthetic":
        return []
    shape = getattr(source, "input_shape", None)
    if not shape:
        model = report.models.get(resolved.main)
        inputs = list(model.inputs.values()) if model is not None else []
        shape = inputs[0][1:] if inputs else ()
    per_example = math.prod(d for d in shape if d) if shape else 1
    total = (source.samples + source.test_samples) * per_example
    if total <= limit:
        return []
    return [
        SpecError(
            f"synthetic data of {total:,} values is more than the budget of {limit:,}",
            ("data", "source", "samples"),
            "budget-exceeded",
            hint="use fewer samples, or raise the budget with --max-synthetic-values N",
        )
    ]
