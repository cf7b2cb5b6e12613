"""Stage 7, report: PNG plots of runs with matplotlib's Agg backend (curves, confusion matrix, image grids).

The book's `plot_loss`/`plot_acc` (train vs validation per epoch), a confusion matrix for classifiers, predicted vs
true for regression, reconstructions for autoencoders, grey/predicted/true triplets for image-to-image models and
sample grids for GANs. `plot_runs` redraws from `history.json` and compares several runs on one figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kspec.data import named
from kspec.training import runs

if TYPE_CHECKING:
    from kspec.training.session import Session

_TITLES = {"loss": "Loss", "accuracy": "Accuracy", "acc": "Accuracy"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    kind = path.suffix.lower().lstrip(".") or "png"
    with runs.atomic_path(path, path.suffix or ".png") as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="jpg" if kind == "jpeg" else kind)
    _pyplot().close(fig)
    return path


def history_metrics(history: dict[str, list[float]]) -> list[str]:
    """Metric names with a training curve (`loss`, `accuracy`, ...; `val_` curves go with them)."""
    return [k for k in history if not k.startswith("val_") and k not in ("learning_rate", "lr")]


def plot_history(
    histories: dict[str, dict[str, list[float]]], out: Path, title: str = "", file: Path | None = None
) -> list[Path]:
    """One PNG per metric: each run's training curve (solid) and validation curve (dashed), as the book's plot_loss;
    with `file`, all metrics as panels of that one figure. Several runs: the legend sits outside the axes."""
    plt = _pyplot()
    names: list[str] = []
    for history in histories.values():
        names += [m for m in history_metrics(history) if m not in names]
    if file is not None:
        fig, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4), squeeze=False)
        for i, (ax, metric) in enumerate(zip(axes[0], names, strict=True)):
            _curves(ax, histories, metric, title, legend=i == len(names) - 1)  # one legend, right of the last panel
        return [_save(fig, file)]
    paths = []
    for metric in names:
        fig, ax = plt.subplots(figsize=(6, 4))
        _curves(ax, histories, metric, title)
        paths.append(_save(fig, out / f"{metric}.png"))
    return paths


def _curves(
    ax: Any, histories: dict[str, dict[str, list[float]]], metric: str, title: str, legend: bool = True
) -> None:
    """One metric's curves on `ax`: markers while there are few epochs (one epoch is a point), whole epochs on x."""
    from matplotlib.ticker import MaxNLocator

    for i, (label, history) in enumerate(histories.items()):
        color = f"C{i}"
        prefix = f"{label} " if len(histories) > 1 else ""
        for key, style, what in ((metric, "-", "Train"), (f"val_{metric}", "--", "Validation")):
            values = history.get(key)
            if values:
                marker = "o" if len(values) <= 30 else None
                epochs = range(1, len(values) + 1)
                ax.plot(epochs, values, style, color=color, marker=marker, markersize=4, label=f"{prefix}{what}")
    name = _TITLES.get(metric, metric)
    ax.set_title(f"{title}: {name}" if title else f"Model {name}")
    ax.set_xlabel("Epoch")
    ax.set_ylabel(name)
    longest = max((len(h.get(metric) or h.get(f"val_{metric}") or []) for h in histories.values()), default=0)
    if longest <= 20:  # every epoch a tick, and room around a single point
        ax.set_xticks(range(1, longest + 1))
        ax.set_xlim(0.5, longest + 0.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if legend and len(histories) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, fontsize=8)
    elif legend:
        ax.legend(loc="best")
    ax.grid(alpha=0.3)


def plot_confusion(true: Any, pred: Any, out: Path, names: Sequence[str] | None = None, title: str = "") -> Path:
    """The confusion matrix, labelled with the dataset's class names where it has them (and they fit)."""
    plt = _pyplot()
    classes = int(max(true.max(), pred.max())) + 1
    if names is not None and len(names) >= classes:
        classes = len(names)
    else:
        names = None
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (true, pred), 1)
    side = 1 + (0.75 if names is not None else 0.5) * classes
    fig, ax = plt.subplots(figsize=(side, side))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), n in np.ndenumerate(matrix):
        if n:
            ax.text(
                j, i, str(n), ha="center", va="center", fontsize=8, color="white" if n > matrix.max() / 2 else "black"
            )
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    head = f"{title}: confusion matrix" if title else "Confusion matrix"
    ax.set_title(f"{head} (accuracy {np.mean(true == pred):.3f})")
    ax.set_xticks(range(classes))
    ax.set_yticks(range(classes))
    if names is not None:
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
        ax.set_yticklabels(names, fontsize=8)
    return _save(fig, out / "confusion_matrix.png")


def plot_regression(true: Any, pred: Any, out: Path, title: str = "") -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    t, p = np.ravel(true), np.ravel(pred)
    ax.scatter(t, p, s=8, alpha=0.6)
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("True")
    ax.set_ylabel("Predicted")
    ax.set_title(f"{title}: predicted vs true" if title else "Predicted vs true")
    return _save(fig, out / "regression.png")


def _as_image(a: Any) -> tuple[Any, str | None]:
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 1:
        side = int(round(np.sqrt(a.size)))
        a = a.reshape(side, side) if side * side == a.size else a.reshape(1, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[-1] == 2:  # R, G planes padded with an empty B (the book's ch8 two-channel input)
        a = np.concatenate([a, np.zeros_like(a[..., :1])], axis=-1)
    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return a, ("gray" if a.ndim == 2 else None)


def plot_rows(rows: Sequence[tuple[str, Any]], path: Path, title: str) -> Path:
    """A grid with one row per (label, examples): inputs / reconstructions, or grey / predicted / true."""
    plt = _pyplot()
    n = min(len(rows[0][1]), 10)
    fig, axes = plt.subplots(len(rows), n, figsize=(1.2 * n, 1.3 * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(n):
            ax = axes[r][c]
            img, cmap = _as_image(images[c])
            ax.imshow(img, cmap=cmap)
            ax.axis("off")
        axes[r][0].set_title(label, fontsize=8, loc="left")
    fig.suptitle(title)
    return _save(fig, path)


def plot_samples(samples: Any, path: Path, title: str) -> Path:
    """A GAN's generated samples: an image grid, or histograms for vector samples (the book's ch7.1)."""
    plt = _pyplot()
    samples = np.asarray(samples, dtype=np.float32)
    width = samples.shape[1] if samples.ndim == 2 else 0
    flat_image = width >= 256 and int(np.sqrt(width)) ** 2 == width  # e.g. 784 = a flattened 28x28 image
    if samples.ndim == 2 and not flat_image:  # vectors of numbers (ch7.1: 100 samples of a distribution)
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.hist(samples.ravel(), bins=50, histtype="step", label="Generated")
        ax.set_title(f"{title} (mean {samples.mean():.3f}, std {samples.std():.3f})")
        ax.legend()
        return _save(fig, path)
    n = len(samples)
    side = int(np.ceil(np.sqrt(n)))
    fig, axes = plt.subplots(side, side, figsize=(side, side), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < n:
            img, cmap = _as_image(samples[i])
            ax.imshow(img, cmap=cmap)
    fig.suptitle(title)
    return _save(fig, path)


def _is_image(shape: tuple[int, ...]) -> bool:
    return len(shape) >= 2 or (len(shape) == 1 and shape[0] >= 16 and int(np.sqrt(shape[0])) ** 2 == shape[0])


def plot_run(run_dir: Path, session: Session, title: str = "", class_names: Sequence[str] | None = None) -> list[Path]:
    """Every plot that fits the run: history curves, then per recipe and output kind. `title` names the model in
    every title; `class_names` label a confusion matrix (the dataset's, where it has them)."""
    spec = session.spec
    wanted = set(spec.plots) if isinstance(spec.plots, list) else None
    history_wanted = wanted is None or "history" in wanted
    paths = plot_history({run_dir.name: session.history}, run_dir, title) if history_wanted else []
    part = session.splits.test or session.splits.validation
    # several outputs (targets as a tuple): the history only; several inputs: plots that do not show the inputs
    if spec.recipe == "gan" or part is None or part.y is None or isinstance(part.y, tuple):
        return paths
    count = min(len(part), 2000)
    x, y = named.rows(part.x, slice(0, count)), part.y[:count]
    out_shape = tuple(session.model.outputs[0].shape[1:])  # what `predict` gives per example: decide before it runs
    kind = _kind(spec.recipe, out_shape, np.asarray(y), session.splits.one_hot)
    if isinstance(x, tuple) and kind in ("reconstructions", "image_pairs"):
        return paths
    if kind == "none" or (wanted is not None and kind not in wanted):
        return paths  # no prediction: it would trace a predict function (time and memory) for nothing
    pred = np.asarray(session.model.predict(x, batch_size=spec.batch_size, verbose=0))
    if kind == "confusion_matrix":
        true = np.asarray(y).reshape(len(y), -1)
        true = true.argmax(-1) if true.shape[1] > 1 else true[:, 0].astype(np.int64)
        guess = pred.argmax(-1) if pred.shape[-1] > 1 else (pred[:, 0] > 0.5).astype(np.int64)
        paths.append(
            plot_confusion(true.astype(np.int64), guess.reshape(-1).astype(np.int64), run_dir, class_names, title)
        )
    elif kind == "regression":
        paths.append(plot_regression(y, pred, run_dir, title))
    elif kind == "reconstructions":
        paths.append(
            plot_rows(
                [("input", x), ("reconstruction", pred)], run_dir / "reconstructions.png", "Inputs and reconstructions"
            )
        )
    elif kind == "image_pairs":
        paths.append(
            plot_rows(
                [("input", x), ("predicted", pred), ("true", y)],
                run_dir / "image_pairs.png",
                "Input / predicted / true",
            )
        )
    return paths


def _kind(recipe: str, out_shape: tuple[int, ...], y: Any, one_hot: int | None) -> str:
    if recipe == "autoencoder":
        return "reconstructions"
    if len(out_shape) >= 2 and _is_image(out_shape):
        return "image_pairs"
    integer = y.dtype.kind in "iu" or one_hot is not None
    if out_shape[-1:] != (1,) or integer:
        return "confusion_matrix" if len(out_shape) == 1 else "none"
    binary = set(np.unique(y)).issubset({0.0, 1.0})
    return "confusion_matrix" if binary else "regression"
