"""Models deeper than Keras's graph walk allows by default: kspec raises the recursion limit while Keras assembles
or loads the model, and puts it back. Keras alone fails the same chain (checked here too, so the test shows
something kspec does, not something Keras already does)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import kspec
from kspec.compiler.depth import HEADROOM, PER_LAYER, room_for

pytestmark = pytest.mark.keras

LAYERS = 450  # the limit is lowered below to 400 frames, so Keras's walk needs more than Python allows


def chain_spec(n: int) -> str:
    lines = ["kspec: 1", f"name: chain{n}", "model:", "  inputs: {x: {shape: [4]}}", "  layers:"]
    return "\n".join([*lines, f"    - {{type: Dense, units: 4, name: d, repeat: {n}}}"]) + "\n"


@pytest.fixture()
def low_limit() -> Iterator[int]:
    import keras  # noqa: F401  # first: importing TensorFlow sets the limit to 3,000 itself

    before = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        yield 400
    finally:
        sys.setrecursionlimit(before)


def test_keras_alone_fails_at_this_depth(low_limit: int) -> None:
    import keras

    x = inputs = keras.Input((4,))
    for _ in range(LAYERS):
        x = keras.layers.Dense(4)(x)
    with pytest.raises(RecursionError):
        keras.Model(inputs, x)


def test_kspec_builds_and_saves_it(low_limit: int, tmp_path: Path) -> None:
    import keras

    spec = tmp_path / "chain.yaml"
    spec.write_text(chain_spec(LAYERS), encoding="utf-8")
    model = kspec.build(spec).model
    assert sys.getrecursionlimit() == low_limit  # put back after the build
    assert len(model.layers) == LAYERS + 1
    model.save(tmp_path / "chain.keras")
    with room_for(LAYERS):
        loaded = keras.saving.load_model(tmp_path / "chain.keras")
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_room_for_only_raises_and_restores() -> None:
    before = sys.getrecursionlimit()
    with room_for(10):
        assert sys.getrecursionlimit() == max(before, HEADROOM + PER_LAYER * 10)  # never lowered
    with room_for(100_000):
        assert sys.getrecursionlimit() >= 200_000
    assert sys.getrecursionlimit() == before
