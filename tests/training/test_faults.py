"""Training faults: killed runs resume to the uninterrupted result (SIGKILL harness, and in-process interruptions for
each recipe), a changed spec is refused on resume, a damaged checkpoint falls back to the previous one, damaged data
files give located errors, and a finished run folder is complete (manifest, no temporary files)."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.keras

pytest.importorskip("keras")

import kspec
from kspec.cli import main
from kspec.errors import SpecErrors
from kspec.training import (
    manifest,
    runs,
    trainer,
)
from kspec.training.checkpoint import Checkpoint
from kspec.training.session import Session

ROOT = Path(__file__).resolve().parents[2]

ANN: dict[str, Any] = {
    "kspec": 1,
    "name": "faults",
    "model": {
        "inputs": {"x": {"shape": [64]}},
        "layers": [
            {"type": "Dense", "units": 16, "activation": "relu"},
            {"type": "Dropout", "rate": 0.2},
            {"type": "Dense", "name": "probs", "units": 10, "activation": "softmax"},
        ],
    },
    "data": {
        "source": "digits",
        "preprocess": [{"type": "scale", "divide": 16}, "one_hot", {"type": "take", "count": 300}],
    },
    "train": {
        "loss": "categorical_crossentropy",
        "metrics": ["accuracy"],
        "epochs": 4,
        "batch_size": 25,
        "validation_split": 0.2,
        "seed": 3,
        "deterministic": True,
        "verbose": 0,
        "plots": "none",
    },
}

GAN: dict[str, Any] = {
    "kspec": 1,
    "name": "faults_gan",
    "models": {
        "generator": {
            "inputs": {"z": {"shape": [4]}},
            "layers": [
                {"type": "Dense", "units": 16, "activation": "relu"},
                {"type": "Dropout", "rate": 0.1},
                {"type": "Dense", "units": 8},
            ],
        },
        "discriminator": {
            "inputs": {"x": {"shape": [8]}},
            "layers": [{"type": "Dense", "units": 8, "activation": "relu"}, {"type": "Dense", "units": 1}],
        },
    },
    "data": {"source": {"type": "synthetic", "task": "normal", "input_shape": [8], "samples": 96, "test_samples": 0}},
    "train": {
        "recipe": "gan",
        "epochs": 4,
        "batch_size": 16,
        "seed": 5,
        "deterministic": True,
        "verbose": 0,
        "gan": {"sample_every": 2},
    },
}


def _spec(tmp_path: Path, doc: dict[str, Any], **train: Any) -> Any:
    doc = copy.deepcopy(doc)
    doc["train"].update(train)
    path = tmp_path / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return kspec.load(path)


def _weights(run: Path) -> dict[str, list[Any]]:
    import keras

    return {
        p.name: [np.asarray(w) for w in keras.saving.load_model(p, compile=False).get_weights()]
        for p in sorted(run.glob("*.keras"))
    }


def _same(a: Path, b: Path) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(
        x.tobytes() == y.tobytes() for k in wa for x, y in zip(wa[k], wb[k], strict=True)
    )


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, epochs: int) -> None:
    """Ctrl-C right after the checkpoint of epoch `epochs` was written."""
    original = Checkpoint.save

    def save(self: Checkpoint, epochs_done: int) -> None:
        original(self, epochs_done)
        if epochs_done == epochs:
            raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoint, "save", save)


def _interrupted_then_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: dict[str, Any], after: int, **train: Any
) -> Path:
    run = tmp_path / "resumed"
    with monkeypatch.context() as m:
        _interrupt_after(m, after)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(_spec(tmp_path, doc, **train), out=run)
    trainer.train(_spec(tmp_path, doc, **train), resume=run)
    return run


# -- SIGKILL harness ---------------------------------------------------------------------------------------------
def _harness() -> Any:
    spec = importlib.util.spec_from_file_location("kill_resume", ROOT / "tools" / "kill_resume.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kill_resume"] = module
    spec.loader.exec_module(module)
    return module


def test_sigkilled_runs_resume_to_the_uninterrupted_weights(tmp_path: Path) -> None:
    harness = _harness()
    trials = harness.run_trials(2, epochs=6, workdir=tmp_path, modes=[["checkpoint-write"], ["mid-epoch"]], echo=False)
    for t in trials:
        assert not t.problems, harness.describe(t)
        assert any(a.killed for a in t.attempts), harness.describe(t)
        assert t.result["identical"] and t.result["same_history"], harness.describe(t)
    write_kill = trials[0].attempts[0]
    assert write_kill.temp_files and not write_kill.unreadable  # killed mid-write: the old files stayed whole


# -- in-process interruptions ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("doc", "train"),
    [(ANN, {"recipe": "tape"}), (ANN, {"steps_per_epoch": 13}), (GAN, {})],
    ids=["tape", "fit-steps-per-epoch", "gan"],
)
def test_resume_equals_uninterrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: dict[str, Any], train: dict[str, Any]
) -> None:
    whole = trainer.train(_spec(tmp_path, doc, **train), out=tmp_path / "whole")
    run = _interrupted_then_resumed(tmp_path, monkeypatch, doc, 2, **train)
    assert _same(whole.run_dir, run)
    assert json.loads((run / "history.json").read_text()) == json.loads((whole.run_dir / "history.json").read_text())


def test_a_finished_run_is_complete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = trainer.train(_spec(tmp_path, ANN, plots="auto"), out=tmp_path / "run")
    run = result.run_dir
    assert [p.name for p in (run / "checkpoint").glob("*.json")] == ["epoch-00004.json"]  # the last one stays
    assert json.loads((run / "status.json").read_text())["status"] == "complete"
    assert not [p for p in run.rglob(".*") if runs.is_temp(p.name)]
    listed = json.loads((run / "manifest.json").read_text())["files"]
    assert {"model.keras", "history.json", "metrics.json", "spec.yaml", "summary.txt", "loss.png"} <= set(listed)
    assert manifest.verify(run).ok and main(["verify", str(run)]) == 0
    capsys.readouterr()
    again = trainer.train(_spec(tmp_path, ANN, plots="auto"), resume=run)  # e.g. killed as it exited: idempotent
    assert "already finished" in capsys.readouterr().err
    assert again.summary == result.summary and again.history == result.history and manifest.verify(run).ok
    with pytest.raises(runs.TrainingError, match="already holds a kspec run"):
        trainer.train(_spec(tmp_path, ANN, plots="auto"), out=run)


def test_a_kill_before_the_manifest_finishes_on_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def killed(run_dir: Path) -> Path:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(manifest, "write", killed)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(_spec(tmp_path, ANN), out=tmp_path / "run")
    run = tmp_path / "run"
    assert (run / "model.keras").exists() and (run / "checkpoint").exists() and not (run / "manifest.json").exists()
    result = trainer.train(_spec(tmp_path, ANN), resume=run)
    assert len(result.history["loss"]) == 4 and manifest.verify(run).ok


# -- changed specs ----------------------------------------------------------------------------------------------
def test_resume_with_a_changed_spec_is_refused_naming_the_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(_spec(tmp_path, ANN), out=run)
    changed = copy.deepcopy(ANN)
    changed["model"]["layers"][0]["units"] = 32
    with pytest.raises(runs.SpecChangedError) as info:
        trainer.train(_spec(tmp_path, changed, epochs=5), resume=run)
    message = str(info.value)
    assert "model.layers.0.units (16 -> 32)" in message and "train.epochs (4 -> 5)" in message
    assert "--restart" in message
    spec_file = tmp_path / "faults.yaml"
    capsys.readouterr()
    assert main(["train", str(spec_file), "--resume", str(run), "--set", "train.seed=4"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kspec: error: the spec differs") and "train.seed (3 -> 4)" in err
    assert "Traceback" not in err
    result = trainer.train(_spec(tmp_path, changed, epochs=5), resume=run, restart=True)
    assert len(result.history["loss"]) == 5 and result.run_dir == run
    assert "units: 32" in (run / "spec.yaml").read_text()


# -- damaged checkpoints --------------------------------------------------------------------------------------
def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = trainer.train(_spec(tmp_path, ANN), out=tmp_path / "whole")
    run = tmp_path / "run"
    with monkeypatch.context() as m:
        _interrupt_after(m, 3)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(_spec(tmp_path, ANN), out=run)
    kept = sorted(p.name for p in (run / "checkpoint").iterdir())
    assert kept == ["epoch-00002.json", "epoch-00002.npz", "epoch-00003.json", "epoch-00003.npz"]
    latest = run / "checkpoint" / "epoch-00003.npz"
    data = bytearray(latest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    latest.write_bytes(bytes(data))
    capsys.readouterr()
    result = trainer.train(_spec(tmp_path, ANN), resume=run)
    err = capsys.readouterr().err
    assert "checkpoint epoch-00003 is unusable" in err and "falling back to epoch 2" in err
    assert "after epoch 2 of 4" in err
    assert len(result.history["loss"]) == 4 and _same(whole.run_dir, run)


def test_no_usable_checkpoint_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(_spec(tmp_path, ANN), out=run)
    (run / "checkpoint" / "epoch-00002.npz").write_bytes(b"")
    (run / "checkpoint" / "epoch-00001.json").write_text("{not json")
    with pytest.raises(runs.TrainingError, match="no usable checkpoint.*--restart"):
        trainer.train(_spec(tmp_path, ANN), resume=run)


# -- damaged data files -----------------------------------------------------------------------------------------
def _file_spec(tmp_path: Path, source: dict[str, Any]) -> Path:
    doc = {
        "kspec": 1,
        "name": "files",
        "model": {"inputs": {"x": {"shape": [3]}}, "layers": [{"type": "Dense", "units": 1}]},
        "data": {"source": source},
        "train": {"loss": "mse", "epochs": 1, "verbose": 0, "plots": "none"},
    }
    path = tmp_path / "files.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("name", "content", "source"),
    [
        ("d.npz", "truncated-npz", {"type": "npz", "path": "d.npz"}),
        ("d.npy", "truncated-npy", {"type": "npy", "path": "d.npy"}),
        ("d.csv", b"", {"type": "csv", "path": "d.csv", "features": ["a", "b", "c"], "targets": ["t"]}),
        ("d.csv", b"a,b,c,t\n1,2,\xff\xfe,4\n", {"type": "csv", "path": "d.csv", "features": ["a", "b", "c"]}),
        ("d.csv", b"a,b,c,t\n1,2,3,4\n5,6", {"type": "csv", "path": "d.csv", "features": ["a", "b", "c"]}),
    ],
    ids=["npz", "npy", "empty-csv", "binary-csv", "short-csv"],
)
def test_damaged_data_files_give_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: Any, source: dict[str, Any]
) -> None:
    target = tmp_path / name
    if content == "truncated-npz":
        np.savez(target, x_train=np.zeros((20, 3), np.float32), y_train=np.zeros(20, np.float32))
        target.write_bytes(target.read_bytes()[:300])
    elif content == "truncated-npy":
        np.save(target, np.zeros((20, 3), np.float32))
        target.write_bytes(target.read_bytes()[:200])
    else:
        target.write_bytes(content)
    spec = _file_spec(tmp_path, source)
    with pytest.raises(SpecErrors) as info:
        trainer.train(kspec.load(spec), out=tmp_path / "run")
    err = info.value.errors[0]
    assert err.code == "data-error" and err.line is not None and err.path[:2] == ("data", "source")
    assert main(["train", str(spec), "--out", str(tmp_path / "run2")]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err and "data-error" in out.out


def test_evaluate_a_damaged_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"PK\x03\x04 not a whole archive")
    with pytest.raises(runs.TrainingError, match="cannot load"):
        trainer.evaluate(_spec(tmp_path, ANN), bad)


def test_session_epoch_order_follows_seed_and_epoch(tmp_path: Path) -> None:
    """The training data's order is a function of (seed, epoch): the same for any process that sets the epoch."""
    from kspec.data.registry import Arrays, Splits

    resolved = _spec(tmp_path, ANN)
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    splits = Splits(Arrays(x, np.arange(20, dtype=np.int32)))
    s = Session(resolved.spec.train, None, "m", splits, tmp_path, False)  # type: ignore[arg-type]
    ds = s.dataset(splits.train, training=True)
    assert ds is not None

    def order(epoch: int) -> list[int]:
        return [int(v) for _, y in s.epoch_batches(ds, epoch) for v in y.numpy()]

    first, second = order(0), order(1)
    assert sorted(first) == list(range(20)) and first != second
    assert order(0) == first and order(1) == second


def test_a_resumed_csv_logger_keeps_the_earlier_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    callbacks = [{"type": "CSVLogger", "filename": "log.csv"}]
    run = _interrupted_then_resumed(tmp_path, monkeypatch, ANN, 2, callbacks=callbacks)
    rows = (run / "log.csv").read_text().splitlines()
    assert rows[0].startswith("epoch") and [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2", "3"]
