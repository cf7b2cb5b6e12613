"""Stage 2, parse: the `train:` section (placeholder, to be replaced by the data/training work)."""

from __future__ import annotations

from pydantic import ConfigDict

from .base import StrictModel


class TrainSpec(StrictModel):
    model_config = ConfigDict(extra="allow")
