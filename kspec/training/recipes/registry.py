"""The recipe registry: a recipe trains a `Session` and returns its Keras-style history."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kspec.training.session import Session

Recipe = Callable[["Session"], dict[str, list[float]]]
RECIPES: dict[str, Recipe] = {}


def recipe(name: str) -> Callable[[Recipe], Recipe]:
    """Register a recipe under the name `train.recipe` uses."""

    def deco(fn: Recipe) -> Recipe:
        RECIPES[name] = fn
        return fn

    return deco
