"""CSV sources: headerless files with columns by position, other delimiters, text labels mapped to class ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kspec.data.steps import prepare
from kspec.errors import SpecErrors
from kspec.lang.data_spec import DataSpec


def _load(folder: Path, **source: Any) -> Any:
    spec = DataSpec.model_validate({"source": {"type": "csv", "path": "d.tsv", "delimiter": "\t", **source}})
    return prepare(spec, folder)


def test_headerless_tsv_with_label_map(tmp_path: Path) -> None:
    (tmp_path / "d.tsv").write_text("1.0\t2.0\tcat\n3.0\t4.0\tdog\n5\t6\t cat\n")
    splits = _load(tmp_path, header=False, features=[0, 1], targets=[2], label_map={"cat": 0, "dog": 1})
    np.testing.assert_array_equal(splits.train.x, [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(splits.train.y.ravel(), [0, 1, 0])
    assert splits.train.y.dtype == np.int32


def test_named_and_positional_columns_mix_with_a_header(tmp_path: Path) -> None:
    (tmp_path / "d.tsv").write_text("a\tb\tlabel\n1\t2\tx\n")
    splits = _load(tmp_path, features=["a", 1], targets=["label"], label_map={"x": 3})
    np.testing.assert_array_equal(splits.train.x, [[1, 2]])
    np.testing.assert_array_equal(splits.train.y, [[3]])


@pytest.mark.parametrize(
    ("source", "path", "word"),
    [
        ({"features": [0, 5]}, ("data", "source", "features", 1), "no column '5'"),
        ({"label_map": {"cat": 0}}, ("data", "source", "label_map"), "'dog' is not in `label_map`"),
    ],
)
def test_csv_problems_are_located(tmp_path: Path, source: dict[str, Any], path: tuple[Any, ...], word: str) -> None:
    (tmp_path / "d.tsv").write_text("1\t2\tcat\n3\t4\tdog\n")
    args = {"header": False, "features": [0, 1], "targets": [2], "label_map": {"cat": 0, "dog": 1}, **source}
    with pytest.raises(SpecErrors) as info:
        _load(tmp_path, **args)
    (err,) = info.value.errors
    assert err.path == path and word in err.message and err.code == "data-error"
