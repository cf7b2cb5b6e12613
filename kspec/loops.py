"""Stage 6, train: the custom-loop recipes, `tape` (the book's ch9.5 GradientTape loop) and `gan`. Imports keras.

Both loops keep their own epoch checkpoint (model weights and optimizer slots, written to a fresh folder and then
pointed to by `state.json`, so a kill at any moment leaves a complete checkpoint) for `--resume`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import runs
from .recipes import Session, _recipe, compile_args, make_optimizer

if TYPE_CHECKING:
    import keras


class _Checkpoint:
    """Epoch checkpoints of several models and optimizers under `<run>/checkpoint/`."""

    def __init__(self, run_dir: Path, models: dict[str, Any], optimizers: dict[str, Any]) -> None:
        self.root = run_dir / "checkpoint"
        self.models = models
        self.optimizers = optimizers

    def save(self, epochs_done: int) -> None:
        folder = self.root / f"epoch-{epochs_done:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, model in self.models.items():
            with runs.atomic_path(folder / f"{name}.weights.h5", ".weights.h5") as tmp:
                model.save_weights(tmp)
        for name, opt in self.optimizers.items():
            with runs.atomic_path(folder / f"{name}.optimizer.npz", ".npz") as tmp:
                np.savez(tmp, *[np.asarray(v) for v in opt.variables])
        runs.write_json(self.root / "state.json", {"epoch": epochs_done, "folder": folder.name})
        for old in self.root.glob("epoch-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)

    def restore(self) -> int:
        """Load the last checkpoint; returns the number of completed epochs (0 when there is none)."""
        state_path = self.root / "state.json"
        if not state_path.exists():
            return 0
        state = runs.read_json(state_path)
        folder = self.root / state["folder"]
        for name, model in self.models.items():
            model.load_weights(folder / f"{name}.weights.h5")
        for name, opt in self.optimizers.items():
            with np.load(folder / f"{name}.optimizer.npz") as saved:
                for var, key in zip(opt.variables, saved.files, strict=True):
                    var.assign(saved[key])
        return int(state["epoch"])

    def finish(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _resume(s: Session, ckpt: _Checkpoint) -> int:
    done = ckpt.restore() if s.resuming else 0
    s.history = {k: v[:done] for k, v in s.previous_history().items()} if done else {}
    return done


def _x_only(batch: Any) -> Any:
    return batch[0] if isinstance(batch, tuple) else batch


@_recipe("tape")
def tape(s: Session) -> dict[str, list[float]]:
    """A `GradientTape` loop doing what `fit` does: forward, loss, gradients, optimizer step, metrics, validation."""
    import keras
    import tensorflow as tf

    model = s.model
    model.compile(**compile_args(s.spec))
    opt = model.optimizer
    opt.build(model.trainable_variables)
    loss_mean = keras.metrics.Mean(name="loss")

    def step(x: Any, y: Any) -> None:
        with tf.GradientTape() as gt:
            pred = model(x, training=True)
            loss = model.compute_loss(x=x, y=y, y_pred=pred, training=True)
            scaled = opt.scale_loss(loss)
        grads = gt.gradient(scaled, model.trainable_variables)
        opt.apply(grads, model.trainable_variables)
        loss_mean.update_state(loss)
        model.compute_metrics(x, y, pred)

    step_fn = tf.function(step, jit_compile=s.jit(model), reduce_retracing=True)
    ckpt = _Checkpoint(s.run_dir, {s.name: model}, {"optimizer": opt})
    start = _resume(s, ckpt)
    train_ds, val_ds = s.dataset(s.splits.train, training=True), s.dataset(s.splits.validation)
    assert train_ds is not None
    for epoch in range(start, s.spec.epochs):
        print(f"Epoch {epoch + 1}/{s.spec.epochs}")
        bar = keras.utils.Progbar(s.steps(), verbose=1 if s.verbose() in ("auto", 1) else 0)
        loss_mean.reset_state()
        for metric in model.metrics:
            metric.reset_state()
        logs: dict[str, Any] = {}
        for i, (x, y) in enumerate(train_ds):
            step_fn(x, y)
            if i % 10 == 0 or i + 1 == s.steps():
                logs = {**{k: v for k, v in _results(model).items() if k != "loss"}, "loss": loss_mean.result()}
                bar.update(i + 1, [(k, float(v)) for k, v in logs.items()], finalize=False)
        logs = {"loss": loss_mean.result(), **{k: v for k, v in _results(model).items() if k != "loss"}}
        if val_ds is not None:
            val = model.evaluate(val_ds, verbose=0, return_dict=True)
            logs.update({f"val_{k}": v for k, v in val.items()})
        bar.update(s.steps(), [(k, float(v)) for k, v in logs.items()], finalize=True)
        s.log_epoch(logs)
        ckpt.save(epoch + 1)
    ckpt.finish()
    return s.history


def _results(model: keras.Model) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in model.metrics:
        result = metric.result()
        out.update(result if isinstance(result, dict) else {metric.name: result})
    return out


@_recipe("gan")
def gan(s: Session) -> dict[str, list[float]]:
    """Alternate discriminator and generator updates with explicit variable lists (no `trainable` toggling)."""
    import keras
    import tensorflow as tf

    g = s.spec.gan_settings
    gen, disc = s.compiled.models[g.generator], s.compiled.models[g.discriminator]
    d_opt = make_optimizer(s.spec, g.d_optimizer, ("train", "gan", "d_optimizer") if g.d_optimizer else None)
    g_opt = make_optimizer(s.spec, g.g_optimizer, ("train", "gan", "g_optimizer") if g.g_optimizer else None)
    d_opt.build(disc.trainable_variables)
    g_opt.build(gen.trainable_variables)
    bce = keras.losses.BinaryCrossentropy()
    latent = tuple(int(d) for d in gen.inputs[0].shape[1:])
    lo, hi = g.noise_range
    seeds = keras.random.SeedGenerator(s.spec.seed if s.spec.seed is not None else None)

    def noise(n: Any) -> Any:
        shape = (n, *latent)
        if g.noise == "normal":
            return keras.random.normal(shape, seed=seeds)
        return keras.random.uniform(shape, minval=lo, maxval=hi, seed=seeds)

    def d_step(real: Any) -> Any:
        n = tf.shape(real)[0]
        fake = gen(noise(n), training=False)
        x = tf.concat([tf.cast(real, fake.dtype), fake], axis=0)
        with tf.GradientTape() as gt:
            p = disc(x, training=True)
            labels = tf.concat([tf.fill(tf.shape(p[:n]), g.real_label), tf.fill(tf.shape(p[n:]), g.fake_label)], 0)
            loss = bce(labels, p)
        d_opt.apply(gt.gradient(loss, disc.trainable_variables), disc.trainable_variables)
        return loss

    def g_step(n: Any) -> Any:
        with tf.GradientTape() as gt:
            p = disc(gen(noise(n), training=True), training=False)
            loss = bce(tf.fill(tf.shape(p), g.real_label), p)
        g_opt.apply(gt.gradient(loss, gen.trainable_variables), gen.trainable_variables)
        return loss

    d_fn, g_fn = tf.function(d_step, reduce_retracing=True), tf.function(g_step, reduce_retracing=True)
    ckpt = _Checkpoint(
        s.run_dir, {g.generator: gen, g.discriminator: disc}, {"d_optimizer": d_opt, "g_optimizer": g_opt}
    )
    start = _resume(s, ckpt)
    train_ds = s.dataset(s.splits.train, training=True)
    assert train_ds is not None
    for epoch in range(start, s.spec.epochs):
        d_mean, g_mean = keras.metrics.Mean(), keras.metrics.Mean()
        for batch in train_ds:
            real = _x_only(batch)
            for _ in range(g.d_steps):
                d_mean.update_state(d_fn(real))
            for _ in range(g.g_steps):
                g_mean.update_state(g_fn(tf.shape(real)[0]))
        logs = {"d_loss": float(d_mean.result()), "g_loss": float(g_mean.result())}
        if s.verbose() != 0:
            print(f"Epoch {epoch + 1}/{s.spec.epochs} - d_loss: {logs['d_loss']:.4f} - g_loss: {logs['g_loss']:.4f}")
        s.log_epoch(logs)
        if (epoch + 1) % g.sample_every == 0 or epoch + 1 == s.spec.epochs:
            from .plots import plot_samples

            samples = np.asarray(gen(noise(16), training=False))
            plot_samples(samples, s.run_dir / "samples" / f"epoch_{epoch + 1:04d}.png", f"Epoch {epoch + 1}")
        ckpt.save(epoch + 1)
    ckpt.finish()
    return s.history
