"""`init:` of a spec: the file the built main model's weights start from. Imports pydantic only."""

from pydantic import Field

from kspec.lang.base import StrictModel


class InitSpec(StrictModel):
    """Where the built model's starting weights come from (e.g. those `kspec import` wrote beside the spec)."""

    weights: str = Field(
        description="a .weights.h5 or .keras file, relative to the spec's folder and inside it, loaded into the main "
        "model after it is built"
    )
