"""Stage 2, parse: the top-level `losses:` section, losses written as formulas of allowed ops over `y_true` and
`y_pred` (a contrastive loss), and how `train.loss` refers to one. Pydantic and pure Python only: no keras.

```yaml
losses:
  contrastive:
    params: {margin: 1.0}
    formula: (1 - y_true) * square(y_pred) + y_true * square(maximum(margin - y_pred, 0))
train:
  loss: contrastive                  # or {type: contrastive, margin: 0.5}; per output: {distance: contrastive}
```
"""

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from kspec.lang.base import StrictModel

Number = Annotated[float | int, Field(allow_inf_nan=False)]


class LossSpec(StrictModel):
    """A loss written as a formula; Keras averages its values over the batch (and any other axes), as it does
    for its own losses."""

    description: str | None = Field(None, description="free text for readers; ignored by kspec")
    params: dict[str, Number] = Field(
        default_factory=dict,
        description="named numbers the formula uses (e.g. {margin: 1.0}); `{type: NAME, margin: 2}` under "
        "train.loss overrides them",
    )
    formula: str = Field(
        max_length=2000,
        description="the loss per element, from y_true, y_pred, the params, numbers, + - * / ** and allowed "
        "keras.ops calls, e.g. (1 - y_true) * square(y_pred) + y_true * square(maximum(margin - y_pred, 0))",
    )


def reference(value: Any, defined: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The defined loss `value` names (`contrastive` or `{type: contrastive, margin: 2}`) and its parameter
    overrides; None when `value` is not one of `defined`."""
    if isinstance(value, str) and value in defined:
        return value, {}
    if isinstance(value, Mapping) and isinstance(value.get("type"), str) and value["type"] in defined:
        return str(value["type"]), {k: v for k, v in value.items() if k != "type"}
    return None
