"""`init: {weights: FILE}`: load starting weights into a spec's built main model. Imports keras (through the model).

The file is resolved like every path of a spec: relative to the spec's folder and inside it (`kspec.paths`).
"""

from __future__ import annotations

from typing import Any

from kspec import paths
from kspec.analysis.graph import Resolved
from kspec.errors import SpecError, SpecErrors, shorten


def load(res: Resolved, model: Any) -> None:
    """Load `res.spec.init.weights` into `model`; raises `SpecErrors` (unlocated) when it cannot be used."""
    init = res.spec.init
    if init is None:
        return
    at = ("init", "weights")
    try:
        full = paths.resolve_inside(res.doc.folder, init.weights)
    except paths.PathProblem as problem:
        raise SpecErrors([SpecError(problem.message, at, "weights-error", hint=problem.hint)]) from None
    wrong = paths.kind_problem(full, init.weights, "file")
    if wrong is not None or not full.is_file():
        message = wrong.message if wrong is not None else f"no file {shorten(init.weights)} (looked for {full})"
        raise SpecErrors([SpecError(message, at, "weights-error")])
    try:
        model.load_weights(str(full))
    except Exception as exc:  # Keras raises ValueError/KeyError/OSError for a file that does not fit the model
        text = " ".join(str(exc).split())
        raise SpecErrors(
            [
                SpecError(
                    f"the weights in {shorten(init.weights)} do not fit model '{model.name}': {text[:300]}",
                    at,
                    "weights-error",
                    hint="weights load by layer order and shape; re-import the model or remove `init:`",
                )
            ]
        ) from None
