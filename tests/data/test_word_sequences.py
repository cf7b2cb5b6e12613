"""The lean IMDB and Reuters loaders give exactly what `keras.datasets.*.load_data` gives, for every coding option,
from files in Keras's format (read offline from a temporary KERAS_HOME)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.keras

keras = pytest.importorskip("keras")

from test_steps import _ragged

from kspec.data import word_sequences as ws

RNG = np.random.default_rng(7)

CODINGS = [
    ws.Coding(),
    ws.Coding(num_words=20),
    ws.Coding(num_words=20, skip_top=5, seed=3),
    ws.Coding(maxlen=8),
    ws.Coding(num_words=30, oov_char=None),
    ws.Coding(start_char=None, index_from=0),
    ws.Coding(start_char=None, index_from=2, maxlen=10, num_words=25, skip_top=2),
]


def _rows(n: int) -> list[list[int]]:
    return [RNG.integers(1, 40, RNG.integers(1, 14)).tolist() for _ in range(n)]


def _same(ours: Any, theirs: Any) -> None:
    (x, y), (xt, yt) = ours
    (kx, ky), (kxt, kyt) = theirs
    assert [s.tolist() for s in x] == [list(s) for s in kx]
    assert [s.tolist() for s in xt] == [list(s) for s in kxt]
    assert y.tolist() == list(ky) and yt.tolist() == list(kyt)
    assert all(s.dtype == np.int32 for s in [*x, *xt])


@pytest.mark.parametrize("coding", CODINGS, ids=str)
def test_imdb_equals_keras(keras_home: Path, coding: ws.Coding) -> None:
    rows, rows_test = _rows(30), _rows(12)
    np.savez(
        keras_home / "imdb.npz",
        x_train=_ragged(rows),
        y_train=RNG.integers(0, 2, 30),
        x_test=_ragged(rows_test),
        y_test=RNG.integers(0, 2, 12),
    )
    _same(ws.load_imdb(coding), keras.datasets.imdb.load_data(**dataclasses.asdict(coding)))


@pytest.mark.parametrize("coding", CODINGS, ids=str)
def test_reuters_equals_keras(keras_home: Path, coding: ws.Coding) -> None:
    np.savez(keras_home / "reuters.npz", x=_ragged(_rows(40)), y=RNG.integers(0, 46, 40))
    ours = ws.load_reuters(coding, test_split=0.25)
    _same(ours, keras.datasets.reuters.load_data(**dataclasses.asdict(coding), test_split=0.25))


def test_imdb_maxlen_that_keeps_nothing_is_refused(keras_home: Path) -> None:
    np.savez(
        keras_home / "imdb.npz",
        x_train=_ragged([[1, 2, 3]]),
        y_train=np.array([0]),
        x_test=_ragged([[4, 5, 6]]),
        y_test=np.array([1]),
    )
    with pytest.raises(ValueError, match="maxlen"):
        ws.load_imdb(ws.Coding(maxlen=2))
