"""Stage 5, data: the IMDB and Reuters word-index datasets read from Keras's dataset files, lean. Imports keras.

`keras.datasets.imdb.load_data` rebuilds every review as Python lists of Python ints several times over (index
offsets, the `maxlen` filter, out-of-vocabulary words). At full size that holds about 400 MB at its peak, and it
takes seconds before training can start. These loaders give the same sequences: the same shuffle, start and OOV
characters, `skip_top`, `maxlen` filter and `num_words` cut (a test compares them with Keras's). Each sequence is
kept as one int32 array, converted as it is read and the list it came from released at once.

Keras's own `get_file` fetches and checks the file (the same URL and SHA-256 as `load_data`), and its restricted
unpickler reads the ragged arrays (NumPy arrays only, never code).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


@dataclass(frozen=True)
class Coding:
    """How word indices become model inputs (the arguments `load_data` shares between IMDB and Reuters)."""

    num_words: int | None = None
    skip_top: int = 0
    maxlen: int | None = None
    seed: int = 113
    start_char: int | None = 1
    oov_char: int | None = 2
    index_from: int = 3


def _fetch(name: str, file_hash: str) -> str:
    from keras.utils import get_file

    return str(get_file(fname=name, origin=_ORIGIN + name, file_hash=file_hash))


def _member(archive: zipfile.ZipFile, name: str) -> Any:
    """One array of an `.npz` archive, read with Keras's restricted unpickler."""
    from keras.src.datasets.npz_utils import load_npy_member

    with archive.open(f"{name}.npy") as raw:
        return load_npy_member(io.BytesIO(raw.read()))


def _offset(rows: Any, order: Any, coding: Coding) -> list[Any]:
    """`rows` (an object array of lists) in `order`, each an int32 array with `index_from` added and the start
    character in front; each list is released once converted."""
    out = []
    start = np.asarray([] if coding.start_char is None else [coding.start_char], dtype=np.int64)
    for i in order:
        words = np.asarray(rows[i], dtype=np.int64) + coding.index_from
        out.append(np.concatenate([start, words]).astype(np.int32))
        rows[i] = None
    return out


def _keep_short(seqs: list[Any], labels: Any, maxlen: int | None) -> tuple[list[Any], Any]:
    if not maxlen:
        return seqs, labels
    keep = [i for i, s in enumerate(seqs) if len(s) < maxlen]
    return [seqs[i] for i in keep], labels[keep]


def _cut(seqs: list[Any], coding: Coding) -> Any:
    """Words outside [skip_top, num_words) become `oov_char` (or are dropped without one); an object array."""
    num_words = coding.num_words or max(int(s.max()) for s in seqs if len(s))
    out = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        inside = (s >= coding.skip_top) & (s < num_words)
        out[i] = np.where(inside, s, coding.oov_char).astype(np.int32) if coding.oov_char is not None else s[inside]
    return out


def load_imdb(coding: Coding) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """`keras.datasets.imdb.load_data(**coding)`, with each review an int32 array."""
    path = _fetch("imdb.npz", "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f")
    rng = np.random.RandomState(coding.seed)
    parts = []
    with zipfile.ZipFile(path) as archive:
        for split in ("train", "test"):  # one split's lists at a time
            rows, labels = _member(archive, f"x_{split}"), _member(archive, f"y_{split}")
            order = np.arange(len(rows))
            rng.shuffle(order)
            seqs, labels = _keep_short(_offset(rows, order, coding), labels[order], coding.maxlen)
            del rows
            parts.append((seqs, labels))
    (train, y_train), (test, y_test) = parts
    if coding.maxlen and (not train or not test):
        raise ValueError(f"no IMDB review is shorter than maxlen={coding.maxlen}; increase maxlen")
    xs = _cut(train + test, coding)
    return (xs[: len(train)], y_train), (xs[len(train) :], y_test)


def load_reuters(coding: Coding, test_split: float = 0.2) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """`keras.datasets.reuters.load_data(**coding, test_split=...)`, with each newswire an int32 array."""
    path = _fetch("reuters.npz", "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916")
    with zipfile.ZipFile(path) as archive:
        rows, labels = _member(archive, "x"), _member(archive, "y")
    order = np.arange(len(rows))
    np.random.RandomState(coding.seed).shuffle(order)
    seqs, labels = _keep_short(_offset(rows, order, coding), labels[order], coding.maxlen)
    del rows
    xs = _cut(seqs, coding)
    cut = int(len(xs) * (1 - test_split))
    return (xs[:cut], np.array(labels[:cut])), (xs[cut:], np.array(labels[cut:]))
