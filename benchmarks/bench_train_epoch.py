"""CPU time per epoch of kspec's resident training loop, inside one process: for quick A/B of loop changes.

Run: `nice python benchmarks/bench_train_epoch.py [--models ann,dnn] [--epochs 8] [--jit/--no-jit]`.

The book's ANN (784-100-10) or DNN (784-100-50-10), compiled as `kspec train` compiles them (adam, categorical
cross-entropy, accuracy), trains on 48,000 random MNIST-shaped rows and validates on 12,000 through
`kspec.training.resident` (`Feed`, `Pace`, `prime`), the loop `kspec train` runs with its defaults. For each epoch the
process's CPU time (all threads, `time.process_time`) and wall time of the training calls and of the validation
are printed; the summary is epoch 1 (tracing and XLA compilation) and the median of epochs 2..E. CPU time moves less
than wall time with other work on a shared machine, but it still moves: compare runs made back to back. The
losses are printed too, so a change that should not alter training can be seen not to. Several models run one
after the other in the same process (the second one's first epoch finds TensorFlow warm). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run(key: str, epochs: int, jit: bool) -> None:
    import keras
    import numpy as np

    from kspec.data.pipeline import permutation
    from kspec.data.registry import Arrays
    from kspec.training import resident

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (60000, 784)).astype(np.float32) / 255
    y = (x @ rng.standard_normal((784, 10)).astype(np.float32)).argmax(1).astype(np.int64)
    inputs = keras.Input((784,))
    h = inputs
    for units in [100] if key == "ann" else [100, 50]:
        h = keras.layers.Dense(units, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"], jit_compile=jit)
    model.optimizer.build(model.trainable_variables)
    common: dict[str, Any] = {"batch_size": 100, "one_hot": 10, "jit": jit}
    train = resident.Feed(model, Arrays(x[:48000], y[:48000]), **common)
    val = resident.Feed(model, Arrays(x[48000:], y[48000:]), **common)
    pace, val_pace = resident.Pace(None, train.step_bytes()), resident.Pace(None, val.step_bytes())
    resident.prime(model, train)
    rows = []
    for epoch in range(epochs):
        c0, w0 = time.process_time(), time.perf_counter()
        model.reset_metrics()
        logs: dict[str, Any] = {}
        for _, chunk in train.chunks(permutation(train.n, shuffle=True, seed=0, epoch=epoch), pace):
            logs = train.train(chunk, pace)
        loss = float(logs["loss"])
        c1, w1 = time.process_time(), time.perf_counter()
        val_loss = val.evaluate(val_pace)["loss"]
        c2, w2 = time.process_time(), time.perf_counter()
        rows.append((c1 - c0, w1 - w0, c2 - c1, w2 - w1, loss, val_loss))
    steady = rows[1:]

    def med(i: int) -> float:
        return statistics.median(r[i] for r in steady) if steady else float("nan")

    print(f"{key} {'xla' if jit else 'graph'}, load {os.getloadavg()[0]:.2f}: epoch 1 train cpu {rows[0][0]:.2f} s "
          f"(wall {rows[0][1]:.2f}), validation cpu {rows[0][2]:.2f} s; epochs 2..{epochs} median: train cpu "
          f"{med(0):.3f} s (wall {med(1):.3f}), validation cpu {med(2):.3f} s (wall {med(3):.3f})")  # fmt: skip
    print("  train cpu per epoch: " + " ".join(f"{r[0]:.3f}" for r in rows))
    print("  loss per epoch:      " + " ".join(f"{r[4]:.7f}" for r in rows) + f"; last val_loss {rows[-1][5]:.7f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="ann,dnn")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--jit", action=argparse.BooleanOptionalAction, default=True, help="XLA (kspec's CPU default)")
    args = parser.parse_args()
    for key in [k.strip() for k in args.models.split(",") if k.strip()]:
        run(key, args.epochs, args.jit)


if __name__ == "__main__":
    main()
