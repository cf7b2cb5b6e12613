"""Stage data: data sources -> NumPy splits: Keras datasets, scikit-learn, synthetic (`kspec.data.file_sources` has
the file formats). May import numpy, keras and tensorflow. One loader per source name, registered with
`@loader(name)`; `load` dispatches.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from kspec.data import csv_source as _csv_source  # noqa: F401  (registers csv)
from kspec.data import file_sources as _file_sources  # noqa: F401  (registers the file loaders)
from kspec.data import mask_sources as _mask_sources  # noqa: F401  (registers image_mask_folder)
from kspec.data.registry import (
    DOWNLOAD_TIMEOUT_S,
    LOADERS,
    SOURCE_PATH,
    Arrays,
    Context,
    DataUnavailableError,
    ModelShapes,
    Splits,
    holdout,
    loader,
)
from kspec.errors import SpecError, SpecErrors
from kspec.lang import data_sources as sd


def load(source: sd.SourceBase, ctx: Context) -> Splits:
    """Load a source into NumPy splits."""
    return LOADERS[source.type](source, ctx)


# ------------------------------------------------------------------------------------------------- Keras datasets

_GCS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
#: name -> (files Keras looks for under <keras home>/datasets, URL each one is downloaded from)
KERAS_FILES: dict[str, list[tuple[str, str]]] = {
    "mnist": [("mnist.npz", _GCS + "mnist.npz")],
    "fashion_mnist": [
        (f"fashion-mnist/{f}", _GCS + f)
        for f in (
            "train-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
        )
    ],
    "cifar10": [("cifar-10-batches-py-target_archive", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")],
    "cifar100": [("cifar-100-python-target_archive", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz")],
    "imdb": [("imdb.npz", _GCS + "imdb.npz")],
    "reuters": [("reuters.npz", _GCS + "reuters.npz")],
    "boston_housing": [("boston_housing.npz", _GCS + "boston_housing.npz")],
}


def keras_datasets_dir() -> Path:
    """The folder Keras caches datasets in: `$KERAS_HOME/datasets` or `~/.keras/datasets` (/tmp/.keras if read-only)."""
    try:
        from keras.src.backend import config

        home = Path(os.path.expanduser(config.keras_home()))
    except (ImportError, AttributeError):  # pragma: no cover - private API moved
        home = Path(os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras"))
    if not os.access(home, os.W_OK):
        home = Path("/tmp/.keras")
    return home / "datasets"


def _unavailable(name: str, exc: BaseException) -> DataUnavailableError:
    where = keras_datasets_dir()
    lines = [
        f"the Keras dataset '{name}' is not in Keras's cache and could not be downloaded "
        f"({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'no detail'})."
    ]
    for rel, url in KERAS_FILES[name]:
        path = where / rel
        state = "present, but Keras rejected it (incomplete or wrong hash)" if path.exists() else "missing"
        lines.append(f"  {path}  ({state})\n    download it on a machine with internet from {url}")
    lines.append(
        f"Copy the file(s) to exactly these paths (set KERAS_HOME to use another folder than {where.parent}),"
        " or run once with internet so Keras caches them."
    )
    return DataUnavailableError("\n".join(lines))


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Keras downloads with urllib and no timeout; bound each network operation so an unreachable host cannot hang."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def _call_keras(name: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    with _socket_timeout(DOWNLOAD_TIMEOUT_S):
        try:
            return fn(**kwargs)
        except (OSError, ValueError, EOFError, Exception) as exc:  # Keras re-raises URL errors as bare Exception
            if isinstance(exc, KeyboardInterrupt):  # pragma: no cover
                raise
            raise _unavailable(name, exc) from None


def _pair(loaded: Any) -> Splits:
    (x, y), (xt, yt) = loaded
    return Splits(Arrays(x, y), test=Arrays(xt, yt))


@loader("mnist", "fashion_mnist", "cifar10")
def _keras_images(src: sd.SourceBase, ctx: Context) -> Splits:
    import keras

    return _pair(_call_keras(src.type, getattr(keras.datasets, src.type).load_data))


@loader("cifar100")
def _cifar100(src: sd.Cifar100, ctx: Context) -> Splits:
    import keras

    return _pair(_call_keras("cifar100", keras.datasets.cifar100.load_data, label_mode=src.label_mode))


@loader("imdb", "reuters")
def _keras_sequences(src: sd.Imdb | sd.Reuters, ctx: Context) -> Splits:
    from kspec.data import word_sequences as ws

    coding = ws.Coding(**src.model_dump(exclude={"type", "test_split"}))
    if isinstance(src, sd.Reuters):
        return _pair(_call_keras(src.type, ws.load_reuters, coding=coding, test_split=src.test_split))
    return _pair(_call_keras(src.type, ws.load_imdb, coding=coding))


@loader("boston_housing")
def _boston(src: sd.BostonHousing, ctx: Context) -> Splits:
    import keras

    return _pair(
        _call_keras("boston_housing", keras.datasets.boston_housing.load_data, test_split=src.test_split, seed=src.seed)
    )


# ------------------------------------------------------------------------------------------------- scikit-learn


@loader("digits", "iris", "wine", "breast_cancer", "diabetes")
def _sklearn(src: Any, ctx: Context) -> Splits:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{src.type}")()
    x = np.asarray(bunch.data, dtype=np.float32)
    y = np.asarray(bunch.target, dtype=np.float32 if src.type == "diabetes" else np.int32)
    return holdout(x, y, src.test_split, src.seed)


# ------------------------------------------------------------------------------------------------- synthetic


@loader("synthetic")
def _synthetic(src: sd.Synthetic, ctx: Context) -> Splits:
    shapes = ctx.shapes
    several = shapes is not None and (len(shapes.input_shapes) > 1 or len(shapes.output_shapes) > 1)
    if shapes is not None and several and not src.input_shape and not src.output_shape:
        return _synthetic_named(src, shapes)
    in_shape = tuple(src.input_shape) if src.input_shape else shapes.input_shape if shapes else None
    out_shape = tuple(src.output_shape) if src.output_shape else shapes.output_shape if shapes else None
    if in_shape is None or (out_shape is None and src.task != "normal"):
        raise SpecErrors(
            [
                SpecError(
                    "synthetic data needs `input_shape` and `output_shape` (the model's are unknown)",
                    SOURCE_PATH,
                    "data-error",
                    hint="e.g. {type: synthetic, input_shape: [64], output_shape: [10]}",
                )
            ]
        )
    rng = np.random.default_rng(src.seed)
    n = src.samples + src.test_samples
    integer = src.vocab is not None or (shapes is not None and "int" in shapes.input_dtype)
    if src.task == "normal":
        x = rng.normal(src.mean, src.std, (n, *in_shape)).astype(np.float32)
        return holdout(x, None, src.test_samples / n, src.seed)
    if integer:
        x = rng.integers(0, src.vocab or 100, (n, *in_shape)).astype(np.int32)
        feats = np.stack([np.bincount(row, minlength=src.vocab or 100) for row in x.reshape(n, -1)]).astype(np.float32)
    else:
        x = rng.normal(src.mean, src.std, (n, *in_shape)).astype(np.float32)
        feats = x.reshape(n, -1)
    assert out_shape is not None
    units = int(np.prod(out_shape))
    weights = rng.normal(0, 1 / np.sqrt(feats.shape[1]), (feats.shape[1], units)).astype(np.float32)
    score = feats @ weights
    classify = src.task == "classification" or (src.task == "auto" and out_shape[-1] > 1)
    if classify and len(out_shape) == 1:  # class labels, one-hot encoded per batch unless the loss is sparse
        labels = np.argmax(score, -1).astype(np.int32)
        splits = holdout(x, labels, src.test_samples / n, src.seed)
        splits.one_hot = out_shape[-1]
        return splits
    if classify:
        y: Any = np.eye(out_shape[-1], dtype=np.float32)[np.argmax(score.reshape(n, -1, out_shape[-1]), -1)]
        y = y.reshape(n, *out_shape)
    else:
        y = score.reshape(n, *out_shape)
    return holdout(x, y, src.test_samples / n, src.seed)


def _synthetic_named(src: sd.Synthetic, shapes: ModelShapes) -> Splits:
    """Named arrays for a model with several inputs or outputs: each input random (integer ids for an integer input),
    each target from its own fixed random rule over all the inputs (one-hot rows for a classification output)."""
    rng = np.random.default_rng(src.seed)
    n = src.samples + src.test_samples
    x: dict[str, Any] = {}
    features = []
    for name, (shape, dtype) in shapes.input_shapes.items():
        if src.vocab is not None or "int" in dtype:
            vocab = src.vocab or 100
            ids = rng.integers(0, vocab, (n, *shape)).astype(np.int32)
            features.append(np.stack([np.bincount(row, minlength=vocab) for row in ids.reshape(n, -1)]))
            x[name] = ids
        else:
            x[name] = rng.normal(src.mean, src.std, (n, *shape)).astype(np.float32)
            features.append(x[name].reshape(n, -1))
    if src.task == "normal":
        return holdout(x, None, src.test_samples / n, src.seed)
    feats = np.concatenate(features, 1).astype(np.float32)
    y: dict[str, Any] = {}
    for name, shape in shapes.output_shapes.items():
        weights = rng.normal(0, 1 / np.sqrt(feats.shape[1]), (feats.shape[1], int(np.prod(shape))))
        score = (feats @ weights).astype(np.float32).reshape(n, *shape)
        if src.task == "classification" or (src.task == "auto" and shape[-1] > 1):
            y[name] = np.eye(shape[-1], dtype=np.float32)[np.argmax(score, -1)]
        else:
            y[name] = score
    return holdout(x, y, src.test_samples / n, src.seed)
