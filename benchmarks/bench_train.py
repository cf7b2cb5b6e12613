"""Benchmark: training throughput of `kspec train` (its defaults) beside the book's hand-written Keras scripts.

Run: `python benchmarks/bench_train.py [--models ann,dnn,cnn,lstm] [--samples N] [--epochs E] [--repeats R]`.

For the ANN (ch2), DNN (ch3), CNN (ch4) and LSTM (ch5) specs, each of these runs in its own fresh Python process:

- `book`:  the book's script, written here in the book's style (`mnist.load_data()`, `to_categorical`, `/ 255.0`,
  `model.fit` on NumPy arrays with the book's batch size, optimizer, validation and epochs, `model.evaluate`, the
  loss/accuracy plots);
- `kspec`: `kspec train specs/<spec>.yaml --set train.epochs=E --out <tmp>` through `kspec.cli.main`, with every
  speed setting at its default (`feed: auto`, `steps_per_execution: auto`, `jit_compile: auto`);
- `limit`: float32 matrix products of the model's dominant shape (NumPy and TensorFlow, best of several), which
  turn the FLOPs per sample of the model (below) into an arithmetic limit in samples/s.

Data: no download. A file of the real Keras dataset's format and shapes (`mnist.npz`: uint8 28x28 images and labels
0..9 from a fixed random linear rule; `imdb.npz`: word-index reviews of IMDB's length distribution whose label a
few words decide) is written into a temporary `KERAS_HOME`; the book's `mnist.load_data()` and kspec's `mnist`
source both read it through Keras's own loaders (only Keras's SHA-256 check of the file is switched off).

Measured in each process: the time of every epoch 2..E (steady state; from the end of the previous epoch to the end
of this one, validation time taken out, so whatever kspec or Keras does between epochs counts), the time from process
start to the first training step (the first `on_train_batch_begin`), the first epoch's extra time over a steady epoch
(tracing, XLA compilation), peak RSS (VmHWM at the end, after evaluation, saving and plots, with VmHWM snapshots
along the way in `--json`), the process's wall time and the last validation accuracy (both sides learn the same
rule, so it should agree). The timings hook the training loop's `CallbackList` (Keras's `fit` or kspec's own loop)
with one callback that uses only batch-begin, epoch and test hooks (none of them forces a per-step sync).
`--repeats` process pairs run interleaved (book, kspec, book, ...); samples/s is the fastest steady epoch over them
(other work on a shared machine only ever slows an epoch down), the mean of epochs 2..E of that run is shown beside
it. Asserts nothing.

FLOPs per sample = 3 x 2 x (forward multiply-accumulates of the Dense/Conv2D/LSTM layers): forward 2 x MACs,
backward about twice the forward (gradients of inputs and of weights). Activations, pooling, dropout, the loss and
the optimizer update are left out (about 2% of the FLOPs or less for these models), so the limit is slightly optimistic.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Bench:
    """One book model: its spec, data, default benchmark size and the static cost of one training sample."""

    key: str
    spec: str
    dataset: str  # mnist | imdb
    book_samples: int  # the real dataset's training examples
    book_epochs: int
    samples: int  # default training examples here (smaller than the book's for CNN and LSTM, to stay fast)
    epochs: int
    repeats: int  # default book/kspec process pairs
    macs: int  # forward multiply-accumulates per sample
    layers: str  # how `macs` is made up
    matmul: tuple[int, int, int]  # representative float32 product (m, k, n): the model's largest layer
    validation_split: float  # the book's; 0 when it validates on the test split
    speed_target: float  # kspec / book
    limit_target: float | None  # fraction of the arithmetic limit


BENCHES = {
    b.key: b
    for b in (
        Bench(
            "ann", "ch02_ann_mnist", "mnist", 60000, 5, 60000, 5, 3,
            784 * 100 + 100 * 10, "Dense 784x100 + Dense 100x10", (100, 784, 100), 0.2, 3.0, 0.5,
        ),
        Bench(
            "dnn", "ch03_dnn_mnist", "mnist", 60000, 5, 60000, 5, 3,
            784 * 100 + 100 * 50 + 50 * 10, "Dense 784x100 + 100x50 + 50x10", (100, 784, 100), 0.2, 3.0, 0.5,
        ),
        Bench(
            "cnn", "ch04_cnn_mnist", "mnist", 60000, 10, 5000, 3, 2,
            26 * 26 * 32 * 9 * 1 + 24 * 24 * 64 * 9 * 32 + 12 * 12 * 64 * 128 + 128 * 10,
            "Conv 26x26x32x(3x3x1) + Conv 24x24x64x(3x3x32) + Dense 9216x128 + 128x10",
            (128 * 24 * 24, 9 * 32, 64), 0.2, 1.0, None,
        ),
        Bench(
            "lstm", "ch05_lstm_imdb", "imdb", 25000, 3, 3000, 3, 2,
            80 * 4 * 128 * (128 + 128) + 128,
            "80 steps x LSTM 4x128x(128+128) + Dense 128x1 (Embedding: a gather)",
            (32, 128, 512), 0.0, 1.0, None,
        ),
    )
}  # fmt: skip

TARGET_STARTUP_S = 0.5  # issue 6: kspec's time to the first step <= the book script's + 0.5 s
IMDB_WORDS = 20000


def flops_per_sample(b: Bench) -> int:
    return 3 * 2 * b.macs


# ---------------------------------------------------------------------------------------------- data (parent)


def write_dataset(home: Path, dataset: str, n_train: int) -> None:
    """A file in Keras's cache format under `<home>/datasets` (numpy only; no TensorFlow in the parent)."""
    import numpy as np

    folder = home / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    if dataset == "mnist":
        n_test = max(1, n_train // 6)  # 60,000 / 10,000
        x = rng.integers(0, 256, (n_train + n_test, 28, 28), dtype=np.uint8)
        w = rng.normal(0, 1, (784, 10)).astype(np.float32)
        score = np.concatenate([(x[i : i + 8192].reshape(-1, 784) / 255.0 - 0.5) @ w for i in range(0, len(x), 8192)])
        y = score.argmax(1).astype(np.uint8)
        np.savez(folder / "mnist.npz", x_train=x[:n_train], y_train=y[:n_train], x_test=x[n_train:], y_test=y[n_train:])
        return
    n_test = n_train  # IMDB: 25,000 + 25,000
    n = n_train + n_test
    lengths = np.clip(rng.lognormal(5.2, 0.7, n).astype(int), 10, 2500)  # mean ~230 words, as IMDB
    labels = rng.integers(0, 2, n)
    reviews = np.empty(n, dtype=object)
    for i in range(n):
        words = rng.zipf(1.3, lengths[i]) % 88000 + 1  # word ranks; the loader maps >= 20000 to the OOV index
        hint = rng.integers(0, 80, 6)  # sentiment words in the last 80 positions (what pad_sequences keeps)
        words[-80:][hint % min(80, lengths[i])] = 40 + 3 * labels[i] + rng.integers(0, 3, 6)
        reviews[i] = words.tolist()
    np.savez(
        folder / "imdb.npz",
        x_train=reviews[:n_train],
        y_train=labels[:n_train],
        x_test=reviews[n_train:],
        y_test=labels[n_train:],
    )


# ------------------------------------------------------------------------------------------- book scripts (child)
# Written as the book (jskDr/keraspp_2022) writes them, with Keras 3 names: keras.utils.to_categorical for
# np_utils, layers.Input for input_shape=. Plots are saved instead of shown.


def plot_loss(history: Any, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.figure()
    plt.plot(history.history["loss"])
    plt.plot(history.history["val_loss"])
    plt.title("Model Loss")
    plt.ylabel("Loss")
    plt.xlabel("Epoch")
    plt.legend(["Train", "Test"], loc=0)
    plt.savefig(out / "loss.png")


def plot_acc(history: Any, out: Path) -> None:
    import matplotlib.pyplot as plt

    plt.figure()
    plt.plot(history.history["accuracy"])
    plt.plot(history.history["val_accuracy"])
    plt.title("Model accuracy")
    plt.ylabel("Accuracy")
    plt.xlabel("Epoch")
    plt.legend(["Train", "Test"], loc=0)
    plt.savefig(out / "accuracy.png")


def book_ann(epochs: int, out: Path) -> None:
    """ex2_1_ann_mnist_cl.py"""
    from keras import datasets, layers, models
    from keras.utils import to_categorical

    class ANN_seq_class(models.Sequential):
        def __init__(self, Nin, Nh, Nout):  # type: ignore[no-untyped-def]
            super().__init__()
            self.add(layers.Input((Nin,)))
            self.add(layers.Dense(Nh, activation="relu"))
            self.add(layers.Dense(Nout, activation="softmax"))
            self.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

    def Data_func():  # type: ignore[no-untyped-def]
        (X_train, y_train), (X_test, y_test) = datasets.mnist.load_data()
        Y_train = to_categorical(y_train)
        Y_test = to_categorical(y_test)
        L, W, H = X_train.shape
        X_train = X_train.reshape(-1, W * H)
        X_test = X_test.reshape(-1, W * H)
        X_train = X_train / 255.0
        X_test = X_test / 255.0
        return (X_train, Y_train), (X_test, Y_test)

    Nin = 784
    Nh = 100
    number_of_class = 10
    Nout = number_of_class
    model = ANN_seq_class(Nin, Nh, Nout)
    (X_train, Y_train), (X_test, Y_test) = Data_func()
    history = model.fit(X_train, Y_train, epochs=epochs, batch_size=100, validation_split=0.2)
    performace_test = model.evaluate(X_test, Y_test, batch_size=100)
    print("Test Loss and Accuracy ->", performace_test)
    plot_loss(history, out)
    plot_acc(history, out)


def book_dnn(epochs: int, out: Path) -> None:
    """ex3_1_dnn_mnist_cl.py"""
    from keras import datasets, layers, models
    from keras.utils import to_categorical

    class DNN(models.Sequential):
        def __init__(self, Nin, Nh_l, Nout):  # type: ignore[no-untyped-def]
            super().__init__()
            self.add(layers.Input((Nin,)))
            self.add(layers.Dense(Nh_l[0], activation="relu", name="Hidden-1"))
            self.add(layers.Dense(Nh_l[1], activation="relu", name="Hidden-2"))
            self.add(layers.Dense(Nout, activation="softmax"))
            self.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

    def Data_func():  # type: ignore[no-untyped-def]
        (X_train, y_train), (X_test, y_test) = datasets.mnist.load_data()
        Y_train = to_categorical(y_train)
        Y_test = to_categorical(y_test)
        L, W, H = X_train.shape
        X_train = X_train.reshape(-1, W * H)
        X_test = X_test.reshape(-1, W * H)
        X_train = X_train / 255.0
        X_test = X_test / 255.0
        return (X_train, Y_train), (X_test, Y_test)

    Nin = 784
    Nh_l = [100, 50]
    number_of_class = 10
    Nout = number_of_class
    (X_train, Y_train), (X_test, Y_test) = Data_func()
    model = DNN(Nin, Nh_l, Nout)
    history = model.fit(X_train, Y_train, epochs=epochs, batch_size=100, validation_split=0.2)
    performace_test = model.evaluate(X_test, Y_test, batch_size=100)
    print("Test Loss and Accuracy ->", performace_test)
    plot_acc(history, out)
    plot_loss(history, out)


def book_cnn(epochs: int, out: Path) -> None:
    """ex4_1_cnn_mnist_cl.py"""
    import keras
    from keras import datasets, layers, models

    class CNN(models.Sequential):
        def __init__(self, input_shape, num_classes):  # type: ignore[no-untyped-def]
            super().__init__()
            self.add(layers.Input(input_shape))
            self.add(layers.Conv2D(32, kernel_size=(3, 3), activation="relu"))
            self.add(layers.Conv2D(64, (3, 3), activation="relu"))
            self.add(layers.MaxPooling2D(pool_size=(2, 2)))
            self.add(layers.Dropout(0.25))
            self.add(layers.Flatten())
            self.add(layers.Dense(128, activation="relu"))
            self.add(layers.Dropout(0.5))
            self.add(layers.Dense(num_classes, activation="softmax"))
            self.compile(loss=keras.losses.categorical_crossentropy, optimizer="rmsprop", metrics=["accuracy"])

    class DATA:
        def __init__(self):  # type: ignore[no-untyped-def]
            num_classes = 10
            (x_train, y_train), (x_test, y_test) = datasets.mnist.load_data()
            img_rows, img_cols = x_train.shape[1:]
            x_train = x_train.reshape(x_train.shape[0], img_rows, img_cols, 1)
            x_test = x_test.reshape(x_test.shape[0], img_rows, img_cols, 1)
            input_shape = (img_rows, img_cols, 1)
            x_train = x_train.astype("float32")
            x_test = x_test.astype("float32")
            x_train /= 255
            x_test /= 255
            y_train = keras.utils.to_categorical(y_train, num_classes)
            y_test = keras.utils.to_categorical(y_test, num_classes)
            self.input_shape = input_shape
            self.num_classes = num_classes
            self.x_train, self.y_train = x_train, y_train
            self.x_test, self.y_test = x_test, y_test

    batch_size = 128
    data = DATA()
    model = CNN(data.input_shape, data.num_classes)
    history = model.fit(data.x_train, data.y_train, batch_size=batch_size, epochs=epochs, validation_split=0.2)
    score = model.evaluate(data.x_test, data.y_test)
    print()
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
    plot_loss(history, out)
    plot_acc(history, out)


def book_lstm(epochs: int, out: Path) -> None:
    """ex5_1_lstm_imdb_cl.py"""
    from keras import datasets, layers, models
    from keras.utils import pad_sequences

    class Data:
        def __init__(self, max_features=20000, maxlen=80):  # type: ignore[no-untyped-def]
            (x_train, y_train), (x_test, y_test) = datasets.imdb.load_data(num_words=max_features)
            x_train = pad_sequences(x_train, maxlen=maxlen)
            x_test = pad_sequences(x_test, maxlen=maxlen)
            self.x_train, self.y_train = x_train, y_train
            self.x_test, self.y_test = x_test, y_test

    class RNN_LSTM(models.Model):
        def __init__(self, max_features, maxlen):  # type: ignore[no-untyped-def]
            x = layers.Input((maxlen,))
            h = layers.Embedding(max_features, 128)(x)
            h = layers.LSTM(128, dropout=0.2, recurrent_dropout=0.2)(h)
            y = layers.Dense(1, activation="sigmoid")(h)
            super().__init__(x, y)
            self.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

    class Machine:
        def __init__(self, max_features=20000, maxlen=80):  # type: ignore[no-untyped-def]
            self.data = Data(max_features, maxlen)
            self.model = RNN_LSTM(max_features, maxlen)

        def run(self, epochs=3, batch_size=32):  # type: ignore[no-untyped-def]
            data = self.data
            model = self.model
            print("Training stage")
            print("==============")
            model.fit(
                data.x_train,
                data.y_train,
                batch_size=batch_size,
                epochs=epochs,
                validation_data=(data.x_test, data.y_test),
            )
            score, acc = model.evaluate(data.x_test, data.y_test, batch_size=batch_size)
            print("Test performance: accuracy={0}, loss={1}".format(acc, score))  # noqa: UP030, UP032

    m = Machine()
    m.run(epochs=epochs)


BOOK = {"ann": book_ann, "dnn": book_dnn, "cnn": book_cnn, "lstm": book_lstm}


# ------------------------------------------------------------------------------------------------ child processes


def _peak_rss_mib(field: str = "VmHWM") -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _instrument(state: dict[str, Any]) -> None:
    """Hook the training loop's `CallbackList` with one timing callback (batch-begin, epoch and test hooks only);
    disable Keras's SHA-256 check of dataset files (ours are not the real ones) and downloads."""
    import keras
    from keras.src.utils import file_utils

    file_utils.validate_file = lambda *a, **k: True

    def offline(*a: Any, **k: Any) -> None:
        raise OSError("the benchmark runs offline")

    file_utils.urlretrieve = offline

    class Timer(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_begin(self, logs: Any = None) -> None:
            state.update(epoch_end=[], val_s=[], logs=[], val_now=0.0)
            state.setdefault("rss", {})["fit start"] = _peak_rss_mib()
            model = self.model
            state["settings"] = {
                "jit_compile": bool(getattr(model, "jit_compile", False)),
                "steps_per_execution": 1,  # measured: the most steps between two batch-begin calls
                "loop": "fit" if getattr(model, "train_function", None) is not None else "own",
            }
            state["last_batch"] = None

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            if state.get("first_step") is None:
                state["first_step"] = time.time()
                state["rss"]["first step"] = _peak_rss_mib()
            last, state["last_batch"] = state["last_batch"], batch
            if last is not None and batch > last:
                spe = state["settings"]["steps_per_execution"]
                state["settings"]["steps_per_execution"] = max(spe, batch - last)

        def on_train_end(self, logs: Any = None) -> None:
            state["rss"]["fit end"] = _peak_rss_mib()

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            if not state["epoch_end"]:
                state["epoch0_begin"] = time.perf_counter()
            state["val_now"] = 0.0

        def on_test_begin(self, logs: Any = None) -> None:
            state["val_t"] = time.perf_counter()

        def on_test_end(self, logs: Any = None) -> None:
            state["val_now"] += time.perf_counter() - state["val_t"]

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            state["epoch_end"].append(time.perf_counter())
            state["rss"][f"epoch {epoch + 1}"] = _peak_rss_mib()
            state["val_s"].append(state["val_now"])
            state["logs"].append({k: float(v) for k, v in (logs or {}).items() if isinstance(v, int | float)})

    init = keras.callbacks.CallbackList.__init__

    def timed_list(self: Any, callbacks: Any = None, add_history: bool = False, **kwargs: Any) -> None:
        if add_history:  # the list a training loop makes (`Model.fit`'s or kspec's resident loop)
            callbacks = [*(callbacks or []), Timer()]
        init(self, callbacks, add_history=add_history, **kwargs)

    keras.callbacks.CallbackList.__init__ = timed_list


def child_train(args: argparse.Namespace) -> dict[str, Any]:
    state: dict[str, Any] = {}
    _instrument(state)
    out = Path(args.workdir)
    log = open(out / "stdout.txt", "w")  # noqa: SIM115 - the child's whole life
    sys.stdout = log
    if args.side == "book":
        BOOK[args.model](args.epochs, out)
    else:
        from kspec.cli import main

        spec = ROOT / "specs" / f"{BENCHES[args.model].spec}.yaml"
        sets = [x for item in [f"train.epochs={args.epochs}", *(args.set or [])] for x in ("--set", item)]
        rc = main(["train", str(spec), *sets, "--out", str(out / "run")])
        if rc:
            raise SystemExit(f"kspec train failed with exit status {rc}")
    sys.stdout.flush()
    ends, vals = state["epoch_end"], state["val_s"]
    epochs = len(ends)
    steady = [ends[i] - ends[i - 1] - vals[i] for i in range(1, epochs)]
    return {
        "first_step_s": state["first_step"] - args.t0,
        "epoch1_s": ends[0] - state["epoch0_begin"] - vals[0],
        "steady_epoch_s": steady,  # epochs 2..E, validation taken out
        "val_s": vals,
        "logs": state["logs"][-1],
        "settings": state["settings"],
        "rss_mib": _peak_rss_mib(),
        "rss_trace": {**state["rss"], "process end": _peak_rss_mib()},  # VmHWM (MiB) at these points
        "wall_s": time.time() - args.t0,
    }


def child_matmul(args: argparse.Namespace) -> dict[str, Any]:
    """Best float32 matrix-product rate (GFLOP/s) at each model's shape and at 2048^3, NumPy and TensorFlow."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    shapes = {b.key: b.matmul for b in BENCHES.values() if b.key in args.model.split(",")}
    shapes["square2048"] = (2048, 2048, 2048)
    result: dict[str, Any] = {}
    for name, (m, k, n) in shapes.items():
        flops = 2.0 * m * k * n
        reps = max(1, min(32, int(2e9 // flops)))  # ~2 GFLOP per timing
        a = [rng.standard_normal((m, k), dtype=np.float32) for _ in range(reps)]  # distinct: nothing to dedupe
        w = rng.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), np.float32)
        best_np = 0.0
        for _ in range(10):
            t = time.perf_counter()
            for x in a:
                np.matmul(x, w, out=c)
            best_np = max(best_np, reps * flops / (time.perf_counter() - t))
        ta = [tf.constant(x) for x in a]
        tw = tf.constant(w)

        @tf.function
        def products(xs: list[Any], w: Any) -> Any:
            return tf.add_n([tf.reduce_sum(tf.matmul(x, w)) for x in xs])

        products(ta, tw)
        best_tf = 0.0
        for _ in range(10):
            t = time.perf_counter()
            products(ta, tw).numpy()
            best_tf = max(best_tf, reps * flops / (time.perf_counter() - t))
        result[name] = {"numpy": best_np / 1e9, "tensorflow": best_tf / 1e9, "shape": [m, k, n]}
    return result


# ------------------------------------------------------------------------------------------------------- parent


def spawn(argv: list[str], timeout: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result_path = Path(fh.name)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "0"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    t0 = time.time()
    cmd = [sys.executable, __file__, "--child", *argv, "--t0", repr(t0), "--result", str(result_path)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            return {"error": f"exit {proc.returncode}: {tail}"}
        return dict(json.loads(result_path.read_text()))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    finally:
        result_path.unlink(missing_ok=True)


def _n_train(b: Bench, samples: int) -> int:
    return math.ceil(samples * (1 - b.validation_split)) if b.validation_split else samples


def run_model(
    b: Bench, samples: int, epochs: int, repeats: int, home: Path, work: Path, sets: list[str], keys: list[str]
) -> dict[str, Any]:
    """The matmul rates (every model's shape, each time), then `repeats` book/kspec process pairs, interleaved."""
    os.environ["KERAS_HOME"] = str(home)
    rates = spawn(["matmul", "--model", ",".join(keys)], timeout=300)
    sides: dict[str, list[dict[str, Any]]] = {"book": [], "kspec": []}
    n = _n_train(b, samples)
    for r in range(repeats):
        for side in ("book", "kspec"):
            folder = work / f"{b.key}-{side}-{r}"
            folder.mkdir(parents=True)
            argv = ["train", "--side", side, "--model", b.key, "--epochs", str(epochs), "--workdir", str(folder)]
            if side == "kspec":
                argv += [f"--set={item}" for item in sets]
            res = spawn(argv, timeout=1800)
            if "error" not in res:
                steady = res["steady_epoch_s"]
                res["best_per_s"] = n / min(steady)
                res["mean_per_s"] = n * len(steady) / sum(steady)
                res["warmup_s"] = res["epoch1_s"] - statistics.median(steady)
            sides[side].append(res)
            print(f"  {b.key:5s} {side:6s} run {r + 1}: {_short(res)}", file=sys.stderr, flush=True)
    return {"rates": rates, "sides": sides}


def _short(res: dict[str, Any]) -> str:
    if "error" in res:
        return "ERROR " + res["error"].splitlines()[-1][:200]
    return (
        f"{res['best_per_s']:,.0f} samples/s best epoch, {res['mean_per_s']:,.0f} mean, "
        f"first step {res['first_step_s']:.1f} s, peak RSS {res['rss_mib']:.0f} MiB"
    )


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Over the repeats: throughput of the run with the fastest epoch; start-up, warm-up, wall: the least seen
    (contention only adds); peak RSS: the largest seen."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return None
    best = max(ok, key=lambda r: r["best_per_s"])
    return {
        **best,
        "first_step_s": min(r["first_step_s"] for r in ok),
        "warmup_s": min(r["warmup_s"] for r in ok),
        "wall_s": min(r["wall_s"] for r in ok),
        "rss_mib": max(r["rss_mib"] for r in ok),
        "runs": len(ok),
    }


def _mark(ok: bool) -> str:
    return "pass" if ok else "MISS"


def merge_rates(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """The best rate seen for each shape over all the matmul processes of this invocation (models of one shape
    share it), so one noisy moment does not move a model's limit."""
    best: dict[tuple[int, ...], dict[str, Any]] = {}
    for rates in measured:
        for entry in rates.values():
            if not isinstance(entry, dict):
                continue
            shape = tuple(entry["shape"])
            old = best.setdefault(shape, {"numpy": 0.0, "tensorflow": 0.0, "shape": list(shape)})
            old["numpy"] = max(old["numpy"], entry["numpy"])
            old["tensorflow"] = max(old["tensorflow"], entry["tensorflow"])
    out: dict[str, Any] = {}
    for key, b in BENCHES.items():
        if b.matmul in best:
            out[key] = best[b.matmul]
    if (2048, 2048, 2048) in best:
        out["square2048"] = best[(2048, 2048, 2048)]
    return out


def _limit(b: Bench, rates: dict[str, Any]) -> float:
    """Samples/s at the best measured matmul rate for the model's shape."""
    if b.key not in rates:
        return float("nan")
    return max(rates[b.key]["numpy"], rates[b.key]["tensorflow"]) * 1e9 / flops_per_sample(b)


COLUMNS = (
    ("model", 5, "<"), ("side", 5, "<"), ("settings", 10, "<"), ("samples/s", 9, ">"), ("mean", 8, ">"),
    ("x book", 6, ">"), ("target", 11, ">"), ("% limit", 7, ">"), ("target", 10, ">"), ("1st step", 8, ">"),
    ("target", 15, ">"), ("warm-up", 7, ">"), ("peak RSS", 8, ">"), ("target", 11, ">"), ("wall", 5, ">"),
    ("val acc", 7, ">"),
)  # fmt: skip


def _row(cells: list[str]) -> str:
    return " ".join(f"{c:{align}{width}}" for c, (_, width, align) in zip(cells, COLUMNS, strict=True)).rstrip()


def table(results: dict[str, dict[str, Any]], sizes: dict[str, tuple[int, int]]) -> str:
    rates = merge_rates([res["rates"] for res in results.values()])
    lines = [_row([c[0] for c in COLUMNS])]
    lines.append("-" * len(lines[0]))
    for key, res in results.items():
        b = BENCHES[key]
        limit = _limit(b, rates)
        book = summarize(res["sides"]["book"])
        for side in ("book", "kspec"):
            r = summarize(res["sides"][side])
            if r is None:
                err = res["sides"][side][0].get("error", "?").splitlines()[-1]
                lines.append(f"{key:5} {side:5} ERROR {err[:150]}")
                continue
            s = r["settings"]
            cells = [
                key,
                side,
                f"{'xla' if s['jit_compile'] else 'graph'} {s.get('loop', 'fit')}{s['steps_per_execution']}",
                f"{r['best_per_s']:,.0f}",
                f"{r['mean_per_s']:,.0f}",
                "",
                "",
                f"{100 * r['best_per_s'] / limit:.0f}%",
                "",
                f"{r['first_step_s']:.1f}s",
                "",
                f"{r['warmup_s']:.1f}s",
                f"{r['rss_mib']:.0f}MiB",
                "",
                f"{r['wall_s']:.0f}s",
                f"{r['logs'].get('val_accuracy', float('nan')):.3f}",
            ]
            if side == "kspec" and book is not None:
                ratio = r["best_per_s"] / book["best_per_s"]
                frac = r["best_per_s"] / limit
                cells[5] = f"{ratio:.2f}x"
                cells[6] = f">={b.speed_target:.0f}x {_mark(ratio >= b.speed_target)}"
                if b.limit_target is not None:
                    cells[8] = f">={100 * b.limit_target:.0f}% {_mark(frac >= b.limit_target)}"
                start_ok = r["first_step_s"] <= book["first_step_s"] + TARGET_STARTUP_S
                cells[10] = f"<=book+0.5 {_mark(start_ok)}"
                cells[13] = f"<=book {_mark(r['rss_mib'] <= book['rss_mib'])}"
            lines.append(_row(cells))
    lines.append("")
    for key, res in results.items():
        b = BENCHES[key]
        n_samples, epochs = sizes[key]
        runs = len(res["sides"]["book"])
        head = (
            f"{key}: {b.spec}; {n_samples:,} training examples (book: {b.book_samples:,}), "
            f"{_n_train(b, n_samples):,} trained on after validation_split {b.validation_split}; {epochs} epochs "
            f"(book: {b.book_epochs}); {runs} process pair(s)."
        )
        lines.append(head)
        if key not in rates:
            lines.append(f"    matmul measurement failed: {res['rates'].get('error', '?')[:200]}")
            continue
        r, sq = rates[key], rates["square2048"]
        m, k, n = r["shape"]
        lines.append(
            f"    {flops_per_sample(b) / 1e6:.3g} MFLOP/sample = 6 x {b.macs:,} MACs [{b.layers}]; float32 matmul "
            f"{m}x{k}x{n}: numpy {r['numpy']:.0f}, tf {r['tensorflow']:.0f} GFLOP/s (2048^3: numpy "
            f"{sq['numpy']:.0f}, tf {sq['tensorflow']:.0f}), best of {len(results)} process(es) -> limit "
            f"{_limit(b, rates):,.0f} samples/s"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ann,dnn,cnn,lstm", help="comma-separated: ann,dnn,cnn,lstm")
    parser.add_argument("--samples", type=int, help="training examples for every model (default: per model)")
    parser.add_argument("--epochs", type=int, help="epochs for every model, >= 2 (default: per model)")
    parser.add_argument(
        "--repeats", type=int, help="book/kspec process pairs per model (default: 3 for ann/dnn, 2 for cnn/lstm)"
    )
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    parser.add_argument("--busy", type=int, default=0, metavar="N", help="run N CPU hogs meanwhile (busy.py)")
    parser.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="extra `kspec train --set` for the kspec side (diagnosis, e.g. train.jit_compile=false); repeatable",
    )
    parser.add_argument("--child", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child_matmul(args) if args.child == "matmul" else child_train(args)
        Path(args.result).write_text(json.dumps(result))
        return
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    unknown = [k for k in keys if k not in BENCHES]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {','.join(BENCHES)}")
    if args.epochs is not None and args.epochs < 2:
        parser.error("--epochs must be >= 2 (epoch 1 is the warm-up, left out of samples/s)")
    sizes = {k: (args.samples or BENCHES[k].samples, args.epochs or BENCHES[k].epochs) for k in keys}
    started = time.perf_counter()
    load = os.getloadavg()
    print(
        f"bench_train: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start",
        file=sys.stderr,
    )
    results = {}
    from busy import hogs  # this folder is on the path: the script's own

    with tempfile.TemporaryDirectory(prefix="kspec-bench-") as tmp, hogs(args.busy):
        for key in keys:
            b = BENCHES[key]
            n, epochs = sizes[key]
            home = Path(tmp) / f"keras-{key}"
            write_dataset(home, b.dataset, n)
            repeats = args.repeats or b.repeats
            results[key] = run_model(b, n, epochs, repeats, home, Path(tmp) / "work", args.set or [], keys)
    load_end = os.getloadavg()
    print(table(results, sizes))
    print(
        f"\n{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, load average {load[0]:.2f} at start, "
        f"{load_end[0]:.2f} at end; total {time.perf_counter() - started:.0f} s.\n"
        "samples/s: the fastest of epochs 2..E (validation time taken out) over the repeats; mean: epochs 2..E of "
        "that run; x book and % limit use samples/s. 1st step: process start to the first training step; warm-up: "
        "epoch 1's extra time over a steady epoch (tracing, XLA); both the least over the repeats. peak RSS: VmHWM "
        "at process end, the largest over the repeats. settings: XLA or plain graph; the loop (Keras's `fit`, or "
        "kspec's `own` resident loop) and the most steps one compiled call ran (from the callbacks' batch indices)."
    )
    if args.set:
        print(f"NOTE: the kspec side ran with extra settings {args.set}, not its defaults.")
    if args.json:
        args.json.write_text(json.dumps({"sizes": sizes, "results": results}, indent=1))


if __name__ == "__main__":
    main()
