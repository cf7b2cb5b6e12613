"""Stage train: epoch checkpoints (the last two, SHA-256 checked; a corrupt one falls back to the previous).

A checkpoint holds the model's and optimizer's variables with their random-generator states and the history so far,
so that `--resume` continues bit-identically; a finished run keeps its last one, to be continued with more epochs.
Keras is imported inside the methods.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kspec.training import callback_state, manifest, runs
from kspec.training.memory import give_back

if TYPE_CHECKING:
    from kspec.training.session import Session


def write_npz(path: Path, arrays: Iterable[tuple[str, Any]]) -> None:
    """What `np.savez(path, **dict(arrays))` writes (an uncompressed zip of `.npy` files, read back by `np.load`),
    holding one array at a time: `arrays` may read each variable only when its turn comes. `np.savez` needs them all
    at once, and its writer copies each array again into a `bytes`; for a CNN's checkpoint that was 10 MiB more at
    every epoch's end, above the training peak."""
    import zipfile

    import numpy as np

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in arrays:
            a = np.asarray(value, order="C")
            if a.dtype.hasobject:
                raise TypeError(f"checkpoint array {name!r} holds Python objects")
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(a))
                fh.write(a.reshape(-1).view(np.uint8).data)  # the array's own bytes, no copy


class _Unusable(Exception):
    """A checkpoint that cannot be restored (damaged, incomplete or made for other variables)."""


class Checkpoint:
    """Epoch checkpoints under `<run>/checkpoint/`, the state `--resume` continues from.

    After epoch n: `epoch-0000n.npz` holds every variable of the groups given (models with their random-generator
    states, optimizers with their step counters, extra generators), then `epoch-0000n.json` records the epoch, the
    history so far (with its own SHA-256), the archive's SHA-256, the state of the spec's callbacks (EarlyStopping's
    counters and best weights, ReduceLROnPlateau's, ...) and whether a callback stopped the training. Both are written
    atomically and the JSON last, so a kill at any moment leaves the previous checkpoint intact; the last two are
    kept, and `restore` falls back to the older one (with a warning) when the newer one is damaged.
    """

    VERSION = 2

    def __init__(
        self, session: Session, groups: dict[str, list[Any]], callbacks: Sequence[Any] = (), model: Any = None
    ) -> None:
        self.session = session
        self.root = session.run_dir / runs.CHECKPOINTS
        self.groups = groups
        self.callbacks = list(callbacks)
        self.model = model
        self._pending: tuple[list[dict[str, Any]], dict[str, Any]] | None = None

    def _arrays(self) -> Iterator[tuple[str, Any]]:
        """Each variable as an array, read only when it is written: one copy at a time, not the whole model."""
        for g, vs in self.groups.items():
            for i, v in enumerate(vs):
                yield f"{g}.{i}", v.numpy()

    def save(self, epochs_done: int) -> None:
        stem = f"epoch-{epochs_done:05d}"
        records, callback_arrays = callback_state.save(self.callbacks)
        with runs.atomic_path(self.root / f"{stem}.npz", ".npz") as tmp:
            write_npz(tmp, itertools.chain(self._arrays(), callback_arrays.items()))
            size, digest = tmp.stat().st_size, manifest.sha256_of(tmp)
        meta = {
            "version": self.VERSION,
            "epoch": epochs_done,
            "file": f"{stem}.npz",
            "sha256": digest,
            "size": size,
            "variables": {g: len(vs) for g, vs in self.groups.items()},
            "history": self.session.history,
            "history_sha256": runs.spec_hash(runs.canonical_json(self.session.history)),
            "callbacks": records,
            "stopped": bool(getattr(self.model, "stop_training", False)),
        }
        runs.write_json(self.root / f"{stem}.json", meta)
        self._prune(epochs_done)
        give_back()  # what writing freed (the arrays, the zip's buffers): the next epoch's peak starts from less
        self.session.epoch_saved()

    def _epochs(self) -> list[int]:
        """Epochs with a checkpoint record, newest first."""
        found = []
        for path in self.root.glob("epoch-*.json"):
            digits = path.stem.removeprefix("epoch-")
            if digits.isdigit():
                found.append(int(digits))
        return sorted(found, reverse=True)

    def _prune(self, current: int) -> None:
        older = [e for e in self._epochs() if e < current]
        keep = {f"epoch-{e:05d}{ext}" for e in (current, *older[:1]) for ext in (".npz", ".json")}
        for path in self.root.iterdir():
            if path.is_file() and path.name.startswith("epoch-") and path.name not in keep:
                path.unlink(missing_ok=True)
        runs.fsync_dir(self.root)

    def _load(self, epoch: int) -> tuple[dict[str, list[float]], dict[str, Any], dict[str, Any]]:
        import json
        import zipfile
        import zlib

        import numpy as np

        meta_path = self.root / f"epoch-{epoch:05d}.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            archive = self.root / str(meta["file"])
            if meta.get("version") != self.VERSION or meta["epoch"] != epoch or archive.parent != self.root:
                raise _Unusable("an unknown record")
            if runs.spec_hash(runs.canonical_json(meta["history"])) != meta["history_sha256"]:
                raise _Unusable("its history does not match its recorded SHA-256")
            if not callback_state.matches(self.callbacks, meta["callbacks"]):
                raise _Unusable("made for other callbacks")
            if meta["variables"] != {g: len(vs) for g, vs in self.groups.items()}:
                raise _Unusable("made for other models or optimizers")
            if not archive.is_file():
                raise _Unusable(f"{archive.name} is missing")
            if archive.stat().st_size != meta["size"] or manifest.sha256_of(archive) != meta["sha256"]:
                raise _Unusable(f"{archive.name} does not match its recorded SHA-256")
            with np.load(archive, allow_pickle=False) as saved:
                arrays = {k: saved[k] for k in saved.files}
            history = {
                str(k): [float("nan") if v is None else float(v) for v in vals] for k, vals in meta["history"].items()
            }
        except _Unusable:
            raise
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            EOFError,
            zipfile.BadZipFile,
            zlib.error,
        ) as exc:
            raise _Unusable(f"{type(exc).__name__}") from None
        for g, vs in self.groups.items():
            for i, v in enumerate(vs):
                a = arrays.get(f"{g}.{i}")
                if a is None or tuple(a.shape) != tuple(v.shape):
                    raise _Unusable(f"variable {g}.{i} is missing or has another shape")
        return history, arrays, meta

    def restore(self) -> int:
        """Load the newest usable checkpoint into the variables; sets the session's history and `epochs_done`.

        Returns:
            The number of completed epochs (0 when there is no checkpoint).

        Raises:
            TrainingError: there are checkpoints, but none can be used.
        """
        epochs = self._epochs()
        for n, epoch in enumerate(epochs):
            try:
                history, arrays, meta = self._load(epoch)
            except _Unusable as exc:
                nxt = f"falling back to epoch {epochs[n + 1]}" if n + 1 < len(epochs) else "no older one is left"
                self.session.notice(f"checkpoint epoch-{epoch:05d} is unusable ({exc}); {nxt}")
                continue
            for g, vs in self.groups.items():
                for i, v in enumerate(vs):
                    v.assign(arrays[f"{g}.{i}"])
            self.session.history = history
            self.session.epochs_done = epoch
            self.session.stopped = bool(meta.get("stopped"))
            self._pending = (meta["callbacks"], arrays)
            runs.write_history(self.session.run_dir, history)  # drop epochs logged after this checkpoint
            if self.session.stopped:
                self.session.notice(
                    f"the run in {self.session.run_dir} stopped early after epoch {epoch} (a callback decided so); "
                    "finishing its results without further epochs"
                )
            else:
                self.session.notice(
                    f"resuming {self.session.run_dir} after epoch {epoch} of {self.session.spec.epochs}"
                )
            for name in callback_state.unsaved(self.callbacks):
                self.session.notice(
                    f"warning: the state of callback {name} is not saved in checkpoints; it starts afresh in this "
                    "resumed run, which may then differ from an uninterrupted one"
                )
            return epoch
        if epochs:
            raise runs.TrainingError(
                f"no usable checkpoint in {self.root}; pass --restart to train this run again from the start"
            )
        return 0

    def payload(self, epoch: int) -> bytes:
        """The files of checkpoint `epoch` as bytes (for the other workers of a multi-worker job; empty for 0)."""
        if epoch == 0:
            return b""
        record = (self.root / f"epoch-{epoch:05d}.json").read_bytes()
        archive = (self.root / f"epoch-{epoch:05d}.npz").read_bytes()
        return len(record).to_bytes(8, "little") + record + archive

    def receive(self, payload: bytes) -> int:
        """Write a checkpoint sent as `payload` into this run folder, then `restore` it (0: nothing was sent)."""
        import json

        if not payload:
            return 0
        size = int.from_bytes(payload[:8], "little")
        record = payload[8 : 8 + size]
        try:
            epoch = int(json.loads(record)["epoch"])
        except (ValueError, KeyError, TypeError) as exc:
            raise runs.TrainingError(f"the chief sent a checkpoint this worker cannot read ({exc})") from None
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / f"epoch-{epoch:05d}.npz").write_bytes(payload[8 + size :])
        (self.root / f"epoch-{epoch:05d}.json").write_bytes(record)  # a temporary run folder: no atomic write
        return self.restore()

    def apply_callback_state(self) -> None:
        """Put the restored callback state back (after the callbacks' `on_train_begin` reset it)."""
        if self._pending is not None:
            callback_state.restore(self.callbacks, *self._pending)
            self._pending = None


def keep_last_checkpoint(run_dir: Path) -> None:
    """Once a run is finished and its manifest written: keep only the newest checkpoint (what `--resume` with more
    `train.epochs` continues from); the older one is a fallback for a kill while training only."""
    root = run_dir / runs.CHECKPOINTS
    if not root.is_dir():
        return
    epochs = sorted(int(p.stem.removeprefix("epoch-")) for p in root.glob("epoch-*.json") if p.stem[6:].isdigit())
    keep = {f"epoch-{epochs[-1]:05d}{ext}" for ext in (".npz", ".json")} if epochs else set()
    for path in root.iterdir():
        if path.is_file() and path.name not in keep:
            path.unlink(missing_ok=True)
    runs.fsync_dir(root)
