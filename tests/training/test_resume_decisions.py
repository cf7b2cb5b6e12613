"""Resume keeps every decision, not only the weights: the state of the callbacks kspec creates (EarlyStopping's
patience counter, best value, best weights and stop decision; ReduceLROnPlateau's counters) travels in each epoch
checkpoint, a run that stopped early is finished, and the checkpoint's history is covered by its hash. Tiny models
(digits, 240 examples) so that each test takes seconds; longer series: `python tools/kill_resume.py`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.keras

pytest.importorskip("keras")

import kspec
from kspec.training import manifest, trainer
from kspec.training.checkpoint import Checkpoint

TINY: dict[str, Any] = {
    "kspec": 1,
    "name": "decisions",
    "model": {
        "inputs": {"x": {"shape": [64]}},
        "layers": [
            {"type": "Dense", "units": 8, "activation": "relu"},
            {"type": "Dense", "name": "probs", "units": 10, "activation": "softmax"},
        ],
    },
    "data": {
        "source": "digits",
        "preprocess": [{"type": "scale", "divide": 16}, "one_hot", {"type": "take", "count": 240}],
    },
    "train": {
        "loss": "categorical_crossentropy",
        "epochs": 12,
        "batch_size": 40,
        "validation_split": 0.25,
        "seed": 3,
        "deterministic": True,
        "verbose": 0,
        "plots": "none",
    },
}
#: improvements smaller than 10 do not count: the first epoch is the best, and patience runs out after epoch 1 + 4
EARLY = {"type": "EarlyStopping", "monitor": "loss", "min_delta": 10, "patience": 4, "restore_best_weights": True}
PLATEAU = {"type": "ReduceLROnPlateau", "monitor": "loss", "min_delta": 10, "patience": 2, "factor": 0.5,
           "min_lr": 1e-6}  # fmt: skip


def _spec(tmp_path: Path, callbacks: list[Any], **train: Any) -> Any:
    doc = copy.deepcopy(TINY)
    doc["train"].update(train, callbacks=callbacks)
    path = tmp_path / "decisions.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return kspec.load(path)


def _weights(run: Path) -> list[bytes]:
    import keras

    return [np.asarray(w).tobytes() for w in keras.saving.load_model(run / "model.keras").get_weights()]


def _interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, callbacks: list[Any], after: int | None) -> Path:
    """Train into `resumed/`, Ctrl-C right after the checkpoint of epoch `after` (None: during the final save)."""
    run = tmp_path / "resumed"
    with monkeypatch.context() as m:
        if after is None:
            m.setattr(manifest, "write", lambda run_dir: (_ for _ in ()).throw(KeyboardInterrupt()))
        else:
            original = Checkpoint.save

            def save(self: Checkpoint, epochs_done: int) -> None:
                original(self, epochs_done)
                if epochs_done == after:
                    raise KeyboardInterrupt

            m.setattr(Checkpoint, "save", save)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(_spec(tmp_path, callbacks), out=run)
    return run


@pytest.mark.parametrize("after", [3, None], ids=["mid-patience", "after-the-stop-decision"])
def test_early_stopping_resumes_to_the_same_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], after: int | None
) -> None:
    whole = trainer.train(_spec(tmp_path, [EARLY]), out=tmp_path / "whole")
    assert len(whole.history["loss"]) == 5  # stopped after epoch 5 of 12
    run = _interrupted(tmp_path, monkeypatch, [EARLY], after)
    capsys.readouterr()
    resumed = trainer.train(_spec(tmp_path, [EARLY]), resume=run)
    assert resumed.history == whole.history
    assert _weights(run) == _weights(whole.run_dir)  # the best (first) epoch's weights, restored at the end
    assert manifest.verify(run).ok
    if after is None:
        assert "stopped early after epoch 5" in capsys.readouterr().err


def test_reduce_lr_on_plateau_resumes_with_its_counters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = trainer.train(_spec(tmp_path, [PLATEAU]), out=tmp_path / "whole")
    rates = whole.history["learning_rate"]
    assert len(set(rates)) >= 3  # it did reduce, several times
    run = _interrupted(tmp_path, monkeypatch, [PLATEAU], 4)  # mid-plateau: one epoch into its patience
    resumed = trainer.train(_spec(tmp_path, [PLATEAU]), resume=run)
    assert resumed.history["learning_rate"] == rates
    assert resumed.history == whole.history and _weights(run) == _weights(whole.run_dir)


def test_a_checkpoint_whose_history_was_edited_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _interrupted(tmp_path, monkeypatch, [], 3)
    record = run / "checkpoint" / "epoch-00003.json"
    meta = json.loads(record.read_text())
    meta["history"]["loss"][0] = 0.0  # the archive's hash still matches; the history's does not
    record.write_text(json.dumps(meta))
    capsys.readouterr()
    trainer.train(_spec(tmp_path, []), resume=run)
    err = capsys.readouterr().err
    assert "epoch-00003 is unusable (its history does not match its recorded SHA-256); falling back to epoch 2" in err
    assert json.loads((run / "history.json").read_text())["loss"][0] != 0.0


def test_a_callback_whose_state_is_not_saved_is_named_at_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = {"type": "BackupAndRestore", "backup_dir": "backup"}
    run = _interrupted(tmp_path, monkeypatch, [backup], 2)
    capsys.readouterr()
    trainer.train(_spec(tmp_path, [backup]), resume=run)
    err = capsys.readouterr().err
    assert "warning: the state of callback BackupAndRestore is not saved in checkpoints" in err


AUGMENTED: dict[str, Any] = {
    "kspec": 1,
    "name": "augmented",
    "model": {
        "inputs": {"x": {"shape": [8, 8, 1]}},
        "layers": [
            {"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
            {"type": "Flatten"},
            {"type": "Dense", "name": "probs", "units": 3, "activation": "softmax"},
        ],
    },
    "data": {
        "source": {"type": "synthetic", "samples": 120, "test_samples": 20},
        "preprocess": [
            {"type": "augment", "layers": [{"type": "RandomFlip"}, {"type": "RandomTranslation",
                                                                     "height_factor": 0.2, "width_factor": 0.2}]}
        ],
    },
    "train": {"loss": "categorical_crossentropy", "epochs": 4, "batch_size": 16, "validation_split": 0.2, "seed": 0,
              "verbose": 0, "plots": "none"},
}  # fmt: skip


def _augmented(tmp_path: Path) -> Any:
    path = tmp_path / "augmented.yaml"
    path.write_text(yaml.safe_dump(AUGMENTED, sort_keys=False))
    return kspec.load(path)


def test_seeded_augmentation_is_reproducible_and_resumes_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two seeded runs with augmentation (without `deterministic: true`) end with the same weights; a run interrupted
    after epoch 2 and resumed ends with them too: each batch's augmentation is drawn from (seed, epoch, batch)."""
    one = trainer.train(_augmented(tmp_path), out=tmp_path / "one")
    two = trainer.train(_augmented(tmp_path), out=tmp_path / "two")
    assert one.history == two.history and _weights(one.run_dir) == _weights(two.run_dir)
    run = tmp_path / "resumed"
    with monkeypatch.context() as m:
        original = Checkpoint.save

        def save(self: Checkpoint, epochs_done: int) -> None:
            original(self, epochs_done)
            if epochs_done == 2:
                raise KeyboardInterrupt

        m.setattr(Checkpoint, "save", save)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(_augmented(tmp_path), out=run)
    resumed = trainer.train(_augmented(tmp_path), resume=run)
    assert resumed.history == one.history and _weights(run) == _weights(one.run_dir)
