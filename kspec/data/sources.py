"""Stage 4, build: data sources -> NumPy splits (Keras datasets, scikit-learn, files, synthetic). Behind the wall.

Imported by `kspec.data` only; may import numpy, keras and tensorflow. One loader per source name, registered
with `@_loader(name)`; every loader returns a `Splits` of NumPy arrays.
"""

from __future__ import annotations

import contextlib
import csv
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kspec import paths as data_paths
from kspec.errors import SpecError, SpecErrors, shorten
from kspec.lang import data_spec as sd

SOURCE_PATH = ("data", "source")
DOWNLOAD_TIMEOUT_S = 20.0


class DataUnavailableError(RuntimeError):
    """A Keras dataset is neither in Keras's cache nor downloadable (e.g. offline); the message says where to put it."""


@dataclass
class Arrays:
    """Inputs and (optionally) targets of one split; `y is x` means the inputs are the targets."""

    x: Any
    y: Any | None = None

    def __len__(self) -> int:
        return len(self.x)

    def to_tensors(self) -> Arrays:
        """The same split held as TensorFlow tensors instead of NumPy arrays, so the training pipeline does not keep
        a second copy of the data (the NumPy arrays are released once nothing else refers to them)."""
        import tensorflow as tf

        x = tf.convert_to_tensor(self.x)
        y = x if self.y is self.x else None if self.y is None else tf.convert_to_tensor(self.y)
        return Arrays(x, y)


@dataclass
class Splits:
    """Train / validation / test arrays plus what the pipeline does per batch."""

    train: Arrays
    validation: Arrays | None = None
    test: Arrays | None = None
    one_hot: int | None = None
    augment: list[dict[str, Any]] = field(default_factory=list)

    def named(self) -> dict[str, Arrays]:
        return {k: v for k, v in (("train", self.train), ("validation", self.validation), ("test", self.test)) if v}


@dataclass
class ModelShapes:
    """Per-example shapes of the main model, used by `synthetic` (batch axis excluded)."""

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_dtype: str = "float32"


@dataclass
class Context:
    folder: Path
    shapes: ModelShapes | None = None


Loader = Callable[[Any, Context], Splits]
LOADERS: dict[str, Loader] = {}


def _loader(*names: str) -> Callable[[Loader], Loader]:
    def deco(fn: Loader) -> Loader:
        for name in names:
            LOADERS[name] = fn
        return fn

    return deco


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


@_loader("mnist", "fashion_mnist", "cifar10")
def _keras_images(src: sd.SourceBase, ctx: Context) -> Splits:
    import keras

    return _pair(_call_keras(src.type, getattr(keras.datasets, src.type).load_data))


@_loader("cifar100")
def _cifar100(src: sd.Cifar100, ctx: Context) -> Splits:
    import keras

    return _pair(_call_keras("cifar100", keras.datasets.cifar100.load_data, label_mode=src.label_mode))


@_loader("imdb", "reuters")
def _keras_sequences(src: sd.Imdb | sd.Reuters, ctx: Context) -> Splits:
    from kspec.data import word_sequences as ws

    coding = ws.Coding(**src.model_dump(exclude={"type", "test_split"}))
    if isinstance(src, sd.Reuters):
        return _pair(_call_keras(src.type, ws.load_reuters, coding=coding, test_split=src.test_split))
    return _pair(_call_keras(src.type, ws.load_imdb, coding=coding))


@_loader("boston_housing")
def _boston(src: sd.BostonHousing, ctx: Context) -> Splits:
    import keras

    return _pair(
        _call_keras("boston_housing", keras.datasets.boston_housing.load_data, test_split=src.test_split, seed=src.seed)
    )


# ------------------------------------------------------------------------------------------------- scikit-learn


def _holdout(x: Any, y: Any, fraction: float, seed: int) -> Splits:
    if fraction <= 0:
        return Splits(Arrays(x, y))
    order = np.random.default_rng(seed).permutation(len(x))
    cut = len(x) - max(1, round(len(x) * fraction))
    tr, te = order[:cut], order[cut:]
    return Splits(Arrays(x[tr], None if y is None else y[tr]), test=Arrays(x[te], None if y is None else y[te]))


@_loader("digits", "iris", "wine", "breast_cancer", "diabetes")
def _sklearn(src: Any, ctx: Context) -> Splits:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{src.type}")()
    x = np.asarray(bunch.data, dtype=np.float32)
    y = np.asarray(bunch.target, dtype=np.float32 if src.type == "diabetes" else np.int32)
    return _holdout(x, y, src.test_split, src.seed)


# ------------------------------------------------------------------------------------------------- files


def resolve_path(
    ctx: Context, rel: str, path: tuple[str | int, ...] = (*SOURCE_PATH, "path"), kind: data_paths.Kind = "file"
) -> Path:
    """`rel` against the spec's folder: not a URL nor absolute, inside the folder (symlinks followed), and an
    existing regular file (or folder, for `kind="folder"`); the same rules as `spec_data.check_data`."""
    try:
        full = data_paths.resolve_inside(ctx.folder, rel)
    except data_paths.PathProblem as problem:
        raise SpecErrors([SpecError(problem.message, path, "data-error", hint=problem.hint)]) from None
    wrong = data_paths.kind_problem(full, rel, kind)
    if wrong is not None:
        raise SpecErrors([SpecError(wrong.message, path, "data-error", hint=wrong.hint)])
    if not full.exists():
        raise SpecErrors(
            [
                SpecError(
                    f"no {kind} {shorten(rel)} next to the spec (looked for {full})",
                    path,
                    "data-error",
                    hint="paths are relative to the spec file's folder",
                )
            ]
        )
    return full


def _npz_member(archive: Any, key: str | None, field_name: str) -> Any:
    if key is None:
        return None
    if key not in archive.files:
        from kspec.errors import did_you_mean

        raise SpecErrors(
            [
                SpecError(
                    f"the archive has no array '{key}'",
                    (*SOURCE_PATH, field_name),
                    "data-error",
                    hint=did_you_mean(key, archive.files) or f"it has: {', '.join(archive.files)}",
                )
            ]
        )
    return archive[key]


@_loader("npz")
def _npz(src: sd.Npz, ctx: Context) -> Splits:
    with np.load(resolve_path(ctx, src.path), allow_pickle=False) as archive:
        x = _npz_member(archive, src.x, "x")
        y = _npz_member(archive, src.y, "y") if src.y in archive.files or src.y != "y_train" else None
        has_test = src.x_test is not None and (src.x_test in archive.files or src.x_test != "x_test")
        xt = _npz_member(archive, src.x_test, "x_test") if has_test else None
        yt = _npz_member(archive, src.y_test, "y_test") if has_test and y is not None else None
    return Splits(Arrays(x, y), test=Arrays(xt, yt) if xt is not None else None)


@_loader("npy")
def _npy(src: sd.Npy, ctx: Context) -> Splits:
    x = np.load(resolve_path(ctx, src.path), allow_pickle=False)
    y = np.load(resolve_path(ctx, src.targets, (*SOURCE_PATH, "targets")), allow_pickle=False) if src.targets else None
    return Splits(Arrays(x, y))


@_loader("csv")
def _csv(src: sd.Csv, ctx: Context) -> Splits:
    from kspec.errors import did_you_mean

    with resolve_path(ctx, src.path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter=src.delimiter))
    header, body = rows[0], [r for r in rows[1 : len(rows) - src.skip_footer] if r]
    errors = []
    for key in ("features", "targets"):
        for i, name in enumerate(getattr(src, key)):
            if name not in header:
                errors.append(
                    SpecError(
                        f"the CSV file has no column '{name}'",
                        (*SOURCE_PATH, key, i),
                        "data-error",
                        hint=did_you_mean(name, header) or f"its columns: {', '.join(header)}",
                    )
                )
    if errors:
        raise SpecErrors(errors)

    def columns(names: list[str]) -> Any:
        idx = [header.index(n) for n in names]
        try:
            return np.array([[float(r[i]) for i in idx] for r in body], dtype=np.float32)
        except (ValueError, IndexError) as exc:
            raise SpecErrors(
                [
                    SpecError(
                        f"the CSV file has a non-numeric or missing value ({exc})", (*SOURCE_PATH, "path"), "data-error"
                    )
                ]
            ) from None

    return Splits(Arrays(columns(src.features), columns(src.targets) if src.targets else None))


@_loader("image_folder")
def _image_folder(src: sd.ImageFolder, ctx: Context) -> Splits:
    import keras

    ds = keras.utils.image_dataset_from_directory(
        str(resolve_path(ctx, src.path, kind="folder")),
        image_size=tuple(src.image_size),
        color_mode=src.color_mode,
        batch_size=None,
        shuffle=False,
        label_mode="int",
        verbose=False,
    )
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in ds), strict=True) if ds.cardinality() else ((), ())
    return _holdout(np.stack(xs).astype(np.float32), np.array(ys, dtype=np.int32), src.test_split, src.seed)


@_loader("text_folder")
def _text_folder(src: sd.TextFolder, ctx: Context) -> Splits:
    import keras

    ds = keras.utils.text_dataset_from_directory(
        str(resolve_path(ctx, src.path, kind="folder")), batch_size=None, shuffle=False, verbose=False
    )
    texts, labels = zip(*((t.numpy().decode("utf-8", "replace"), int(y)) for t, y in ds), strict=True)
    split = _holdout(np.array(texts, dtype=object), np.array(labels, dtype=np.int32), src.test_split, src.seed)
    vectorize = keras.layers.TextVectorization(max_tokens=src.max_tokens, output_sequence_length=src.sequence_length)
    vectorize.adapt(list(split.train.x))
    for part in split.named().values():
        part.x = np.asarray(vectorize(list(part.x)), dtype=np.int32)
    return split


# ------------------------------------------------------------------------------------------------- synthetic


@_loader("synthetic")
def _synthetic(src: sd.Synthetic, ctx: Context) -> Splits:
    shapes = ctx.shapes
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
        return _holdout(x, None, src.test_samples / n, src.seed)
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
    if classify:
        y: Any = np.eye(out_shape[-1], dtype=np.float32)[np.argmax(score.reshape(n, -1, out_shape[-1]), -1)]
        y = y.reshape(n, *out_shape)
    else:
        y = score.reshape(n, *out_shape)
    return _holdout(x, y, src.test_samples / n, src.seed)
