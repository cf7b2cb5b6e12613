"""Stage 6, train: the custom-loop recipes, `tape` (the book's ch9.5 GradientTape loop) and `gan`. Imports keras.

Both loops save a `recipes.Checkpoint` after every epoch (model variables with their random-generator states,
optimizer slots, the GAN's noise generator), and `--resume` continues from the last completed epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .recipes import Checkpoint, Session, _recipe, compile_args, make_optimizer

if TYPE_CHECKING:
    import keras


def _resume(s: Session, ckpt: Checkpoint) -> int:
    return ckpt.restore() if s.resuming else 0


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
    ckpt = Checkpoint(s, {"model": list(model.variables), "optimizer": list(opt.variables)})
    start = _resume(s, ckpt)
    train_ds, val_ds = s.dataset(s.splits.train, training=True), s.dataset(s.splits.validation)
    assert train_ds is not None
    steps = s.steps_in_epoch()
    for epoch in range(start, s.spec.epochs):
        print(f"Epoch {epoch + 1}/{s.spec.epochs}")
        bar = keras.utils.Progbar(steps, verbose=1 if s.verbose() in ("auto", 1) else 0)
        loss_mean.reset_state()
        for metric in model.metrics:
            metric.reset_state()
        logs: dict[str, Any] = {}
        for i, (x, y) in enumerate(s.epoch_batches(train_ds, epoch)):
            step_fn(x, y)
            if i % 10 == 0 or i + 1 == steps:
                logs = {**{k: v for k, v in _results(model).items() if k != "loss"}, "loss": loss_mean.result()}
                bar.update(i + 1, [(k, float(v)) for k, v in logs.items()], finalize=False)
        logs = {"loss": loss_mean.result(), **{k: v for k, v in _results(model).items() if k != "loss"}}
        if val_ds is not None:
            val = model.evaluate(val_ds, verbose=0, return_dict=True)
            logs.update({f"val_{k}": v for k, v in val.items()})
        bar.update(steps, [(k, float(v)) for k, v in logs.items()], finalize=True)
        s.log_epoch(logs)
        ckpt.save(epoch + 1)
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
    ckpt = Checkpoint(
        s,
        {
            "generator": list(gen.variables),
            "discriminator": list(disc.variables),
            "d_optimizer": list(d_opt.variables),
            "g_optimizer": list(g_opt.variables),
            "noise": [seeds.state],
        },
    )
    start = _resume(s, ckpt)
    train_ds = s.dataset(s.splits.train, training=True)
    assert train_ds is not None
    for epoch in range(start, s.spec.epochs):
        d_mean, g_mean = keras.metrics.Mean(), keras.metrics.Mean()
        for batch in s.epoch_batches(train_ds, epoch):
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
    return s.history
