"""Every data source through the real loaders (Keras datasets read from files written in Keras's cache format into a
temporary KERAS_HOME), every preprocessing step, the tf.data pipeline, and the offline error."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.keras

keras = pytest.importorskip("keras")

from kspec.data.pipeline import pipeline
from kspec.data.registry import DataUnavailableError, ModelShapes
from kspec.data.steps import prepare
from kspec.errors import SpecErrors
from kspec.lang.data_spec import DataSpec

RNG = np.random.default_rng(0)


def _prepare(data: dict[str, Any], folder: Path | None = None, shapes: ModelShapes | None = None) -> Any:
    return prepare(DataSpec.model_validate(data), folder or Path("."), shapes)


# ------------------------------------------------------------------------------------------------ Keras datasets


def test_mnist(keras_home: Path) -> None:
    np.savez(
        keras_home / "mnist.npz",
        x_train=RNG.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        y_train=RNG.integers(0, 10, 20, dtype=np.uint8),
        x_test=RNG.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        y_test=RNG.integers(0, 10, 5, dtype=np.uint8),
    )
    s = _prepare({"source": "mnist", "preprocess": ["flatten", {"type": "scale", "divide": 255}, "one_hot"]})
    assert s.train.x.shape == (20, 784) and s.train.x.dtype == np.float32 and s.train.x.max() <= 1
    assert s.test.x.shape == (5, 784) and s.one_hot is not None and s.one_hot <= 10


def _idx(path: Path, array: Any, offset: int) -> None:
    with gzip.open(path, "wb") as fh:
        fh.write(b"\0" * offset + array.tobytes())


def test_fashion_mnist(keras_home: Path) -> None:
    folder = keras_home / "fashion-mnist"
    folder.mkdir()
    _idx(folder / "train-labels-idx1-ubyte.gz", RNG.integers(0, 10, 6, dtype=np.uint8), 8)
    _idx(folder / "train-images-idx3-ubyte.gz", RNG.integers(0, 256, (6, 28, 28), dtype=np.uint8), 16)
    _idx(folder / "t10k-labels-idx1-ubyte.gz", RNG.integers(0, 10, 2, dtype=np.uint8), 8)
    _idx(folder / "t10k-images-idx3-ubyte.gz", RNG.integers(0, 256, (2, 28, 28), dtype=np.uint8), 16)
    s = _prepare({"source": "fashion_mnist", "preprocess": ["add_channel"]})
    assert s.train.x.shape == (6, 28, 28, 1) and s.test.y.shape == (2,)


def _tar(path: Path, members: dict[str, Any]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in members.items():
            raw = pickle.dumps(obj)
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))


def test_cifar10(keras_home: Path) -> None:
    # Keras fills 5 preallocated blocks of 10,000 rows per data_batch; a one-image batch broadcasts into its block
    batch = {b"data": RNG.integers(0, 256, (1, 3072), dtype=np.uint8), b"labels": [3]}
    members = {f"cifar-10-batches-py/data_batch_{i}": batch for i in range(1, 6)}
    members["cifar-10-batches-py/test_batch"] = {
        b"data": RNG.integers(0, 256, (4, 3072), dtype=np.uint8),
        b"labels": [0, 1, 2, 3],
    }
    _tar(keras_home / "cifar-10-batches-py-target_archive", members)
    s = _prepare(
        {
            "source": "cifar10",
            "preprocess": [{"type": "take", "count": 8, "split": "train"}, {"type": "scale", "range": [-1, 1]}],
        }
    )
    assert s.train.x.shape == (8, 32, 32, 3) and s.train.y.shape == (8, 1)
    assert s.test.x.shape == (4, 32, 32, 3) and -1 <= s.train.x.min() and s.train.x.max() <= 1


def test_cifar100_coarse(keras_home: Path) -> None:
    def part(n: int) -> dict[bytes, Any]:
        return {
            b"data": RNG.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"fine_labels": list(range(n)),
            b"coarse_labels": [7] * n,
        }

    _tar(
        keras_home / "cifar-100-python-target_archive",
        {"cifar-100-python/train": part(6), "cifar-100-python/test": part(2)},
    )
    s = _prepare({"source": {"type": "cifar100", "label_mode": "coarse"}})
    assert s.train.x.shape == (6, 32, 32, 3) and set(s.train.y.ravel()) == {7}


def _ragged(rows: list[list[int]]) -> Any:
    out = np.empty(len(rows), dtype=object)
    out[:] = rows
    return out


def test_imdb_with_pad_sequences(keras_home: Path) -> None:
    seqs = [[5, 6, 7], [8, 9], [10, 11, 12, 13, 14], [30, 31]]
    np.savez(
        keras_home / "imdb.npz",
        x_train=_ragged(seqs),
        y_train=np.array([0, 1, 0, 1]),
        x_test=_ragged(seqs[:2]),
        y_test=np.array([1, 0]),
    )
    s = _prepare({"source": {"type": "imdb", "num_words": 20}, "preprocess": [{"type": "pad_sequences", "maxlen": 4}]})
    assert s.train.x.shape == (4, 4) and s.train.x.dtype == np.int32
    assert s.train.x.max() < 20  # words >= num_words became the OOV index


def test_imdb_unpadded_is_a_located_error(keras_home: Path) -> None:
    np.savez(
        keras_home / "imdb.npz",
        x_train=_ragged([[1, 2], [3]]),
        y_train=np.array([0, 1]),
        x_test=_ragged([[1], [2, 3]]),
        y_test=np.array([1, 0]),
    )
    with pytest.raises(SpecErrors) as info:
        _prepare({"source": "imdb"})
    assert info.value.errors[0].code == "data-mismatch" and "pad_sequences" in (info.value.errors[0].hint or "")


def test_reuters(keras_home: Path) -> None:
    np.savez(keras_home / "reuters.npz", x=_ragged([[1, 2, 3]] * 10), y=np.arange(10) % 3)
    s = _prepare({"source": "reuters", "preprocess": [{"type": "pad_sequences", "maxlen": 5}]})
    assert len(s.train) == 8 and len(s.test) == 2


def test_boston_housing_minmax_fitted_on_train(keras_home: Path) -> None:
    np.savez(keras_home / "boston_housing.npz", x=RNG.normal(size=(50, 13)) * 10, y=RNG.normal(size=50))
    s = _prepare({"source": "boston_housing", "preprocess": ["minmax"]})
    assert s.train.x.shape == (40, 13)
    assert np.allclose(s.train.x.min(0), 0) and np.allclose(s.train.x.max(0), 1, atol=1e-6)
    assert not np.allclose(s.test.x.min(0), 0)  # statistics come from the training split only


def test_offline_names_dataset_and_cache_path(keras_home: Path) -> None:
    with pytest.raises(DataUnavailableError) as info:
        _prepare({"source": "mnist"})
    text = str(info.value)
    assert "'mnist'" in text and str(keras_home / "mnist.npz") in text and "KERAS_HOME" in text


def test_offline_cifar_names_archive(keras_home: Path) -> None:
    with pytest.raises(DataUnavailableError) as info:
        _prepare({"source": "cifar10"})
    assert "cifar-10-batches-py-target_archive" in str(info.value) and "cifar-10-python.tar.gz" in str(info.value)


# ------------------------------------------------------------------------------------------------ other sources


@pytest.mark.parametrize("name", ["digits", "iris", "wine", "breast_cancer", "diabetes"])
def test_sklearn(name: str) -> None:
    s = _prepare({"source": {"type": name, "test_split": 0.25}})
    assert len(s.test) / (len(s.train) + len(s.test)) == pytest.approx(0.25, abs=0.01)
    assert s.train.x.dtype == np.float32


def test_npz_and_npy(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "d.npz", x_train=np.ones((4, 3)), y_train=np.arange(4), x_test=np.ones((2, 3)), y_test=np.arange(2)
    )
    s = _prepare({"source": {"type": "npz", "path": "d.npz"}}, tmp_path)
    assert s.train.x.dtype == np.float32 and s.test.x.shape == (2, 3)
    np.save(tmp_path / "x.npy", np.zeros((5, 2)))
    np.save(tmp_path / "y.npy", np.ones(5))
    s = _prepare({"source": {"type": "npy", "path": "x.npy", "targets": "y.npy"}}, tmp_path)
    assert s.train.y.shape == (5,) and s.test is None


def test_npz_missing_array_suggests(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", images=np.ones((4, 3)))
    with pytest.raises(SpecErrors) as info:
        _prepare({"source": {"type": "npz", "path": "d.npz", "x": "image"}}, tmp_path)
    err = info.value.errors[0]
    assert err.path == ("data", "source", "x") and err.hint == "did you mean 'images'?"


def test_paths_stay_inside_the_spec_folder(tmp_path: Path) -> None:
    (tmp_path / "spec").mkdir()
    np.save(tmp_path / "x.npy", np.zeros(3))
    with pytest.raises(SpecErrors) as info:
        _prepare({"source": {"type": "npy", "path": "../x.npy"}}, tmp_path / "spec")
    assert info.value.errors[0].path == ("data", "source", "path") and "leaves" in info.value.errors[0].message


def test_csv_airline_windows(tmp_path: Path) -> None:
    lines = ["Month,Passengers"] + [f"1949-{i},{100 + i}" for i in range(30)] + ["", "footer", "footer"]
    (tmp_path / "air.csv").write_text("\n".join(lines) + "\n")
    s = _prepare(
        {
            "source": {"type": "csv", "path": "air.csv", "features": ["Passengers"], "skip_footer": 2},
            "preprocess": [
                "standardize",
                {"type": "scale", "divide": 5},
                {"type": "window", "size": 12},
                {"type": "split", "test": 0.2, "seed": 42},
            ],
        },
        tmp_path,
    )
    assert s.train.x.shape[1:] == (12, 1) and len(s.train) + len(s.test) == 30 - 12


def test_csv_unknown_column(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SpecErrors) as info:
        _prepare({"source": {"type": "csv", "path": "a.csv", "features": ["A"]}}, tmp_path)
    assert info.value.errors[0].path == ("data", "source", "features", 0)


def test_image_folder(tmp_path: Path) -> None:
    import tensorflow as tf

    for label in ("cat", "dog"):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(3):
            png = tf.io.encode_png(RNG.integers(0, 256, (10, 12, 3), dtype=np.uint8))
            (tmp_path / "imgs" / label / f"{i}.png").write_bytes(png.numpy())
    s = _prepare(
        {"source": {"type": "image_folder", "path": "imgs", "image_size": [8, 8], "color_mode": "grayscale"}}, tmp_path
    )
    assert s.train.x.shape == (6, 8, 8, 1) and sorted(set(s.train.y)) == [0, 1]


def test_text_folder(tmp_path: Path) -> None:
    for label, word in (("neg", "bad"), ("pos", "good")):
        (tmp_path / "t" / label).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "t" / label / f"{i}.txt").write_text(f"a {word} movie {i}")
    s = _prepare({"source": {"type": "text_folder", "path": "t", "sequence_length": 6}}, tmp_path)
    assert s.train.x.shape == (6, 6) and s.train.x.dtype == np.int32


def test_synthetic_from_model_shapes() -> None:
    s = _prepare({"source": {"type": "synthetic", "samples": 50, "test_samples": 10}}, shapes=ModelShapes((8,), (3,)))
    # classification targets are class labels, one-hot encoded per batch (so a sparse loss trains on them too)
    assert s.train.x.shape == (50, 8) and s.train.y.shape == (50,) and s.one_hot == 3 and s.test.x.shape == (10, 8)
    assert set(s.train.y.tolist()) <= {0, 1, 2}
    s = _prepare({"source": {"type": "synthetic", "samples": 20, "vocab": 30}}, shapes=ModelShapes((5,), (1,), "int32"))
    assert s.train.x.dtype == np.int32 and s.train.x.max() < 30


# ------------------------------------------------------------------------------------------------ steps


def _images(tmp_path: Path, n: int = 6) -> Path:
    np.savez(tmp_path / "img.npz", x_train=RNG.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8), y_train=np.arange(n) % 3)
    return tmp_path


def test_input_as_target_then_gray_makes_colourisation_pairs(tmp_path: Path) -> None:
    s = _prepare(
        {
            "source": {"type": "npz", "path": "img.npz"},
            "preprocess": [{"type": "scale", "divide": 255}, "input_as_target", "rgb_to_gray"],
        },
        _images(tmp_path),
    )
    assert s.train.x.shape == (6, 4, 4, 1) and s.train.y.shape == (6, 4, 4, 3)
    expected = s.train.y @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    assert np.allclose(s.train.x[..., 0], expected, atol=1e-5)


def test_channels_reshape_cast_sparse(tmp_path: Path) -> None:
    s = _prepare(
        {
            "source": {"type": "npz", "path": "img.npz"},
            "preprocess": [
                {"type": "channels", "keep": [0, 1]},
                {"type": "reshape", "shape": [16, 2]},
                {"type": "cast", "dtype": "float32"},
                {"type": "one_hot"},
                "sparse",
            ],
        },
        _images(tmp_path),
    )
    assert s.train.x.shape == (6, 16, 2) and s.train.x.dtype == np.float32
    assert s.one_hot is None and s.train.y.shape == (6,)


def test_take_fraction_and_split_with_seed(tmp_path: Path) -> None:
    data = {
        "source": {"type": "npz", "path": "img.npz"},
        "preprocess": [
            {"type": "take", "fraction": 0.5, "seed": 1},
            {"type": "split", "validation": 0.2, "test": 0.2, "seed": 3},
        ],
    }
    a, b = _prepare(data, _images(tmp_path, 40)), _prepare(data, tmp_path)
    assert (len(a.train), len(a.validation), len(a.test)) == (12, 4, 4)
    assert np.array_equal(a.train.x, b.train.x)


def test_standardize_all(tmp_path: Path) -> None:
    s = _prepare(
        {"source": {"type": "npz", "path": "img.npz"}, "preprocess": [{"type": "standardize", "axis": "all"}]},
        _images(tmp_path),
    )
    assert abs(float(s.train.x.mean())) < 1e-4 and abs(float(s.train.x.std()) - 1) < 1e-3


def test_one_hot_classes_too_small(tmp_path: Path) -> None:
    with pytest.raises(SpecErrors) as info:
        _prepare(
            {"source": {"type": "npz", "path": "img.npz"}, "preprocess": [{"type": "one_hot", "classes": 2}]},
            _images(tmp_path),
        )
    assert info.value.errors[0].path == ("data", "preprocess", 0, "classes")


def test_pipeline_one_hot_augment_and_autoencoder(tmp_path: Path) -> None:
    s = _prepare(
        {
            "source": {"type": "npz", "path": "img.npz"},
            "preprocess": [
                {"type": "scale", "divide": 255},
                "one_hot",
                {"type": "augment", "layers": [{"type": "RandomFlip", "mode": "horizontal"}]},
            ],
        },
        _images(tmp_path),
    )
    from kspec.data.pipeline import augmentation_layers

    ds = pipeline(
        s.train, batch_size=4, shuffle=True, seed=0, one_hot=s.one_hot, augment=augmentation_layers(s.augment)
    )
    xb, yb = next(iter(ds))
    assert xb.shape == (4, 4, 4, 3) and yb.shape == (4, 3)
    assert [len(b[0]) for b in ds] == [4, 2]
    s.train.y = s.train.x
    xb, yb = next(iter(pipeline(s.train, batch_size=6)))
    assert np.array_equal(xb.numpy(), yb.numpy())


def test_pipeline_shuffle_is_seeded(tmp_path: Path) -> None:
    s = _prepare({"source": {"type": "npz", "path": "img.npz"}}, _images(tmp_path, 30))

    def order() -> list[int]:
        return [int(v) for _, y in pipeline(s.train, batch_size=30, shuffle=True, seed=5) for v in y.numpy()]

    assert order() == order()


def test_preprocess_input_caffe_is_bgr_minus_imagenet_means(tmp_path: Path) -> None:
    pixels = np.zeros((2, 2, 2, 3), dtype=np.uint8)
    pixels[..., 0] = 255  # pure red
    np.savez(tmp_path / "img.npz", x=pixels, y=np.array([0, 1]))
    s = _prepare({"source": {"type": "npz", "path": "img.npz", "x": "x", "y": "y"},
                  "preprocess": [{"type": "preprocess_input", "mode": "caffe"}]}, tmp_path)  # fmt: skip
    np.testing.assert_allclose(s.train.x[0, 0, 0], [-103.939, -116.779, 255 - 123.68], rtol=1e-5)


@pytest.mark.parametrize("on", ["y", "both"])
def test_standardize_targets_on_their_own_statistics(on: str) -> None:
    # a regression's targets in the hundreds make its loss unreadable (1.5e+04); `on: y` / `on: both` scale them
    source = {"type": "diabetes", "test_split": 0.2, "seed": 0}
    s = _prepare({"source": source, "preprocess": [{"type": "standardize", "on": on}]})
    assert abs(float(s.train.y.mean())) < 1e-5 and abs(float(s.train.y.std()) - 1) < 1e-4
    assert (abs(float(s.train.x.std(axis=0).mean()) - 1) < 1e-4) == (on == "both")
    assert abs(float(s.test.y.mean())) < 0.3  # the test split with the training split's statistics
