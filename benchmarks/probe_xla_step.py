"""Probe: what one XLA-compiled training step of the book's IMDB LSTM keeps in memory, in one fresh process.

Run: `python benchmarks/probe_xla_step.py [--vocab 20000] [--maxlen 80] [--units 128] [--mode xla|graph]`
(each run is its own process; set `XLA_FLAGS`, `TF_ONEDNN_USE_SYSTEM_ALLOCATOR` etc. in its environment to compare).

The model is ch5's: Embedding(vocab, 128), LSTM(units, dropout=0.2, recurrent_dropout=0.2), Dense(1, sigmoid), Adam,
binary cross-entropy and accuracy, on one batch of 32 random reviews. Its `train_step` is wrapped in a `tf.function`
(`jit_compile=True` for `xla`), called once (tracing, compilation, one step), then 10 more times. After `malloc_trim`
the probe prints VmRSS, VmHWM and the bytes glibc's malloc has handed out (`mallinfo2`) before the first call, after
it and after the 10 more, then the resident set by mapping (main heap, other anonymous memory, `libtensorflow_cc`,
other files). Varying `--vocab` and `--maxlen` shows which of what the step keeps scales with the data (buffers) and
which does not (code, compiler state). Asserts nothing.
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from probe_memory import malloc_in_use, smaps, status  # noqa: E402 - this folder's own module


def snap(label: str) -> None:
    ctypes.CDLL(None).malloc_trim(0)
    print(f"{label:32s} VmRSS {status('VmRSS'):7.1f}  VmHWM {status('VmHWM'):7.1f}  malloc {malloc_in_use():7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=20000)
    parser.add_argument("--maxlen", type=int, default=80)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--mode", choices=["xla", "graph"], default="xla")
    args = parser.parse_args()
    import keras
    import numpy as np
    import tensorflow as tf
    from keras import layers

    jit = args.mode == "xla"
    model = keras.Sequential(
        [
            layers.Input((args.maxlen,), dtype="int32"),
            layers.Embedding(args.vocab, 128),
            layers.LSTM(args.units, dropout=0.2, recurrent_dropout=0.2),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"], jit_compile=jit)
    model.optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.integers(0, args.vocab, (32, args.maxlen)), tf.int32)
    y = tf.constant(rng.integers(0, 2, (32, 1)), tf.float32)
    y_pred = model(x[:2])  # build the loss and metrics eagerly, as kspec's `prime` does
    model.compute_loss(x=x[:2], y=y[:2], y_pred=y_pred)
    model.compute_metrics(x[:2], y[:2], y_pred)
    model.reset_metrics()
    step = tf.function(model.train_step, jit_compile=jit, autograph=False)
    print(f"{args.mode}: vocab {args.vocab}, maxlen {args.maxlen}, units {args.units} (MiB)")
    snap("before the first call")
    t = time.process_time()
    step((x, y))
    snap(f"after it ({time.process_time() - t:.1f} s CPU)")
    t = time.process_time()
    for _ in range(10):
        step((x, y))
    float(model.get_metrics_result()["loss"])
    snap(f"after 10 more ({time.process_time() - t:.2f} s CPU)")
    print("resident by mapping: " + ", ".join(f"{k} {v:.0f}" for k, v in smaps().items()))


if __name__ == "__main__":
    main()
