"""Shared Pydantic configuration for every model of the spec document. Imports pydantic only."""

from __future__ import annotations

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
    )
