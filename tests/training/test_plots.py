"""Plots that need no TensorFlow: GAN samples drawn as the book draws them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from kspec.training.plots import plot_samples


def test_vector_samples_are_a_histogram_and_images_a_grid(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    hist = plot_samples(rng.normal(4, 1.25, (100, 100)), tmp_path / "hist.png", "ch7.1")
    grid = plot_samples(rng.random((16, 28, 28, 1)), tmp_path / "grid.png", "ch7.2")
    flat = plot_samples(rng.random((16, 784)), tmp_path / "flat.png", "flat")
    w, h = Image.open(hist).size
    assert w > h  # one wide histogram panel (5 x 4 inches)
    gw, gh = Image.open(grid).size
    assert abs(gw - gh) < 0.25 * gw  # a square 4 x 4 grid of images
    assert Image.open(flat).size == Image.open(grid).size  # flattened 28x28 images are still images
