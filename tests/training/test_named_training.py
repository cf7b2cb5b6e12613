"""Training models with several inputs and outputs from named arrays (npz keys), and Siamese pairs: both feeds give
the same weights and history, validation and test splits work, `kspec evaluate` reads the same data, and a
mismatch between the data and the model's inputs is a located `data-mismatch` before any step."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.keras

pytest.importorskip("keras")

import kspec
from kspec.errors import SpecErrors
from kspec.training import trainer

TICKET: dict[str, Any] = {
    "kspec": 1,
    "name": "tickets",
    "model": {
        "inputs": {
            "title": {"shape": [6], "dtype": "int32"},
            "body": {"shape": [9], "dtype": "int32"},
            "tags": {"shape": [4]},
        },  # fmt: skip
        "layers": [
            {"type": "Embedding", "name": "title_emb", "inputs": ["title"], "input_dim": 50, "output_dim": 4},
            {"type": "GlobalAveragePooling1D", "name": "title_avg"},
            {"type": "Embedding", "name": "body_emb", "inputs": ["body"], "input_dim": 50, "output_dim": 4},
            {"type": "GlobalAveragePooling1D", "name": "body_avg"},
            {"type": "Concatenate", "name": "cat", "inputs": ["title_avg", "body_avg", "tags"]},
            {"type": "Dense", "name": "priority", "inputs": ["cat"], "units": 1},
            {"type": "Dense", "name": "department", "inputs": ["cat"], "units": 3},
        ],
        "outputs": ["priority", "department"],
    },
    "data": {
        "source": {
            "type": "npz",
            "path": "tickets.npz",
            "x": {"title": "title_ids", "body": "body_ids", "tags": "tags"},
            "y": {"priority": "priority", "department": "dept"},
            "x_test": {"title": "t_title", "body": "t_body", "tags": "t_tags"},
            "y_test": {"priority": "t_priority", "department": "t_dept"},
        }
    },
    "train": {
        "loss": {
            "priority": {"type": "BinaryCrossentropy", "from_logits": True},
            "department": {"type": "CategoricalCrossentropy", "from_logits": True},
        },  # fmt: skip
        "loss_weights": {"priority": 1.0, "department": 0.2},
        "metrics": ["mae"],
        "epochs": 2,
        "batch_size": 16,
        "validation_split": 0.25,
        "seed": 1,
    },
}


def _write_tickets(folder: Path, n: int = 70, tags: int = 4) -> None:
    rng = np.random.default_rng(0)
    np.savez(
        folder / "tickets.npz",
        title_ids=rng.integers(0, 50, (n, 6)),
        body_ids=rng.integers(0, 50, (n, 9)),
        tags=rng.integers(0, 2, (n, tags)).astype("float32"),
        priority=rng.random((n, 1)).astype("float32"),
        dept=rng.integers(0, 2, (n, 3)).astype("float32"),
        t_title=rng.integers(0, 50, (10, 6)),
        t_body=rng.integers(0, 50, (10, 9)),
        t_tags=rng.integers(0, 2, (10, tags)).astype("float32"),
        t_priority=rng.random((10, 1)).astype("float32"),
        t_dept=rng.integers(0, 2, (10, 3)).astype("float32"),
    )


def _load(folder: Path, doc: dict[str, Any]) -> Any:
    path = folder / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return kspec.load(path)


def _weights(run: Path) -> list[Any]:
    import keras

    return [np.asarray(w) for w in keras.models.load_model(run / "model.keras").get_weights()]


def test_three_inputs_two_outputs_train_alike_on_both_feeds(tmp_path: Path) -> None:
    _write_tickets(tmp_path)
    runs = {}
    for feed in ("resident", "tf.data"):
        doc = copy.deepcopy(TICKET)
        doc["train"]["feed"] = feed
        runs[feed] = trainer.train(_load(tmp_path, doc), out=tmp_path / feed)
    a, b = runs["resident"], runs["tf.data"]
    assert set(a.history) >= {"loss", "priority_loss", "department_loss", "val_loss", "val_department_mae"}
    for key, values in a.history.items():  # the per-output losses too (averaged over batches, as fit does)
        np.testing.assert_allclose(values, b.history[key], rtol=1e-5, err_msg=key)
    for wa, wb in zip(_weights(a.run_dir), _weights(b.run_dir), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    assert set(a.metrics) >= {"loss", "priority_loss", "department_loss"}  # the npz test split, by name
    evaluated = trainer.evaluate(_load(tmp_path, TICKET), a.run_dir / "model.keras")
    assert evaluated["loss"] == pytest.approx(a.metrics["loss"], rel=1e-5)


def test_npy_folder_feeds_inputs_and_outputs_by_file_name(tmp_path: Path) -> None:
    _write_tickets(tmp_path)
    arrays = np.load(tmp_path / "tickets.npz")
    folder = tmp_path / "tickets"
    folder.mkdir()
    for name, key in (("title", "title_ids"), ("body", "body_ids"), ("tags", "tags"), ("priority", "priority"),
                      ("department", "dept")):  # fmt: skip
        np.save(folder / f"{name}.npy", arrays[key])
    doc = copy.deepcopy(TICKET)
    doc["data"]["source"] = {"type": "npy_folder", "path": "tickets"}
    from_folder = trainer.train(_load(tmp_path, doc), out=tmp_path / "folder")
    from_npz = trainer.train(_load(tmp_path, TICKET), out=tmp_path / "npz")
    np.testing.assert_allclose(from_folder.history["loss"], from_npz.history["loss"], rtol=1e-6)


def test_synthetic_data_follows_the_model_by_name(tmp_path: Path) -> None:
    doc = copy.deepcopy(TICKET)
    doc["data"]["source"] = {"type": "synthetic", "samples": 48, "test_samples": 8, "vocab": 50}
    result = trainer.train(_load(tmp_path, doc), out=tmp_path / "run")
    assert np.isfinite(result.history["val_department_loss"]).all() and "priority_loss" in result.metrics


def test_tape_recipe_takes_named_arrays(tmp_path: Path) -> None:
    _write_tickets(tmp_path)
    doc = copy.deepcopy(TICKET)
    doc["train"].update(recipe="tape", validation_split=0.0)
    result = trainer.train(_load(tmp_path, doc), out=tmp_path / "tape")
    assert len(result.history["loss"]) == 2 and np.isfinite(result.history["loss"]).all()


def test_wrong_shape_for_one_input_is_located_before_training(tmp_path: Path) -> None:
    _write_tickets(tmp_path, tags=5)
    spec = _load(tmp_path, TICKET)
    with pytest.raises(SpecErrors) as info:
        trainer.train(spec, out=tmp_path / "run")
    (err,) = info.value.errors
    assert err.code == "data-mismatch" and err.path == ("data", "source", "x", "tags")
    assert "input 'tags'" in err.message and "[5]" in err.message and "[4]" in err.message
    assert err.line is not None and err.column is not None
    assert not (tmp_path / "run").exists()  # refused before the first epoch: no half run folder


def test_validate_refuses_what_train_cannot_feed(tmp_path: Path) -> None:
    _write_tickets(tmp_path)
    doc = copy.deepcopy(TICKET)
    doc["data"]["source"]["x"] = "title_ids"
    doc["train"]["class_weight"] = {0: 1.0}
    with pytest.raises(SpecErrors) as info:
        kspec.validate(_write(tmp_path, doc))
    codes = {(e.path, e.code) for e in info.value.errors}
    assert (("data", "source", "x"), "data-mismatch") in codes
    assert (("train", "class_weight"), "train-error") in codes


def _write(folder: Path, doc: dict[str, Any]) -> Path:
    path = folder / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


SIAMESE: dict[str, Any] = {
    "kspec": 1,
    "name": "pairs",
    "model": {
        "inputs": {"left": {"shape": [64]}, "right": {"shape": [64]}},
        "layers": [
            {"type": "Dense", "name": "embed", "inputs": ["left"], "units": 8, "activation": "tanh"},
            {"use": "embed", "name": "embed_right", "inputs": ["right"]},
            {"op": "subtract", "name": "diff", "inputs": ["embed", "embed_right"]},
            {"op": "abs", "name": "distance"},
            {"type": "Dense", "name": "same", "units": 1, "activation": "sigmoid"},
        ],
    },
    "data": {
        "source": "digits",
        "preprocess": [{"type": "scale", "divide": 16}, {"type": "take", "count": 400}, "pairs"],
    },
    "train": {
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
        "epochs": 3,
        "batch_size": 40,
        "validation_split": 0.2,
        "seed": 2,
    },  # fmt: skip
}


def test_siamese_pairs_train_and_repeat_with_the_seed(tmp_path: Path) -> None:
    first = trainer.train(_load(tmp_path, SIAMESE), out=tmp_path / "a")
    again = trainer.train(_load(tmp_path, SIAMESE), out=tmp_path / "b")
    assert first.history["loss"] == again.history["loss"]  # the same pairs and order from train.seed
    assert first.history["loss"][-1] < first.history["loss"][0]
    assert set(first.metrics) == {"accuracy", "loss"}  # test pairs made from the digits' test split
