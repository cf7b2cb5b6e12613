"""Stage train: the Keras callbacks that write files, made to write them atomically. Imports keras (inside).

`CSVLogger` and `ModelCheckpoint` write straight into their file, so a kill mid-write leaves it truncated and the
previous good copy is gone. kspec's versions write a temporary file next to it and rename it into place (fsync, rename,
fsync of the folder, as every file kspec writes): a kill at any moment leaves the old file or the new one, whole.
They keep Keras's behaviour and arguments; `kspec_kind` names the Keras class (for checkpointed state).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from kspec.training import runs


def _suffix(path: Path) -> str:
    return ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix


def make(kind: str, args: dict[str, Any]) -> Any:
    """The callback `kind` with `args`: an atomic-writing subclass where Keras's would write in place."""
    import keras

    base = getattr(keras.callbacks, kind)
    if kind == "CSVLogger":
        return _csv_logger(base)(**args)
    if kind == "ModelCheckpoint":
        return _model_checkpoint(base)(**args)
    return base(**args)


def _csv_logger(base: type) -> type:
    class AtomicCSVLogger(base):  # type: ignore[misc]
        """Keras's CSVLogger rows, the whole file rewritten atomically after each epoch."""

        kspec_kind = "CSVLogger"

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            path = Path(self.filename)
            self._text = path.read_text(encoding="utf-8") if self.append and path.is_file() else ""
            self.append_header = not self._text.partition("\n")[0]
            self.csv_file = io.StringIO()  # Keras's writer fills it; each epoch's rows then go to the file
            self.writer = None
            self.keys = None

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            super().on_epoch_end(epoch, logs)
            self._text += self.csv_file.getvalue()
            self.csv_file.seek(0)
            self.csv_file.truncate()
            runs.write_text(Path(self.filename), self._text)

        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            self.writer = None

    return AtomicCSVLogger


def _model_checkpoint(base: type) -> type:
    class AtomicModelCheckpoint(base):  # type: ignore[misc]
        """Keras's ModelCheckpoint, saving to a temporary file that then replaces the target."""

        kspec_kind = "ModelCheckpoint"

        def _save_model(self, epoch: int, batch: int | None, logs: dict[str, Any] | None) -> None:
            target = Path(getattr(base, "_get_file_path")(self, epoch, batch, logs))  # noqa: B009
            tmp = runs.temp_name(target, _suffix(target))
            self._get_file_path = lambda *a, **k: str(tmp)  # Keras saves where this says
            try:
                super()._save_model(epoch, batch, logs)
                if tmp.exists():  # not saved when `save_best_only` found no improvement
                    runs.commit(tmp, target)
            finally:
                del self._get_file_path
                tmp.unlink(missing_ok=True)

    return AtomicModelCheckpoint
