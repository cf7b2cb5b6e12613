"""Every spec with a `train:` section trains a few steps -- its own data section and preprocessing, on small
fabricated Keras datasets of the right shapes and dtypes -- and its loss is finite and goes down.

`keras.datasets.*.load_data` are replaced by tiny random arrays shaped like the real ones (uint8 images, (n, 1)
CIFAR labels, ragged IMDB word-index lists, Boston's 13 features), so the specs' real preprocessing steps run
offline; the CSV files next to the specs are the real data. Epochs and batch sizes are cut down with overrides,
exactly as `kspec train --set ...` would.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.keras

keras = pytest.importorskip("keras")

import kspec
from kspec.training import trainer

ROOT = Path(__file__).resolve().parents[2]
SPECS = {p.stem: p for p in sorted((ROOT / "specs").glob("*.yaml"))}

#: Specs with no `train:` section, and why.
MODEL_ONLY = {
    "ch09_3_ops": "weight-free models: the book only calls predict_on_batch",
    "ch10_dqn_qnet": "the book trains it with a DQN loop on CartPole, which no kspec recipe expresses",
    "ch11_controller": "its training target comes through TensorFlow Quantum's ControlledPQC (not on Keras 3)",
    "bonus_complex_dense": "two input and two target arrays, which kspec's data section does not feed",
}

#: Per-spec overrides on top of `COMMON`: small batches so that a few epochs make several steps.
OVERRIDES: dict[str, list[str]] = {
    "ch01_linear": ["train.epochs=5"],
    "ch09_4_custom_layer": ["train.epochs=5"],
    # random labels and Dropout(0.5): with seed 0's epoch orders the loss first rises, then falls
    "ch09_5_tape_dnn_mnist": ["train.epochs=5"],
    # a GAN's losses are not monotone; with short epochs the discriminator's first-epoch loss (from chance, ~0.69)
    # is above its later ones
    "ch07_gan_prob": ["data.source.samples=4", "train.epochs=5", "train.gan.sample_every=100"],
    "ch07_gan_prob_pure": ["data.source.samples=4", "train.epochs=5", "train.gan.sample_every=100"],
    "ch07_gan_cnn_mnist": ["train.batch_size=8", "train.gan.sample_every=100"],
    "ch09_1_aug_cnn_cifar10": ["train.batch_size=8", "train.steps_per_epoch=4"],
    "ch09_2_vgg16_transfer": ["train.batch_size=8", "train.steps_per_epoch=4"],
}
#: XLA compilation and multi-step execution cost seconds per model on a 2-core CI machine, more than a few steps
#: of training; tests/keras/test_trainer.py covers that fast path.
COMMON = [
    "train.epochs=3",
    "train.verbose=0",
    "train.plots=none",
    "train.batch_size=16",
    "train.jit_compile=false",
    "train.steps_per_execution=1",
]
KEEP_BATCH = {"ch01_linear", "ch09_4_custom_layer", "ch07_gan_prob", "ch07_gan_prob_pure"}

N_TRAIN, N_TEST = 96, 16


def _images(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> Any:
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8)


def _fake_datasets(monkeypatch: pytest.MonkeyPatch, keras_home: Path, n_cifar: int = N_TRAIN) -> None:
    """Replace the Keras image and housing loaders by ones returning tiny random datasets of the real shapes and
    dtypes; write a tiny `imdb.npz` in Keras's format (kspec reads that file itself)."""
    rng = np.random.default_rng(0)

    def images(shape: tuple[int, ...], label_shape: tuple[int, ...], n_train: int = N_TRAIN) -> Any:
        def load_data(**_: Any) -> Any:
            return (
                (_images(rng, n_train, shape), rng.integers(0, 10, (n_train, *label_shape), dtype=np.uint8)),
                (_images(rng, N_TEST, shape), rng.integers(0, 10, (N_TEST, *label_shape), dtype=np.uint8)),
            )

        return load_data

    def reviews(n: int) -> tuple[Any, Any]:  # raw word ranks, as imdb.npz stores them (kspec's loader offsets them)
        labels = rng.integers(0, 2, n)
        seqs = np.empty(n, dtype=object)
        seqs[:] = [rng.integers(1, 19_000, rng.integers(20, 120)).tolist() + [2 + int(y)] * 10 for y in labels]
        return seqs, labels.astype(np.int64)

    (x, y), (xt, yt) = reviews(N_TRAIN), reviews(N_TEST)
    np.savez(keras_home / "imdb.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)

    def boston(test_split: float = 0.2, seed: int = 113) -> Any:
        x = rng.uniform(0, 100, (N_TRAIN + N_TEST, 13))
        y = 10 + x[:, :3].mean(axis=1) / 5
        return (x[:N_TRAIN], y[:N_TRAIN]), (x[N_TRAIN:], y[N_TRAIN:])

    monkeypatch.setattr(keras.datasets.mnist, "load_data", images((28, 28), ()))
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", images((32, 32, 3), (1,), n_train=n_cifar))
    monkeypatch.setattr(keras.datasets.boston_housing, "load_data", boston)


def test_model_only_specs_have_no_train_section() -> None:
    for name in MODEL_ONLY:
        spec = kspec.load(SPECS[name]).spec
        assert spec.train is None and spec.data is None, name


TRAINED = sorted(set(SPECS) - set(MODEL_ONLY))


@pytest.mark.parametrize("name", TRAINED)
def test_spec_trains_and_its_loss_falls(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keras_home: Path
) -> None:
    # ch9.1/9.2 keep a 2% subset of the training images: 1,600 fabricated images give 32 -> 26 train / 6 held out
    _fake_datasets(monkeypatch, keras_home, n_cifar=1600 if name.startswith(("ch09_1", "ch09_2")) else N_TRAIN)
    common = [o for o in COMMON if not (name in KEEP_BATCH and o.startswith("train.batch_size"))]
    resolved = kspec.load(SPECS[name], [*common, *OVERRIDES.get(name, [])])
    kspec.check(resolved)
    result = trainer.train(resolved, out=tmp_path / "run")
    assert all(math.isfinite(v) for values in result.history.values() for v in values), result.history
    epochs = 5 if "train.epochs=5" in OVERRIDES.get(name, []) else 3
    assert resolved.spec.train is not None
    if resolved.spec.train.recipe == "gan":
        # an adversarial game: one player's loss falls while the other's may rise as it is outplayed
        d, g = result.history["d_loss"], result.history["g_loss"]
        assert len(d) == len(g) == epochs
        assert d[-1] < d[0] or g[-1] < g[0], f"{name}: neither loss fell: {result.history}"
    else:
        losses = result.history["loss"]
        assert len(losses) == epochs
        assert losses[-1] < losses[0], f"{name}: the loss did not fall: {losses}"
