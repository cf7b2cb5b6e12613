"""Recipe `gan`: alternating discriminator and generator updates with explicit variable lists (never toggling
`trainable`, which Keras 3 ignores after compile); saves sample grids. Imports keras.

It saves a `Checkpoint` after every epoch (both models, both optimizers, the noise generator), and `--resume`
continues from the last completed epoch. Under `distribute: multi_worker` both updates run on every replica through
`strategy.run` (`distributed_steps`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kspec.training import interrupts
from kspec.training.checkpoint import Checkpoint
from kspec.training.objects import make_loss, make_optimizer
from kspec.training.progress import Progress
from kspec.training.recipes.loop_parts import resume, x_only
from kspec.training.recipes.registry import recipe
from kspec.training.recipes.tape import batch_share, distribute, replicated
from kspec.training.session import Session
from kspec.training.together import deferred_signals


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

    strategy = tf.distribute.get_strategy() if s.spec.distribute == "multi_worker" else None
    if strategy is None:
        d_fn, g_fn = tf.function(d_step, reduce_retracing=True), tf.function(g_step, reduce_retracing=True)
        d_mean, g_mean = keras.metrics.Mean(), keras.metrics.Mean()
    else:
        d_fn, g_fn, d_mean, g_mean = distributed_steps(s, strategy, gen, disc, d_opt, g_opt, bce, seeds)
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
    batches = train_ds if strategy is None else distribute(strategy, train_ds)
    progress = Progress(s.spec.epochs, s.steps_in_epoch(), first=start, verbose=s.verbose())
    with deferred_signals(strategy is not None) as stop:  # multi_worker: a signal stops every worker at one step
        for epoch in range(start, s.spec.epochs):
            progress.epoch_begin(epoch)
            d_mean.reset_state()
            g_mean.reset_state()
            for i, batch in enumerate(s.epoch_batches(batches, epoch)):
                real = x_only(batch)
                if strategy is None:
                    for _ in range(g.d_steps):
                        d_mean.update_state(d_fn(real))
                    for _ in range(g.g_steps):
                        g_mean.update_state(g_fn(tf.shape(real)[0]))
                    interrupts.check()  # a SIGINT/SIGTERM is acted on here, between steps
                else:  # the steps update the means themselves, on every replica
                    for _ in range(g.d_steps):
                        stop.check(float(d_fn(real, tf.constant(stop.flag()))))
                    for _ in range(g.g_steps):
                        g_fn(real)
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


def distributed_steps(
    s: Session, strategy: Any, gen: Any, disc: Any, d_opt: Any, g_opt: Any, bce: Any, seeds: Any
) -> tuple[Any, Any, Any, Any]:
    """The discriminator and generator updates under `multi_worker`, each run on every replica by `strategy.run`.

    Each replica's loss is weighted by its share of the global batch, so the all-reduced (summed) gradients are those
    of the global batch mean (as in the `tape` loop); its noise comes from the shared generator state offset by the
    replica's id, so the workers draw different fakes and replica 0 draws the one-process stream. The returned means
    of the losses are sync-on-read metrics (read over every replica); the discriminator step returns the workers'
    all-reduced stop flags (`together`).
    """
    import keras
    import tensorflow as tf

    g = s.spec.gan_settings
    latent = tuple(int(d) for d in gen.inputs[0].shape[1:])
    lo, hi = g.noise_range
    replicas = strategy.num_replicas_in_sync
    d_mean, g_mean = keras.metrics.Mean(), keras.metrics.Mean()

    def noise(n: Any) -> Any:
        context = tf.distribute.get_replica_context()
        offset = tf.cast(context.replica_id_in_sync_group, tf.int64) * 1_000_003
        seed = tf.cast(seeds.next(), tf.int64) + tf.stack([offset, tf.constant(0, tf.int64)])
        shape = tf.concat([[n], tf.constant(latent, tf.int32)], 0)
        if g.noise == "normal":
            return tf.random.stateless_normal(shape, seed=seed)
        return tf.random.stateless_uniform(shape, seed=seed, minval=lo, maxval=hi)

    def d_step(real: Any, flag: Any) -> Any:
        n = tf.shape(real)[0]
        share, total, stops = batch_share(real, flag)
        fake = gen(noise(n), training=False)
        x = tf.concat([tf.cast(real, fake.dtype), fake], axis=0)
        with tf.GradientTape() as gt:
            p = disc(x, training=True)
            labels = tf.concat([tf.fill(tf.shape(p[:n]), g.real_label), tf.fill(tf.shape(p[n:]), g.fake_label)], 0)
            loss = bce(labels, p) * replicas  # the loss divides by the replica count; weigh by the batch share
            scaled = loss * share / total
        d_opt.apply(gt.gradient(scaled, disc.trainable_variables), disc.trainable_variables)
        d_mean.update_state(loss, sample_weight=share)
        return stops

    def g_step(real: Any) -> None:
        n = tf.shape(real)[0]
        share, total, _ = batch_share(real)
        with tf.GradientTape() as gt:
            p = disc(gen(noise(n), training=True), training=False)
            loss = bce(tf.fill(tf.shape(p), g.real_label), p) * replicas
            scaled = loss * share / total
        g_opt.apply(gt.gradient(scaled, gen.trainable_variables), gen.trainable_variables)
        g_mean.update_state(loss, sample_weight=share)

    d_fn = tf.function(replicated(strategy, d_step), reduce_retracing=True)
    g_fn = tf.function(replicated(strategy, g_step), reduce_retracing=True)
    return d_fn, g_fn, d_mean, g_mean
