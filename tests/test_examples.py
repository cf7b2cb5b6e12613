"""Every spec of `specs/examples/` builds the model its Keras example builds -- the same layer classes, the same
parameter counts and the same outputs for the same weights as the hand-written Keras 3 code in
`examples_reference.py` -- and trains a few steps on small data the test writes.

Sizes are cut down with `vars` overrides (exactly as `kspec train --set vars.maxlen=16` would) and the reference is
built with the same sizes, so the comparison stays cheap.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.keras

keras = pytest.importorskip("keras")

import examples_reference as ref

import kspec
from kspec import compiler
from kspec.training import trainer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "specs" / "examples"


def _data_tool() -> Any:
    spec = importlib.util.spec_from_file_location("example_data", ROOT / "tools" / "example_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


DATA = _data_tool()
RNG = np.random.default_rng(0)


@dataclass
class Example:
    vars: dict[str, Any]  # small sizes for the spec's vars, also the reference's arguments
    data: Callable[[], dict[str, np.ndarray]]  # the file the spec reads, made small
    file: str
    inputs: Callable[[], Any]  # a batch for the output comparison
    compare: list[str] = field(default_factory=list)  # models whose outputs must agree (default: the spec's main one)


CASES: dict[str, Example] = {
    "transformer_text_classifier": Example(
        {"vocab_size": 100, "maxlen": 16, "embed_dim": 8, "num_heads": 2, "ff_dim": 8},
        lambda: DATA.tokens(n=32, maxlen=16, vocab=100), "imdb_tokens.npz",
        lambda: RNG.integers(0, 100, (4, 16)).astype("int32"),
    ),
    "vae_mnist": Example({"latent_dim": 2}, lambda: DATA.digits(n=16), "digits.npz",
                         lambda: RNG.random((4, 28, 28, 1)).astype("float32"), ["encoder", "decoder"]),
    "dcgan_mnist": Example({"latent_dim": 8}, lambda: DATA.digits(n=16), "digits.npz",
                           lambda: RNG.random((4, 28, 28, 1)).astype("float32"), ["discriminator", "generator"]),
    "resnet_cifar": Example({}, lambda: DATA.images(n=16), "images.npz",
                            lambda: RNG.random((4, 32, 32, 3)).astype("float32")),
    "unet_segmentation": Example({"img_size": 32, "num_classes": 3}, lambda: DATA.pets(n=4, size=32), "pets.npz",
                                 lambda: RNG.random((2, 32, 32, 3)).astype("float32")),
    "bidirectional_lstm_imdb": Example({"max_features": 100}, lambda: DATA.tokens(n=16, maxlen=12, vocab=100),
                                       "imdb_tokens.npz", lambda: RNG.integers(0, 100, (4, 12)).astype("int32")),
    "conv1d_timeseries": Example({"steps": 40}, lambda: DATA.series(n=16, steps=40), "series.npz",
                                 lambda: RNG.random((4, 40, 1)).astype("float32")),
    "denoising_autoencoder": Example({}, lambda: DATA.digits(n=16), "digits.npz",
                                     lambda: RNG.random((4, 28, 28, 1)).astype("float32")),
    "vit_classifier": Example(
        {"image_size": 16, "patch_size": 4, "num_patches": 16, "hidden_dim": 8, "projection_dim": 4, "num_heads": 2,
         "transformer_layers": 2, "ff_dim": 16, "mlp_head_units": [12, 6], "num_classes": 10},
        lambda: DATA.images(n=16), "images.npz", lambda: RNG.random((4, 32, 32, 3)).astype("float32"),
    ),
    "ticket_classifier": Example(
        {"num_words": 100, "num_tags": 12, "num_departments": 4},
        lambda: DATA.tickets(n=16, title=6, body=12, words=100), "tickets.npz",
        lambda: [RNG.integers(1, 100, (4, 6)).astype("float32"), RNG.integers(1, 100, (4, 12)).astype("float32"),
                 RNG.integers(0, 2, (4, 12)).astype("float32")],
    ),
    "siamese_contrastive": Example({}, lambda: DATA.digits(n=20), "digits.npz",
                                   lambda: {"siamese": [RNG.random((4, 28, 28, 1)).astype("float32") for _ in "lr"],
                                            "embedding": RNG.random((4, 28, 28, 1)).astype("float32")},
                                   ["siamese", "embedding"]),
    "lstm_seq2seq": Example(
        {"num_encoder_tokens": 7, "num_decoder_tokens": 9, "latent_dim": 8},
        lambda: DATA.translations(n=16, encoder_tokens=7, decoder_tokens=9, steps=6), "fra_eng.npz",
        lambda: [RNG.random((4, 5, 7)).astype("float32"), RNG.random((4, 6, 9)).astype("float32")],
    ),
}  # fmt: skip


def test_every_example_has_a_case_and_a_reference() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.yaml")) == sorted(CASES) == sorted(ref.KERAS_CODE)


def _overrides(case: Example) -> list[str]:
    return [f"vars.{k}={v}" for k, v in case.vars.items()]


def _weighted_classes(layer: Any) -> list[str]:
    """Classes of the layers that own weights, depth first (nested models and custom layers flattened)."""
    subs = list(layer._flatten_layers(include_self=False, recursive=False))
    if not subs:
        return [type(layer).__name__] if layer.weights else []
    return [name for sub in subs for name in _weighted_classes(sub)]


def _inputs(model: Any, x: Any) -> Any:
    if isinstance(x, dict):  # a batch per model
        return x[model.name]
    if model.name == "generator" or model.name == "decoder":  # latent vectors
        return RNG.standard_normal((4, *model.inputs[0].shape[1:])).astype("float32")
    return x


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_equals_its_keras_reference(name: str) -> None:
    case = CASES[name]
    compiled = compiler.build(kspec.load(EXAMPLES / f"{name}.yaml", _overrides(case)))
    references = getattr(ref, f"build_{name}")(**case.vars)
    for model_name, theirs in references.items():
        ours = compiled.models[model_name]
        if not theirs.built:  # a subclassed model (the VAE's custom train_step) holds the same nested models
            continue
        assert _weighted_classes(ours) == _weighted_classes(theirs), model_name
        assert ours.count_params() == theirs.count_params(), model_name
    x = case.inputs()
    for model_name in case.compare or [compiled.main]:
        ours, theirs = compiled.models[model_name], references[model_name]
        theirs.set_weights(ours.get_weights())
        batch = _inputs(ours, x)
        got, want = ours.predict(batch, verbose=0), theirs.predict(batch, verbose=0)
        for a, b in zip(got if isinstance(got, list) else [got], want if isinstance(want, list) else [want],
                        strict=True):  # fmt: skip
            if a.shape[-1] == b.shape[-1] and model_name == "encoder" and a is got[2]:
                continue  # z is sampled: each model draws its own noise
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"{name}: {model_name}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_trains_a_few_steps(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    shutil.copy(EXAMPLES / f"{name}.yaml", tmp_path / f"{name}.yaml")
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / case.file, **case.data())
    common = ["train.epochs=2", "train.verbose=0", "train.plots=none", "train.batch_size=4",
              "train.jit_compile=false", "train.steps_per_execution=1"]  # fmt: skip
    if name == "dcgan_mnist":
        common.append("train.gan.sample_every=100")
    if name == "conv1d_timeseries":
        common.append("train.callbacks=[]")
    resolved = kspec.load(tmp_path / f"{name}.yaml", [*_overrides(case), *common])
    kspec.check(resolved)
    result = trainer.train(resolved, out=tmp_path / "run")
    values = [v for series in result.history.values() for v in series]
    assert values and all(math.isfinite(v) for v in values), result.history


def test_vae_loss_includes_the_kl_term() -> None:
    """The VAE's loss is the reconstruction loss plus the KL term that `add_loss` contributes."""
    compiled = compiler.build(kspec.load(EXAMPLES / "vae_mnist.yaml"))
    vae, encoder = compiled.models["vae"], compiled.models["encoder"]
    # a nearly deterministic encoder (variance e^-20) far from the prior (mean 1): z = z_mean, a large KL term
    for name, bias in (("z_mean", 1.0), ("z_log_var", -20.0)):
        kernel, b = encoder.get_layer(name).get_weights()
        encoder.get_layer(name).set_weights([np.zeros_like(kernel), np.full_like(b, bias)])
    x = np.clip(RNG.random((8, 28, 28, 1)), 0, 1).astype("float32")
    vae(x)  # a forward pass records the added loss
    (kl,) = vae.losses
    z_mean, z_log_var, _ = encoder.predict(x, verbose=0)
    want = np.mean(-0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1))
    assert float(kl) == pytest.approx(float(want), rel=1e-5)
    assert float(kl) == pytest.approx(0.5 * 2 * (20 + 1 - 1), rel=1e-3)  # 2 latent dims, each (-1 + 20 + 1 + e^-20) / 2
    vae.compile(optimizer="adam", loss="binary_crossentropy", loss_weights=[784])
    total = vae.evaluate(x, x, verbose=0, batch_size=8)
    recon = 784 * float(keras.losses.BinaryCrossentropy()(x, vae.predict(x, verbose=0)))
    assert total == pytest.approx(recon + float(kl), rel=1e-4)


def test_noise_step_makes_noisy_inputs_and_clean_targets(tmp_path: Path) -> None:
    from kspec.data.steps import prepare

    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "digits.npz", **DATA.digits(n=16))
    resolved = kspec.load(EXAMPLES / "denoising_autoencoder.yaml")
    assert resolved.spec.data is not None
    splits = prepare(resolved.spec.data, tmp_path)
    clean = DATA.digits(n=16)["x_train"][..., None] / 255.0
    np.testing.assert_allclose(splits.train.y, clean, atol=1e-6)
    assert splits.train.x.min() >= 0.0 and splits.train.x.max() <= 1.0
    assert 0.1 < float(np.abs(splits.train.x - clean).mean()) < 0.25  # E|max(N(0, 0.4), 0)| = 0.16 on black pixels


def test_siamese_contrastive_loss_equals_the_keras_example() -> None:
    """The spec's `losses:` formula, compiled by kspec, gives the loss and gradients of the example's
    `contrastive_loss` closure on the same model, weights and pairs (margin 1, then 0.5 set with --set)."""
    from kspec.training.objects import compile_args

    x = [RNG.random((8, 28, 28, 1)).astype("float32") for _ in "lr"]
    y = (np.arange(8) % 2).astype("float32")
    for margin in (1.0, 0.5):
        resolved = kspec.load(EXAMPLES / "siamese_contrastive.yaml", [f"vars.margin={margin}"])
        compiled = compiler.build(resolved)
        ours = compiled.models["siamese"]
        assert resolved.spec.train is not None
        ours.compile(**compile_args(resolved.spec.train, compiled.outputs["siamese"], compiled.losses))
        theirs = ref.build_siamese_contrastive()["siamese"]
        theirs.set_weights(ours.get_weights())
        theirs.compile(loss=ref.loss(margin=margin), optimizer="RMSprop", metrics=["accuracy"])
        got, want = ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0)
        np.testing.assert_allclose(got, want, rtol=1e-5)
        pred = ours.predict(x, verbose=0)[:, 0]
        by_hand = np.mean((1 - y) * pred**2 + y * np.maximum(margin - pred, 0) ** 2)
        assert got[0] == pytest.approx(float(by_hand), rel=1e-5)
        ours.train_on_batch(x, y)
        theirs.train_on_batch(x, y)
        for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
