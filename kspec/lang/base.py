"""Shared Pydantic configuration for every model of the spec document. Imports pydantic only.

The models are built lazily (`defer_build`): `Spec` gets its validator from `kspec.lang.prebuilt`, and the few models
used on their own are built by Pydantic when first used. Callables in field definitions are named module functions
(no lambdas), so that the prebuilt schema can refer to them.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A part of the spec: unknown keys are errors, no silent coercion, inputs never echoed by Pydantic."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        hide_input_in_errors=True,
        frozen=True,
        populate_by_name=True,
        defer_build=True,
    )


def dict_or_list(value: Any) -> str:
    """The branch of a union of a mapping (tag `dict`) and a list (tag `list`) that `value` belongs to."""
    return "dict" if isinstance(value, dict) else "list"
