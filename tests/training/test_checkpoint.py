"""`checkpoint.write_npz`: the archive `np.savez` would write, read back the same by `np.load`, one array at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kspec.training.checkpoint import write_npz

ARRAYS: dict[str, Any] = {
    "model.0": np.arange(12, dtype=np.float32).reshape(3, 4),
    "model.1": np.array(3, np.int64),  # a 0-d counter stays 0-d
    "optimizer.0": np.asfortranarray(np.linspace(0, 1, 6).reshape(2, 3)),
    "optimizer.1": np.zeros((0, 4), np.float32),
    "seed": np.array([7, 9], np.uint32),
    "flags": np.array([True, False]),
    "strided": np.arange(10, dtype=np.int16)[::3],
}


def test_reads_back_like_savez(tmp_path: Path) -> None:
    write_npz(tmp_path / "ours.npz", ARRAYS.items())
    np.savez(tmp_path / "numpy.npz", **ARRAYS)
    with np.load(tmp_path / "ours.npz", allow_pickle=False) as ours, np.load(tmp_path / "numpy.npz") as theirs:
        assert ours.files == theirs.files == list(ARRAYS)
        for name in ours.files:
            a, b = ours[name], theirs[name]
            assert (a.dtype, a.shape) == (b.dtype, b.shape), name
            np.testing.assert_array_equal(a, b)


def test_takes_the_arrays_one_at_a_time(tmp_path: Path) -> None:
    """A generator is drained in order while writing: nothing forces all arrays to exist at once."""
    made: list[str] = []

    def lazily() -> Iterator[tuple[str, Any]]:
        for name, value in ARRAYS.items():
            made.append(name)
            yield name, value

    write_npz(tmp_path / "x.npz", lazily())
    assert made == list(ARRAYS)


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="Python objects"):
        write_npz(tmp_path / "x.npz", [("bad", np.array([{"a": 1}], dtype=object))])
