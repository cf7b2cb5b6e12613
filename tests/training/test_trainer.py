"""Each recipe for a few epochs on tiny data (loss goes down), determinism, resume after an interruption, the fast
path against the plain path, run-folder contents and located data/model mismatches."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.keras

pytest.importorskip("keras")

import kspec
from kspec.errors import SpecErrors
from kspec.training import (
    compare,
    trainer,
)
from kspec.training.session import Session

ANN: dict[str, Any] = {
    "kspec": 1,
    "name": "tiny_ann",
    "model": {
        "inputs": {"x": {"shape": [64]}},
        "layers": [
            {"type": "Dense", "units": 32, "activation": "relu"},
            {"type": "Dense", "name": "probs", "units": 10, "activation": "softmax"},
        ],
    },
    "data": {
        "source": "digits",
        "preprocess": [{"type": "scale", "divide": 16}, "one_hot", {"type": "take", "count": 600}],
    },
    "train": {
        "loss": "categorical_crossentropy",
        "metrics": ["accuracy"],
        "epochs": 4,
        "batch_size": 50,
        "validation_split": 0.2,
        "seed": 1,
    },
}


def _spec(tmp_path: Path, doc: dict[str, Any], **train: Any) -> Any:
    doc = copy.deepcopy(doc)
    doc["train"].update(train)
    path = tmp_path / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return kspec.load(path)


def _run(tmp_path: Path, doc: dict[str, Any], out: str = "run", **train: Any) -> trainer.RunResult:
    return trainer.train(_spec(tmp_path, doc, **train), out=tmp_path / out)


def _falls(values: list[float]) -> bool:
    return values[-1] < values[0]


def test_fit_leaves_a_complete_run_folder(tmp_path: Path) -> None:
    result = _run(tmp_path, ANN)
    names = {p.name for p in result.run_dir.iterdir()}
    assert {
        "spec.yaml",
        "spec.sha256",
        "model.keras",
        "history.json",
        "history.csv",
        "metrics.json",
        "loss.png",
        "accuracy.png",
        "confusion_matrix.png",
        "summary.txt",
    } <= names
    assert sorted(p.name for p in (result.run_dir / "checkpoint").iterdir()) == ["epoch-00004.json", "epoch-00004.npz"]
    history = json.loads((result.run_dir / "history.json").read_text())
    assert _falls(history["loss"]) and len(history["val_loss"]) == 4
    assert (result.run_dir / "history.csv").read_text().splitlines()[0].startswith("epoch,")
    assert set(json.loads((result.run_dir / "metrics.json").read_text())) == {"accuracy", "loss"}
    digest = (result.run_dir / "spec.sha256").read_text().strip()
    assert (result.run_dir / "spec.yaml").read_text().startswith(f"# sha256: {digest}")
    assert "best epoch" in result.summary and str(result.run_dir) in result.summary
    evaluated = trainer.evaluate(_spec(tmp_path, ANN), result.run_dir / "model.keras")
    assert evaluated["accuracy"] == pytest.approx(result.metrics["accuracy"], abs=1e-6)


def test_history_plots_alone_run_no_prediction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`plots: [history]`: the plot kind is read from the model's output shape; no `predict` (a traced function and
    its memory) runs for a plot nobody asked for, and Keras's scratch file for the weights is not left behind."""
    import keras

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("predict ran")

    monkeypatch.setattr(keras.Model, "predict", refuse)
    doc = copy.deepcopy(ANN)
    doc["train"]["plots"] = ["history"]
    result = _run(tmp_path, doc, epochs=1)
    names = {p.name for p in result.run_dir.iterdir()}
    assert {"loss.png", "accuracy.png", "model.keras"} <= names
    assert "confusion_matrix.png" not in names
    assert not [n for n in names if n.startswith(("tmp", "."))], names
    monkeypatch.undo()
    doc["train"]["plots"] = ["history", "confusion_matrix"]
    assert "confusion_matrix.png" in {p.name for p in _run(tmp_path, doc, "b", epochs=1).run_dir.iterdir()}


def test_same_seed_same_history(tmp_path: Path) -> None:
    a = _run(tmp_path, ANN, "a", epochs=2)
    b = _run(tmp_path, ANN, "b", epochs=2)
    assert a.history == b.history


def test_steps_per_epoch_beyond_one_pass_repeats_the_data(tmp_path: Path) -> None:
    # 600 examples, 480 for training, batch 50: one pass is 10 steps; the book's generator fits ask for more.
    import keras

    result = _run(tmp_path, ANN, epochs=2, steps_per_epoch=25)
    model = keras.saving.load_model(result.run_dir / "model.keras")
    assert int(model.optimizer.iterations) == 2 * 25  # running out of data would cut the epochs short


def test_fast_path_matches_plain_path(tmp_path: Path) -> None:
    fast = _run(tmp_path, ANN, "fast", epochs=6)
    plain = _run(tmp_path, ANN, "plain", epochs=6, jit_compile=False, steps_per_execution=1, feed="tf.data")
    assert fast.metrics["accuracy"] == pytest.approx(plain.metrics["accuracy"], abs=0.03)
    assert fast.history["loss"][-1] == pytest.approx(plain.history["loss"][-1], rel=0.02)


@pytest.mark.parametrize("recipe", ["fit", "tape"])
def test_resume_after_interruption(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recipe: str) -> None:
    original = Session.log_epoch

    def interrupted(self: Session, logs: dict[str, Any]) -> None:
        original(self, logs)
        if len(self.history["loss"]) == 2:
            raise KeyboardInterrupt  # as Ctrl-C after the second epoch's history was written

    monkeypatch.setattr(Session, "log_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, ANN, recipe=recipe)
    run = tmp_path / "run"
    assert (run / "checkpoint").exists()
    monkeypatch.setattr(Session, "log_epoch", original)
    result = trainer.train(_spec(tmp_path, ANN, recipe=recipe), resume=run)
    assert result.run_dir == run and len(result.history["loss"]) == 4
    assert _falls(result.history["loss"])


def test_autoencoder_recipe(tmp_path: Path) -> None:
    doc = copy.deepcopy(ANN)
    doc["name"] = "tiny_ae"
    doc["model"]["layers"] = [
        {"type": "Dense", "units": 16, "activation": "relu"},
        {"type": "Dense", "units": 64, "activation": "sigmoid"},
    ]
    doc["data"]["preprocess"] = [{"type": "scale", "divide": 16}]
    doc["train"].update(recipe="autoencoder", loss="binary_crossentropy", metrics=[], epochs=3)
    result = _run(tmp_path, doc)
    assert _falls(result.history["loss"]) and (result.run_dir / "reconstructions.png").exists()


def test_tape_recipe(tmp_path: Path) -> None:
    result = _run(tmp_path, ANN, recipe="tape", epochs=3, loss="categorical_crossentropy")
    assert _falls(result.history["loss"]) and "val_accuracy" in result.history


GAN: dict[str, Any] = {
    "kspec": 1,
    "name": "tiny_gan",
    "models": {
        "generator": {
            "inputs": {"z": {"shape": [4]}},
            "layers": [{"type": "Dense", "units": 16, "activation": "relu"}, {"type": "Dense", "units": 8}],
        },
        "discriminator": {
            "inputs": {"x": {"shape": [8]}},
            "layers": [
                {"type": "Dense", "units": 16, "activation": "relu"},
                {"type": "Dense", "units": 1, "activation": "sigmoid"},
            ],
        },
    },
    "data": {
        "source": {
            "type": "synthetic",
            "task": "normal",
            "mean": 4,
            "std": 1.25,
            "input_shape": [8],
            "samples": 128,
            "test_samples": 0,
        }
    },
    "train": {
        "recipe": "gan",
        "optimizer": {"type": "Adam", "learning_rate": 0.02},
        "epochs": 6,
        "batch_size": 16,
        "gan": {"d_steps": 1, "g_steps": 2, "sample_every": 3},
    },
}


def test_gan_recipe_moves_generated_samples_towards_the_data(tmp_path: Path) -> None:
    import numpy as np

    result = _run(tmp_path, GAN)
    assert set(result.history) == {"d_loss", "g_loss"} and len(result.history["g_loss"]) == 6
    assert sorted(p.name for p in (result.run_dir / "samples").iterdir()) == ["epoch_0003.png", "epoch_0006.png"]
    assert {"model.keras", "discriminator.keras"} <= {p.name for p in result.run_dir.iterdir()}
    import keras

    gen = keras.models.load_model(result.run_dir / "model.keras")
    fake = np.asarray(gen(np.random.default_rng(0).uniform(-1, 1, (256, 4)).astype("float32")))
    assert float(fake.mean()) > 1.5  # an untrained generator is centred near 0; the data near 4


def test_data_shape_mismatch_is_located(tmp_path: Path) -> None:
    doc = copy.deepcopy(ANN)
    doc["model"]["inputs"]["x"]["shape"] = [32]
    with pytest.raises(SpecErrors) as info:
        _run(tmp_path, doc)
    err = info.value.errors[0]
    assert err.code == "data-mismatch" and err.line is not None and "[64]" in err.message


def test_integer_labels_one_hot_on_the_fly_for_categorical_loss(tmp_path: Path) -> None:
    doc = copy.deepcopy(ANN)
    doc["data"]["preprocess"] = [{"type": "scale", "divide": 16}, {"type": "take", "count": 300}]
    result = _run(tmp_path, doc, epochs=2)
    assert _falls(result.history["loss"])


def test_unknown_callback_suggests(tmp_path: Path) -> None:
    with pytest.raises(SpecErrors) as info:
        _run(tmp_path, ANN, callbacks=[{"type": "EarlyStoping", "patience": 2}])
    assert info.value.errors[0].hint == "did you mean 'EarlyStopping'?"


def test_callbacks_schedule_and_clipping(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        ANN,
        epochs=3,
        clipnorm=1.0,
        schedule={"type": "ExponentialDecay", "initial_learning_rate": 0.01, "decay_steps": 5, "decay_rate": 0.9},
        callbacks=[{"type": "EarlyStopping", "patience": 1}, {"type": "CSVLogger", "filename": "log.csv"}],
    )
    assert (result.run_dir / "log.csv").exists()


def test_plot_runs_compares_runs(tmp_path: Path) -> None:
    a = _run(tmp_path, ANN, "a", epochs=2)
    b = _run(tmp_path, ANN, "b", epochs=2, seed=2)
    paths = compare.plot_runs([a.run_dir, b.run_dir], tmp_path / "cmp")
    assert {p.name for p in paths} == {"loss.png", "accuracy.png"}
    # curves are labelled with what differs between the runs' specs, not with their folder names
    assert compare.difference_labels([a.run_dir, b.run_dir]) == {a.run_dir: "seed=1", b.run_dir: "seed=2"}


MIRRORED = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from pathlib import Path
import kspec
from kspec.training import trainer
result = trainer.train(kspec.load(sys.argv[1]), out=Path(sys.argv[2]))
import json
print("HISTORY", json.dumps(result.history))
"""


def test_distribute_mirrored_over_two_logical_cpus(tmp_path: Path) -> None:
    import subprocess
    import sys

    doc = copy.deepcopy(ANN)
    doc["train"].update(distribute="mirrored", epochs=2)
    spec = tmp_path / "m.yaml"
    spec.write_text(yaml.safe_dump(doc))
    script = tmp_path / "m.py"
    script.write_text(MIRRORED)
    done = subprocess.run(
        [sys.executable, str(script), str(spec), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    history = json.loads(done.stdout.split("HISTORY", 1)[1])
    assert _falls(history["loss"])


def test_tensorboard_without_its_package_is_a_located_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(SpecErrors) as info:
        _run(tmp_path, ANN, tensorboard=True)
    [err] = info.value.errors
    assert err.path == ("train", "tensorboard") and "kspec[tensorboard]" in (err.hint or "")
    assert not (tmp_path / "run").exists()  # refused before a run folder is made


@pytest.mark.parametrize(
    "layer, off",
    [("Dense", False), ("LSTM", False), ("GRU", False), ("Conv1D", True), ("Dropout", True)],
)
def test_auto_xla_on_a_cpu_is_off_for_the_families_it_slows(layer: str, off: bool) -> None:
    import keras

    from kspec.training.session import _cpu_xla_off

    inputs = keras.Input((6, 4))
    args: dict[str, Any] = {"Dense": {"units": 2}, "Conv1D": {"filters": 2, "kernel_size": 3}, "Dropout": {"rate": 0.1}}
    hidden = getattr(keras.layers, layer)(**args.get(layer, {"units": 2}))(inputs)
    reason = _cpu_xla_off(keras.Model(inputs, hidden))
    assert (reason is not None) == off


def test_op_determinism_follows_each_runs_spec(tmp_path: Path) -> None:
    from tensorflow.python.framework import config as tf_config

    _run(tmp_path, ANN, "det", epochs=1, verbose=0, deterministic=True)
    assert tf_config.is_op_determinism_enabled()
    _run(tmp_path, ANN, "free", epochs=1, verbose=0)
    assert not tf_config.is_op_determinism_enabled()  # a later run in the same process does not inherit it


@pytest.mark.parametrize("feed", ["resident", "tf.data"])
def test_metrics_with_arguments_train(tmp_path: Path, feed: str) -> None:
    # a metric config with arguments reached `compile` as a dict, which Keras reads as {output name: metric}
    metrics = [
        "accuracy",
        {"type": "Precision", "thresholds": 0.5, "name": "prec"},
        {"type": "F1Score", "average": "macro"},
    ]
    kspec.check(_spec(tmp_path, ANN, metrics=metrics))
    result = _run(tmp_path, ANN, metrics=metrics, epochs=1, feed=feed, verbose=0, plots="none")
    assert {"accuracy", "prec", "f1_score", "val_prec", "val_f1_score"} <= set(result.history)
    assert 0.0 <= result.metrics["prec"] <= 1.0 and 0.0 <= result.metrics["f1_score"] <= 1.0
