"""Stage 2, parse: the `search:` section, the hyperparameter search `kspec tune` runs. Pydantic only: the section
is checked by `kspec validate` without importing Optuna (the static checks of its values are `kspec.tuning.space`).

Example:
    ```yaml
    search:
      metric: val_accuracy              # an epoch metric of the history; the last epoch's value is the trial's
      trials: 12
      timeout: 10m                      # per `kspec tune` invocation
      pruner: {type: median, warmup_epochs: 1}
      space:
        vars.dropout1: {float: [0.0, 0.5]}
        train.optimizer.learning_rate: {float: [1.0e-4, 1.0e-2], log: true}
        model.layers[1].units: {choice: [64, 128, 256]}
    ```
"""

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from kspec.lang.base import StrictModel

Scalar = str | bool | int | float | None
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, None: 1}


def duration_seconds(value: float | str) -> float:
    """`90`, `"90s"`, `"10m"`, `"2h"` -> seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(value)
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class SpaceSpec(StrictModel):
    """The values one spec path takes: exactly one of `choice`, `int`, `float`.

    Example:
        ```yaml
        {float: [1.0e-4, 1.0e-2], log: true}      # a float range, sampled on a log scale
        {int: [16, 128], step: 16}                # 16, 32, ..., 128
        {choice: [relu, tanh]}                    # one of a list (strings, numbers, true/false, null)
        {float: [0.0, 0.9], when: {train.optimizer.type: SGD}}   # searched only when another searched path is SGD
        ```
    """

    choice: list[Scalar] | None = Field(None, min_length=1, max_length=1000, description="the values to choose from")
    int_: list[int] | None = Field(
        None, alias="int", min_length=2, max_length=2, description="[low, high], both included"
    )
    float_: list[float] | None = Field(
        None, alias="float", min_length=2, max_length=2, description="[low, high], both included"
    )
    log: bool = Field(False, description="sample on a log scale (low must be above 0)")
    step: float | None = Field(None, gt=0, description="spacing of the values from low (int: an integer)")
    when: dict[str, Scalar | list[Scalar]] | None = Field(
        None,
        min_length=1,
        description="search this path only when these other searched paths took this value (or one of these values)",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> "SpaceSpec":
        given = [k for k in ("choice", "int", "float") if self.values_of(k) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise PydanticCustomError(
                "wrong_type",
                "a search space needs exactly one of choice, int, float (found: {found})",
                {"found": found, "hint": "e.g. {float: [0.0, 0.5]} or {choice: [64, 128]}"},
            )
        kind = given[0]
        if kind == "choice":
            for key in ("log", "step"):
                if key in self.model_fields_set:
                    raise PydanticCustomError(
                        "wrong_type", "`{key}` applies to int and float ranges", {"key": key, "at": (key,)}
                    )
            return self
        low, high = self.bounds
        if not low < high:
            raise PydanticCustomError(
                "empty_range",
                "empty range [{low}, {high}]: low must be below high",
                {"low": low, "high": high, "at": (kind,), "hint": "write a single value in the spec itself"},
            )
        if self.log and low <= 0:
            raise PydanticCustomError(
                "empty_range",
                "a log-scale range must start above 0 (got {low})",
                {"low": low, "at": (kind, 0)},
            )
        if self.log and self.step is not None:
            raise PydanticCustomError(
                "wrong_type", "`step` and `log: true` do not go together", {"at": ("step",), "hint": "drop one"}
            )
        if kind == "int" and self.step is not None and self.step != int(self.step):
            raise PydanticCustomError("wrong_type", "the step of an int range must be an integer", {"at": ("step",)})
        return self

    def values_of(self, kind: str) -> list[Any] | None:
        return {"choice": self.choice, "int": self.int_, "float": self.float_}[kind]

    @property
    def kind(self) -> Literal["choice", "int", "float"]:
        return "choice" if self.choice is not None else "int" if self.int_ is not None else "float"

    @property
    def bounds(self) -> tuple[float, float]:
        values = self.int_ if self.int_ is not None else self.float_
        assert values is not None
        return values[0], values[1]


PrunerName = Literal["none", "median", "percentile", "threshold", "hyperband", "successive_halving"]

#: the arguments each pruner takes (kspec names; `kspec.tuning` maps them to Optuna's)
PRUNER_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "none": (),
    "median": ("startup_trials", "warmup_epochs"),
    "percentile": ("percentile", "startup_trials", "warmup_epochs"),
    "threshold": ("lower", "upper", "warmup_epochs"),
    "hyperband": ("min_epochs", "reduction_factor"),
    "successive_halving": ("min_epochs", "reduction_factor"),
}


class PrunerSpec(StrictModel):
    """Stops unpromising trials early from their epoch metrics (Optuna's pruners).

    Example:
        ```yaml
        pruner: {type: median, startup_trials: 2, warmup_epochs: 1}
        pruner: {type: threshold, lower: 0.5}      # stop a trial whose metric falls below 0.5
        ```
    """

    type: PrunerName = Field("median", description="median, percentile, threshold, hyperband, successive_halving")
    startup_trials: int | None = Field(None, ge=0, description="trials that run to the end before any is pruned")
    warmup_epochs: int | None = Field(None, ge=0, description="epochs of every trial before it may be pruned")
    percentile: float | None = Field(None, ge=0, le=100, description="percentile: keep trials above it")
    lower: float | None = Field(None, description="threshold: prune below this value")
    upper: float | None = Field(None, description="threshold: prune above this value")
    min_epochs: int | None = Field(None, ge=1, description="hyperband/successive_halving: the smallest budget")
    reduction_factor: int | None = Field(None, ge=2, description="hyperband/successive_halving")

    @model_validator(mode="after")
    def _arguments_apply(self) -> "PrunerSpec":
        allowed = PRUNER_ARGUMENTS[self.type]
        for key in sorted(self.model_fields_set - {"type"}):
            if key not in allowed:
                raise PydanticCustomError(
                    "wrong_type",
                    "pruner `{type}` takes no `{key}`",
                    {
                        "type": self.type,
                        "key": key,
                        "at": (key,),
                        "hint": f"it takes: {', '.join(allowed) or 'nothing'}",
                    },
                )
        if self.type == "percentile" and self.percentile is None:
            raise PydanticCustomError("missing_field", "pruner `percentile` needs `percentile`", {})
        if self.type == "threshold" and self.lower is None and self.upper is None:
            raise PydanticCustomError("missing_field", "pruner `threshold` needs `lower` or `upper`", {})
        return self


class SamplerSpec(StrictModel):
    """How trial values are drawn (Optuna's samplers)."""

    type: Literal["tpe", "random"] = Field("tpe", description="tpe (Bayesian, the default) or random")
    seed: int | None = Field(0, description="seed of the first worker; null: not seeded")
    startup_trials: int | None = Field(None, ge=0, description="tpe: random trials before the model takes over")


def _default_sampler() -> SamplerSpec:
    return SamplerSpec.model_construct()  # the defaults, as validating {} gives them, with no validator made


def _default_pruner() -> PrunerSpec:
    return PrunerSpec.model_construct(type="none")  # as validating {type: none} gives it


class SearchSpec(StrictModel):
    """The `search:` section: which spec paths `kspec tune` searches, what it optimises, and how long."""

    metric: str = Field(description="an epoch metric of the history, e.g. val_accuracy or val_loss (last epoch)")
    direction: Literal["minimize", "maximize"] | None = Field(
        None, description="default: minimize for a metric ending in loss (or error), else maximize"
    )
    trials: int = Field(20, ge=1, le=100_000, description="trials the study runs in all (across restarts, workers)")
    timeout: float | str | None = Field(
        None, description="stop starting trials after this long (per `kspec tune`): seconds, or e.g. 30m, 2h"
    )
    sampler: SamplerSpec = Field(
        default_factory=_default_sampler,
        description="tpe or random, or {type: tpe, seed: 0, startup_trials: 10}",
    )
    pruner: PrunerSpec = Field(
        default_factory=_default_pruner,
        description="none, median, ..., or {type: median, startup_trials: 5, warmup_epochs: 1}",
    )
    space: dict[str, SpaceSpec] = Field(
        min_length=1, max_length=100, description="spec path (as in --set) -> the values it takes"
    )

    @field_validator("sampler", "pruner", mode="before", json_schema_input_type=str | dict[str, Any])
    @classmethod
    def _name_alone(cls, value: Any) -> Any:
        """`pruner: median` is short for `pruner: {type: median}`."""
        return {"type": value} if isinstance(value, str) else value

    @field_validator("timeout")
    @classmethod
    def _duration(cls, value: float | str | None) -> float | str | None:
        if value is None:
            return value
        try:
            seconds = duration_seconds(value)
        except ValueError:
            raise PydanticCustomError(
                "wrong_type", "a time budget is seconds or a number with s, m or h (e.g. 600, 10m, 2h)", {}
            ) from None
        if seconds <= 0:
            raise PydanticCustomError("wrong_type", "a time budget must be above 0", {})
        return value

    @property
    def goal(self) -> Literal["minimize", "maximize"]:
        if self.direction is not None:
            return self.direction
        return "minimize" if self.metric.endswith(("loss", "error")) else "maximize"

    @property
    def timeout_seconds(self) -> float | None:
        return None if self.timeout is None else duration_seconds(self.timeout)

    @property
    def pruner_settings(self) -> PrunerSpec:
        return self.pruner

    @property
    def sampler_settings(self) -> SamplerSpec:
        return self.sampler
