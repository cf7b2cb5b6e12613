"""Write the small data files the specs of `specs/examples/` read (`specs/examples/data/*.npz`).

Run `python -m tools.example_data`. The arrays are made up but learnable (a class decides a pattern), deterministic
(seed 0) and small enough to keep in the repository; they let `kspec train specs/examples/<spec>.yaml` run as is.
Real data (IMDB, MNIST, CIFAR-10, Oxford pets, FordA) drops in with the same keys and shapes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "specs" / "examples" / "data"


def tokens(n: int = 64, maxlen: int = 200, vocab: int = 20000) -> dict[str, np.ndarray]:
    """Token ids; a positive review uses more ids from the upper half of the vocabulary."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    x = rng.integers(1, vocab // 2, (n, maxlen)) + (y[:, None] * rng.integers(0, 2, (n, maxlen)) * (vocab // 2 - 1))
    return {"x_train": x.astype("int32"), "y_train": y.astype("int32")}


def digits(n: int = 64) -> dict[str, np.ndarray]:
    """28 x 28 uint8 images: a bright bar whose position is the class."""
    x = np.zeros((n, 28, 28), "uint8")
    for i in range(n):
        x[i, 4:24, 3 + 2 * (i % 10) : 5 + 2 * (i % 10)] = 255
    return {"x_train": x, "y_train": (np.arange(n) % 10).astype("uint8")}


def images(n: int = 32, size: int = 32) -> dict[str, np.ndarray]:
    """Colour images: the class sets the dominant channel mix."""
    y = np.arange(n) % 10
    x = np.zeros((n, size, size, 3), "uint8")
    for i, c in enumerate(y):
        x[i] = np.array([25 * c, 255 - 25 * c, 120], "uint8")
    return {"x_train": x, "y_train": y.astype("uint8")}


def pets(n: int = 8, size: int = 160) -> dict[str, np.ndarray]:
    """Images with a disk (class 1) and its border (class 2) on a background (class 0), and the per-pixel masks."""
    yy, xx = np.mgrid[:size, :size]
    x = np.zeros((n, size, size, 3), "uint8")
    y = np.zeros((n, size, size, 1), "uint8")
    for i in range(n):
        r = np.hypot(yy - size / 2 - 4 * i, xx - size / 2)
        y[i, ..., 0] = np.where(r < 30 + 3 * i, 1, np.where(r < 36 + 3 * i, 2, 0))
        x[i] = np.array([[40, 40, 40], [200, 120, 60], [250, 250, 250]], "uint8")[y[i, ..., 0]]
    return {"x_train": x, "y_train": y}


def series(n: int = 32, steps: int = 500) -> dict[str, np.ndarray]:
    """Univariate series: class 1 oscillates twice as fast."""
    y = np.arange(n) % 2
    t = np.linspace(0, 8 * np.pi, steps)
    x = np.sin(t[None, :] * (1 + y[:, None]) + np.arange(n)[:, None] / n).round(3)
    return {"x_train": x.astype("float32"), "y_train": y.astype("int32")}


def tickets(
    n: int = 64, title: int = 10, body: int = 100, words: int = 10000, tags: int = 12, departments: int = 4
) -> dict[str, np.ndarray]:
    """Support tickets as the functional API guide's ticket model reads them: title and body word ids, binary tags;
    targets a priority in [0, 1] (the share of set tags) and a one-hot department (decided by the first title word)."""
    rng = np.random.default_rng(0)
    tag_bits = rng.integers(0, 2, (n, tags)).astype("float32")
    title_ids = rng.integers(1, words, (n, title))
    department = title_ids[:, 0] % departments
    return {
        "title": title_ids.astype("int32"),
        "body": rng.integers(1, words, (n, body)).astype("int32"),
        "tags": tag_bits,
        "priority": tag_bits.mean(1, keepdims=True),
        "department": np.eye(departments, dtype="float32")[department],
    }


def translations(
    n: int = 64, encoder_tokens: int = 71, decoder_tokens: int = 93, steps: int = 16
) -> dict[str, np.ndarray]:
    """One-hot character sequences as the seq2seq example feeds them: the target sentence spells the source's
    characters (shifted into the target alphabet), the decoder reads it one step behind its target."""
    rng = np.random.default_rng(0)
    source = rng.integers(0, encoder_tokens, (n, steps))
    target = (source % (decoder_tokens - 1)) + 1  # token 0 is the start character
    decoder_in = np.concatenate([np.zeros((n, 1), "int64"), target[:, :-1]], axis=1)
    eye_enc, eye_dec = np.eye(encoder_tokens, dtype="float32"), np.eye(decoder_tokens, dtype="float32")
    return {
        "encoder_input_data": eye_enc[source],
        "decoder_input_data": eye_dec[decoder_in],
        "decoder_target_data": eye_dec[target],
    }


FILES = {"imdb_tokens.npz": tokens, "digits.npz": digits, "images.npz": images, "pets.npz": pets, "series.npz": series,
         "tickets.npz": tickets, "fra_eng.npz": translations}  # fmt: skip


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in FILES.items():
        np.savez_compressed(OUT / name, **make())
        print(f"wrote {OUT / name} ({(OUT / name).stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
