"""Named arrays for models with several inputs or outputs: npz keys and CSV column groups per name, steps on named
arrays (`on: [names]`), splits, and the `pairs` step for Siamese networks. NumPy only (no Keras)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kspec.data.registry import ModelShapes
from kspec.data.steps import prepare
from kspec.errors import SpecErrors
from kspec.lang.data_spec import DataSpec
from kspec.lang.data_steps import StepEnv


def _prepare(folder: Path, data: dict[str, Any], env: StepEnv | None = None) -> Any:
    return prepare(DataSpec.model_validate(data), folder, env=env)


def _tickets(folder: Path, n: int = 40) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    arrays = {
        "title_ids": rng.integers(0, 50, (n, 6)),
        "body_ids": rng.integers(0, 50, (n, 9)),
        "tags": rng.integers(0, 2, (n, 4)).astype("float32"),
        "priority": rng.random((n, 1)),
        "dept": rng.integers(0, 2, (n, 3)).astype("float32"),
        "t_title": rng.integers(0, 50, (5, 6)),
        "t_body": rng.integers(0, 50, (5, 9)),
        "t_tags": rng.integers(0, 2, (5, 4)).astype("float32"),
        "t_priority": rng.random((5, 1)),
        "t_dept": rng.integers(0, 2, (5, 3)).astype("float32"),
    }
    np.savez(folder / "tickets.npz", **arrays)
    return arrays


_NPZ = {
    "type": "npz",
    "path": "tickets.npz",
    "x": {"title": "title_ids", "body": "body_ids", "tags": "tags"},
    "y": {"priority": "priority", "department": "dept"},
    "x_test": {"title": "t_title", "body": "t_body", "tags": "t_tags"},
    "y_test": {"priority": "t_priority", "department": "t_dept"},
}


def test_npz_keys_per_input_and_output(tmp_path: Path) -> None:
    arrays = _tickets(tmp_path)
    splits = _prepare(tmp_path, {"source": _NPZ})
    assert list(splits.train.x) == ["title", "body", "tags"] and list(splits.train.y) == ["priority", "department"]
    np.testing.assert_array_equal(splits.train.x["body"], arrays["body_ids"])
    np.testing.assert_array_equal(splits.test.y["department"], arrays["t_dept"])
    assert splits.train.x["title"].dtype == np.int32 and splits.train.y["priority"].dtype == np.float32
    assert len(splits.train) == 40 and len(splits.test) == 5


def test_npz_missing_key_and_unequal_lengths_are_located(tmp_path: Path) -> None:
    _tickets(tmp_path)
    with pytest.raises(SpecErrors) as info:
        _prepare(tmp_path, {"source": {**_NPZ, "x": {"title": "title_idz"}}})
    (err,) = info.value.errors
    assert err.path == ("data", "source", "x") and "title_idz" in err.message and "title_ids" in (err.hint or "")
    with pytest.raises(SpecErrors) as info:
        _prepare(tmp_path, {"source": {**_NPZ, "x": {"title": "title_ids", "short": "t_body"}}})
    (err,) = info.value.errors
    assert err.code == "data-mismatch" and "title 40, short 5" in err.message


def test_split_take_and_validation_keep_names_aligned(tmp_path: Path) -> None:
    arrays = _tickets(tmp_path)
    splits = _prepare(
        tmp_path,
        {"source": _NPZ, "preprocess": [{"type": "split", "validation": 0.25, "seed": 1, "replace_test": True}]},
    )
    assert len(splits.train) == 30 and len(splits.validation) == 10 and splits.test is None
    for part in (splits.train, splits.validation):  # every named array keeps the rows of the same examples
        rows = [int(np.flatnonzero((arrays["body_ids"] == b).all(1))[0]) for b in part.x["body"]]
        np.testing.assert_array_equal(part.x["title"], arrays["title_ids"][rows])
        np.testing.assert_allclose(part.y["priority"], arrays["priority"][rows].astype(np.float32))


def test_steps_apply_per_named_array(tmp_path: Path) -> None:
    arrays = _tickets(tmp_path)
    steps = [{"type": "scale", "divide": 2, "on": ["tags", "priority"]}, {"type": "standardize", "on": "y"}]
    splits = _prepare(tmp_path, {"source": _NPZ, "preprocess": steps})
    np.testing.assert_array_equal(splits.train.x["title"], arrays["title_ids"])  # not named: unchanged
    np.testing.assert_allclose(splits.train.x["tags"], arrays["tags"] / 2)
    for name in ("priority", "department"):  # each target standardised with its own training statistics
        y = splits.train.y[name]
        np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    dept = arrays["dept"]
    np.testing.assert_allclose(
        splits.test.y["department"], (arrays["t_dept"] - dept.mean(0)) / dept.std(0), rtol=1e-5, atol=1e-6
    )


def test_a_step_naming_an_unknown_array_is_located(tmp_path: Path) -> None:
    _tickets(tmp_path)
    with pytest.raises(SpecErrors) as info:
        _prepare(tmp_path, {"source": _NPZ, "preprocess": [{"type": "scale", "divide": 2, "on": ["tag"]}]})
    (err,) = info.value.errors
    assert err.path == ("data", "preprocess", 0, "on", 0) and err.code == "data-mismatch" and "tags" in (err.hint or "")


def test_one_array_steps_refuse_named_arrays(tmp_path: Path) -> None:
    _tickets(tmp_path)
    with pytest.raises(SpecErrors) as info:
        _prepare(tmp_path, {"source": _NPZ, "preprocess": ["one_hot"]})
    (err,) = info.value.errors
    assert err.path == ("data", "preprocess", 0) and "named arrays" in err.message and "sparse" in (err.hint or "")


def test_csv_column_groups_and_ranges(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("w0,w1,w2,tag_a,tag_b,prio,dept\n1,2,3,0,1,0.5,sales\n4,5,6,1,1,0.25,support\n")
    source = {
        "type": "csv",
        "path": "t.csv",
        "features": {"words": ["w0..w2"], "tags": ["tag_a", "tag_b"]},
        "targets": {"priority": ["prio"], "department": ["dept"]},
        "label_map": {"department": {"sales": 0, "support": 1}},
    }
    splits = _prepare(tmp_path, {"source": source})
    np.testing.assert_array_equal(splits.train.x["words"], [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(splits.train.x["tags"], [[0, 1], [1, 1]])
    np.testing.assert_allclose(splits.train.y["priority"], [[0.5], [0.25]])
    np.testing.assert_array_equal(splits.train.y["department"], [[0], [1]])


@pytest.mark.parametrize(
    ("features", "path", "word"),
    [
        ({"words": ["w0..w9"]}, ("data", "source", "features", "words", 0), "no column 'w9'"),
        ({"words": ["w2..w0"]}, ("data", "source", "features", "words", 0), "not a column range"),
        (["w0..w1", "nope"], ("data", "source", "features", 1), "no column 'nope'"),
    ],
)
def test_csv_column_problems_are_located(tmp_path: Path, features: Any, path: Any, word: str) -> None:
    (tmp_path / "t.csv").write_text("w0,w1,w2\n1,2,3\n")
    with pytest.raises(SpecErrors) as info:
        _prepare(tmp_path, {"source": {"type": "csv", "path": "t.csv", "features": features}})
    (err,) = info.value.errors
    assert err.path == path and word in err.message


def _digits(folder: Path, per_class: int = 12, classes: int = 4) -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(classes), per_class)
    x = (rng.normal(size=(len(y), 5)) + y[:, None]).astype("float32")
    np.savez(folder / "d.npz", x_train=x, y_train=y)


def test_pairs_are_balanced_and_follow_keras_io_labels(tmp_path: Path) -> None:
    _digits(tmp_path)
    data = {"source": {"type": "npz", "path": "d.npz"}, "preprocess": [{"type": "pairs", "inputs": ["a", "b"]}]}
    splits = _prepare(tmp_path, data, StepEnv(seed=7))
    x, y = splits.train.x, splits.train.y
    assert list(x) == ["a", "b"] and len(y) == 2 * 48 and y.dtype == np.float32
    np.testing.assert_array_equal(y, np.tile([1.0, 0.0], 48))  # keras.io: same class 1, then other 0
    raw = np.load(tmp_path / "d.npz")
    cls = {tuple(row): label for row, label in zip(raw["x_train"], raw["y_train"], strict=True)}
    for left, right, same in zip(x["a"], x["b"], y, strict=True):
        assert (cls[tuple(left)] == cls[tuple(right)]) == bool(same)
    np.testing.assert_array_equal(x["a"][::2], raw["x_train"])  # every example anchors one pair of each kind
    again = _prepare(tmp_path, data, StepEnv(seed=7))
    other = _prepare(tmp_path, data, StepEnv(seed=8))
    np.testing.assert_array_equal(again.train.x["b"], x["b"])  # seeded by train.seed
    assert not np.array_equal(other.train.x["b"], x["b"])


def test_pairs_options_and_defaults(tmp_path: Path) -> None:
    _digits(tmp_path)
    step = {"type": "pairs", "same": 0, "different": 1, "per_example": 3, "seed": 5}
    splits = _prepare(tmp_path, {"source": {"type": "npz", "path": "d.npz"}, "preprocess": [step]},
                      StepEnv(seed=1, input_names=("left", "right")))  # fmt: skip
    assert list(splits.train.x) == ["left", "right"] and len(splits.train) == 6 * 48
    assert splits.train.y.mean() == 0.5 and splits.train.y[0] == 0.0


def test_pairs_without_names_or_classes_are_located(tmp_path: Path) -> None:
    _digits(tmp_path, classes=1)
    data = {"source": {"type": "npz", "path": "d.npz"}, "preprocess": [{"type": "pairs", "inputs": ["a", "b"]}]}
    with pytest.raises(SpecErrors) as info:
        _prepare(tmp_path, data)
    assert "at least two classes" in info.value.errors[0].message
    with pytest.raises(SpecErrors) as info:
        _prepare(tmp_path, {**data, "preprocess": ["pairs"]}, StepEnv(input_names=("only",)))
    (err,) = info.value.errors
    assert err.path == ("data", "preprocess", 0) and "inputs: [left, right]" in (err.hint or "")


def _folder(folder: Path, **arrays: Any) -> None:
    folder.mkdir()
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)


_SHAPES = ModelShapes((6,), (1,), input_names=("title", "tags"), output_names=("priority",))


def test_npy_folder_files_named_after_inputs_and_outputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    title, tags, priority = rng.integers(0, 9, (8, 6)), rng.random((8, 4)), rng.random((8, 1))
    _folder(tmp_path / "train", title=title, tags=tags, priority=priority)
    _folder(tmp_path / "test", title=title[:2], tags=tags[:2], priority=priority[:2])
    data = DataSpec.model_validate({"source": {"type": "npy_folder", "path": "train", "test": "test"}})
    splits = prepare(data, tmp_path, _SHAPES)
    assert list(splits.train.x) == ["title", "tags"] and list(splits.train.y) == ["priority"]
    np.testing.assert_allclose(splits.train.x["tags"], tags.astype(np.float32))
    assert len(splits.test) == 2


@pytest.mark.parametrize(
    ("arrays", "word"),
    [
        ({"title": np.zeros((3, 6)), "tagz": np.zeros((3, 4))}, "has tagz.npy"),
        ({"priority": np.zeros((3, 1))}, "no .npy file named after an input"),
        ({"title": np.zeros((3, 6)), "tags": np.zeros((2, 4))}, "title.npy 3, tags.npy 2"),
    ],
)
def test_npy_folder_problems_are_located(tmp_path: Path, arrays: dict[str, Any], word: str) -> None:
    _folder(tmp_path / "train", **arrays)
    data = DataSpec.model_validate({"source": {"type": "npy_folder", "path": "train"}})
    with pytest.raises(SpecErrors) as info:
        prepare(data, tmp_path, _SHAPES)
    (err,) = info.value.errors
    assert err.path == ("data", "source", "path") and err.code == "data-mismatch" and word in err.message


def test_synthetic_data_for_several_inputs_and_outputs(tmp_path: Path) -> None:
    shapes = ModelShapes((6,), (1,), input_names=("ids", "tags"), output_names=("score", "kind"))
    shapes.input_shapes = {"ids": ((6,), "int32"), "tags": ((4,), "float32")}
    shapes.output_shapes = {"score": (1,), "kind": (3,)}
    data = DataSpec.model_validate({"source": {"type": "synthetic", "samples": 40, "test_samples": 10}})
    splits = prepare(data, tmp_path, shapes)
    assert splits.train.x["ids"].dtype == np.int32 and splits.train.x["tags"].shape == (40, 4)
    assert splits.train.y["score"].shape == (40, 1) and splits.test.y["kind"].shape == (10, 3)
    np.testing.assert_array_equal(splits.train.y["kind"].sum(1), 1)  # one-hot rows for a classification output
