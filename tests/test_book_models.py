"""Every spec of `specs/` builds the book's model: the same layer classes, output shapes and parameter counts as a
hand-written Keras 3 construction (`book_reference.py`), and the parameter counts the catalogue publishes.

Build only, no training. Nested models (GAN stacks, the VGG16 base) are compared layer by layer inside.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.keras

keras = pytest.importorskip("keras")

import book_reference

import kspec
from kspec import compiler

ROOT = Path(__file__).resolve().parents[1]
SPECS = {p.stem: p for p in sorted((ROOT / "specs").glob("*.yaml"))}

#: (total, trainable, non-trainable) per model, as `../shared/book_models.md` publishes them. A GAN stack counts
#: with its discriminator frozen, the discriminator on its own with its weights trainable.
PUBLISHED: dict[str, dict[str, tuple[int, int, int]]] = {
    "ch01_linear": {"ch01_linear": (2, 2, 0)},
    "ch02_ann_digits": {"ch02_ann_digits": (7_510, 7_510, 0)},  # quick-start spec: 64-100-10, not in the book
    "ch02_ann_mnist": {"ch02_ann_mnist": (79_510, 79_510, 0)},
    "ch02_ann_mnist_functional": {"ch02_ann_mnist_functional": (79_510, 79_510, 0)},
    "ch02_ann_boston": {"ch02_ann_boston": (76, 76, 0)},
    "ch03_dnn_mnist": {"ch03_dnn_mnist": (84_060, 84_060, 0)},
    "ch03_dnn_cifar10": {"ch03_dnn_cifar10": (312_860, 312_860, 0)},
    "ch04_cnn_mnist": {"ch04_cnn_mnist": (1_199_882, 1_199_882, 0)},
    "ch04_cnn_cifar10": {
        "cnn": (1_626_442, 1_626_442, 0),
        "cl_part": (19_392, 19_392, 0),
        "fl_part": (1_625_152, 1_625_152, 0),
    },
    "ch05_lstm_imdb": {"ch05_lstm_imdb": (2_691_713, 2_691_713, 0)},
    "ch05_lstm_airline": {"ch05_lstm_airline": (491, 491, 0)},
    "ch06_ae_fc_mnist": {
        "autoencoder": (57_268, 57_268, 0),
        "encoder": (28_260, 28_260, 0),
        "decoder": (29_008, 29_008, 0),
    },
    "ch06_ae_conv_mnist": {"ch06_ae_conv_mnist": (2_378, 2_378, 0)},
    "ch07_gan_prob": {
        "generator": (2_701, 2_701, 0),
        "discriminator": (12_651, 12_651, 0),
        "gan": (15_352, 2_701, 12_651),
    },
    "ch07_gan_prob_pure": {
        "generator": (2_701, 2_701, 0),
        "discriminator": (7_651, 7_651, 0),
        "gan": (10_352, 2_701, 7_651),
    },
    "ch07_gan_cnn_mnist": {
        "generator": (6_671_617, 6_659_073, 12_544),
        "discriminator": (3_485_441, 3_485_441, 0),
        "gan": (10_157_058, 6_659_073, 3_497_985),
    },
    "ch08_unet_cifar10": {"ch08_unet_cifar10": (119_683, 119_043, 640)},
    "ch08_unet_cifar10_rg": {"ch08_unet_cifar10_rg": (119_827, 119_187, 640)},
    "ch09_1_aug_cnn_cifar10": {"ch09_1_aug_cnn_cifar10": (1_626_442, 1_626_442, 0)},
    "ch09_2_vgg16_transfer": {
        "transfer": (14_781_642, 66_954, 14_714_688),
        "cl_part": (14_714_688, 0, 14_714_688),
        "fl_part": (14_780_352, 65_664, 14_714_688),
    },
    "ch09_3_ops": {"polynomial": (0, 0, 0), "statistics": (0, 0, 0)},
    "ch09_4_custom_layer": {"ch09_4_custom_layer": (2, 2, 0)},
    "ch09_5_tape_dnn_mnist": {"ch09_5_tape_dnn_mnist": (84_060, 84_060, 0)},
    "ch10_dqn_qnet": {"q_model": (722, 722, 0), "t_model": (722, 722, 0)},
    "ch11_controller": {"controller": (7, 7, 0)},
    "bonus_complex_dense": {"bonus_complex_dense": (4, 4, 0)},
}

#: Nested models whose inner layers kspec builds without static spatial sizes: keras.applications take their
#: input shape only from `input_shape=`, which kspec's catalogue refuses, so the VGG16 base is built for
#: (None, None, 3) and adapts to 32x32 when called. Inner shapes there are compared up to those unknown sizes.
UNSIZED_NESTED = {("ch09_2_vgg16_transfer", "vgg16")}

Row = tuple[str, Any, int]


def _shape(tensor: Any) -> Any:
    if isinstance(tensor, (list, tuple)):
        return [_shape(t) for t in tensor]
    return tuple(None if d is None else int(d) for d in tensor.shape)


def layer_rows(model: Any, nested_in: str = "") -> list[tuple[str, str, Any, int]]:
    """`(enclosing nested model, class, output shape, params)` per operation, nested models expanded in place.

    Input layers and the containers themselves are left out, so a book `Sequential([G, D])` and a spec's functional
    stack of the same two models give the same rows.
    """
    rows = []
    for op in model.operations if hasattr(model, "operations") else model.layers:  # Sequential: its layers
        if isinstance(op, keras.layers.InputLayer):
            continue
        if isinstance(op, keras.Model):
            rows.extend(layer_rows(op, op.name))
            continue
        params = int(op.count_params()) if getattr(op, "built", False) else 0
        rows.append((nested_in, type(op).__name__, _shape(op.output), params))
    return rows


def _count(weights: list[Any]) -> int:
    return sum(math.prod(w.shape) for w in weights)


@contextlib.contextmanager
def _frozen(models: dict[str, Any], names: set[str]) -> Iterator[None]:
    before = {n: models[n].trainable for n in names}
    for n in names:
        models[n].trainable = False
    try:
        yield
    finally:
        for n, flag in before.items():
            models[n].trainable = flag


def counts(models: dict[str, Any], frozen: dict[str, set[str]]) -> dict[str, tuple[int, int, int]]:
    out = {}
    for name, model in models.items():
        with _frozen(models, frozen.get(name, set())):
            out[name] = (_count(model.weights), _count(model.trainable_weights), _count(model.non_trainable_weights))
    return out


def _compatible(got: Any, want: Any) -> bool:
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(_compatible, got, want))
    return len(got) == len(want) and all(g is None or g == w for g, w in zip(got, want, strict=True))


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    return {}


def _kspec(name: str, cache: dict[str, Any]) -> Any:
    if name not in cache:
        cache[name] = kspec.build(SPECS[name])
    return cache[name]


def test_every_spec_has_a_reference_and_published_counts() -> None:
    assert set(SPECS) == set(book_reference.REFERENCES) == set(PUBLISHED)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_spec_builds_the_reference_model(name: str, built: dict[str, Any]) -> None:
    compiled = _kspec(name, built)
    ref = book_reference.REFERENCES[name]()
    assert set(compiled.models) == set(ref.models), "the spec defines other models than the book"
    for model_name, model in compiled.models.items():
        got, want = layer_rows(model), layer_rows(ref.models[model_name])
        assert [(c, p) for _, c, _, p in got] == [(c, p) for _, c, _, p in want], f"{model_name}: layers differ"
        for (nested, cls, shape, _), (_, _, ref_shape, _) in zip(got, want, strict=True):
            if (name, nested) in UNSIZED_NESTED:
                assert _compatible(shape, ref_shape), f"{model_name}/{nested}: {cls} {shape} vs {ref_shape}"
            else:
                assert shape == ref_shape, f"{model_name}: {cls} outputs {shape}, the book's {ref_shape}"
        assert _shape(model.outputs) == _shape(ref.models[model_name].outputs)
    assert counts(compiled.models, compiled.frozen) == counts(ref.models, ref.frozen)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_build_json_has_the_published_counts(name: str, built: dict[str, Any]) -> None:
    summary = compiler.summarize(_kspec(name, built), name)
    got = {m["name"]: (m["params"], m["trainable_params"], m["non_trainable_params"]) for m in summary["models"]}
    assert got == PUBLISHED[name]
