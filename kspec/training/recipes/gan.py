"""Recipe `gan`: alternating discriminator and generator updates with explicit variable lists (never toggling
`trainable`, which Keras 3 ignores after compile); saves sample grids. Imports keras.

It saves a `Checkpoint` after every epoch (both models, both optimizers, the noise generator), and `--resume`
continues from the last completed epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from kspec.training.checkpoint import Checkpoint
from kspec.training.objects import make_loss, make_optimizer
from kspec.training.progress import Progress
from kspec.training.recipes.loop_parts import resume, x_only
from kspec.training.recipes.registry import recipe
from kspec.training.session import Session

if TYPE_CHECKING:
    pass


@recipe("gan")
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
    bce = (
        make_loss(s.spec.loss, ("train", "loss"), s.compiled.losses)
        if s.spec.loss is not None
        else keras.losses.BinaryCrossentropy()
    )
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
    start = resume(s, ckpt)
    train_ds = s.dataset(s.splits.train, training=True)
    assert train_ds is not None
    progress = Progress(s.spec.epochs, s.steps_in_epoch(), first=start, verbose=s.verbose())
    for epoch in range(start, s.spec.epochs):
        progress.epoch_begin(epoch)
        d_mean, g_mean = keras.metrics.Mean(), keras.metrics.Mean()
        for i, batch in enumerate(s.epoch_batches(train_ds, epoch)):
            real = x_only(batch)
            for _ in range(g.d_steps):
                d_mean.update_state(d_fn(real))
            for _ in range(g.g_steps):
                g_mean.update_state(g_fn(tf.shape(real)[0]))
            if i % 10 == 0:
                progress.batch_end(i, {"d_loss": d_mean.result(), "g_loss": g_mean.result()})
        logs = {"d_loss": float(d_mean.result()), "g_loss": float(g_mean.result())}
        progress.epoch_end(epoch, logs)
        s.log_epoch(logs)
        if (epoch + 1) % g.sample_every == 0 or epoch + 1 == s.spec.epochs:
            from kspec.training.plots import plot_samples

            samples = np.asarray(gen(noise(16), training=False))
            plot_samples(samples, s.run_dir / "samples" / f"epoch_{epoch + 1:04d}.png", f"Epoch {epoch + 1}")
        ckpt.save(epoch + 1)
    return s.history
