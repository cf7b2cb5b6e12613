"""Stage train: progress output of `kspec train`, instead of Keras's progress bar. Keras is imported inside.

In a terminal: one line redrawn in place with the epoch, its batches, the current metrics and the whole run's
elapsed time and ETA, then a line per finished epoch. Anywhere else (a pipe, a log file, CI): one plain line per
epoch, no carriage returns and no ANSI codes. kspec uses no colours, so `NO_COLOR` is honoured as it stands;
`verbose: 2` asks for the plain lines in a terminal too, `verbose: 0` for none. `Epoch 1/1` is printed as well.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _metrics(logs: dict[str, Any]) -> str:
    """`loss 0.31 · accuracy 0.9 · val_loss 0.35 · val_accuracy 0.88`: losses first, validation after training."""
    keys = [k for k in logs if k not in ("learning_rate", "lr")]
    keys.sort(key=lambda k: (k.startswith("val_"), k.removeprefix("val_") != "loss"))
    return " · ".join(f"{k} {float(logs[k]):.4g}" for k in keys)


class Progress:
    """Reports epochs and batches of one training (`first` = the epoch a resumed run starts at)."""

    def __init__(
        self, epochs: int, steps: int | None, *, first: int = 0, verbose: Any = "auto", stream: IO[str] | None = None
    ) -> None:
        self.out = stream or sys.stdout
        self.epochs, self.steps, self.first = epochs, steps, first
        self.live = verbose in ("auto", 1, True) and bool(getattr(self.out, "isatty", lambda: False)())
        self.quiet = verbose in (0, False)
        self.started = time.perf_counter()
        self.epoch_started = self.started
        self.epoch = first
        self._width = 0
        self._durations: list[float] = []

    def epoch_begin(self, epoch: int) -> None:
        self.epoch = epoch
        self.epoch_started = time.perf_counter()

    def batch_end(self, step: int, logs: dict[str, Any] | None) -> None:
        """After batch `step` (0-based) of the current epoch: redraw the line (in a terminal only)."""
        if not self.live or self.quiet:
            return
        done = step + 1
        now = time.perf_counter()
        total = self.steps or done
        share = min(1.0, done / total)
        epochs_left = self.epochs - self.epoch - share
        per_epoch = (now - self.epoch_started) / share if share else 0.0
        bar = "█" * int(20 * share) + "·" * (20 - int(20 * share))
        text = (
            f"Epoch {self.epoch + 1}/{self.epochs} {bar} {done}/{total} · {_metrics(logs or {})} · "
            f"{_clock(now - self.started)} elapsed, ETA {_clock(epochs_left * per_epoch)}"
        )
        self._draw(text)

    def epoch_end(self, epoch: int, logs: dict[str, Any] | None) -> None:
        """After an epoch: its line (in a terminal it replaces the progress line)."""
        if self.quiet:
            return
        now = time.perf_counter()
        self._durations.append(now - self.epoch_started)
        typical = self._durations[1:] or self._durations  # the first epoch also compiles: not a typical one
        left = (self.epochs - epoch - 1) * sum(typical) / len(typical)
        eta = f", ETA {_clock(left)}" if epoch + 1 < self.epochs else ""
        text = f"Epoch {epoch + 1}/{self.epochs} · {_metrics(logs or {})} · {now - self.epoch_started:.1f} s{eta}"
        if self.live:
            self._draw(text)
            self.out.write("\n")
            self._width = 0
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def _draw(self, text: str) -> None:
        pad = max(0, self._width - len(text))
        self.out.write("\r" + text + " " * pad)
        self.out.flush()
        self._width = len(text)


def callback(progress: Progress) -> Any:
    """`progress` as a Keras callback (for `fit`'s loops: `Model.fit` and the resident feed)."""
    import keras

    class ProgressCallback(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            progress.epoch_begin(epoch)

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            progress.batch_end(batch, logs)

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            progress.epoch_end(epoch, logs)

    return ProgressCallback()
