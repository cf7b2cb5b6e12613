"""The training recipes, one module each, registered by name in `RECIPES` (`train.recipe` picks one)."""

from kspec.training.recipes import fit, gan, tape
from kspec.training.recipes.registry import RECIPES, Recipe, recipe

__all__ = ["RECIPES", "Recipe", "fit", "gan", "recipe", "tape"]
