"""The `data:` section's models: every source and step parses, shorthand names, errors at document paths."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kspec.spec_data import SOURCES, STEPS, DataSpec, explain_error

MINIMAL: dict[str, dict[str, Any]] = {
    "npz": {"path": "d.npz"},
    "npy": {"path": "x.npy"},
    "csv": {"path": "d.csv", "features": ["a"]},
    "image_folder": {"path": "imgs"},
    "text_folder": {"path": "texts"},
    "reshape": {"shape": [28, 28, 1]},
    "channels": {"keep": [0, 1]},
    "pad_sequences": {"maxlen": 80},
    "window": {"size": 12},
    "take": {"count": 32},
    "split": {"validation": 0.2},
    "augment": {"layers": [{"type": "RandomRotation", "factor": 0.03}]},
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_source_parses(name: str) -> None:
    spec = DataSpec.model_validate({"source": {"type": name, **MINIMAL.get(name, {})}})
    assert spec.source.type == name


@pytest.mark.parametrize("name", sorted(STEPS))
def test_every_step_parses(name: str) -> None:
    spec = DataSpec.model_validate({"source": "digits", "preprocess": [{"type": name, **MINIMAL.get(name, {})}]})
    assert spec.preprocess[0].type == name


def test_bare_names_are_shorthand() -> None:
    spec = DataSpec.model_validate({"source": "mnist", "preprocess": ["flatten", "one_hot"]})
    assert spec.source.type == "mnist"
    assert [s.type for s in spec.preprocess] == ["flatten", "one_hot"]


def test_book_ch5_imdb() -> None:
    spec = DataSpec.model_validate({"source": {"type": "imdb", "num_words": 20000},
                                    "preprocess": [{"type": "pad_sequences", "maxlen": 80}]})
    assert spec.source.num_words == 20000  # type: ignore[attr-defined]


def _errors(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    doc = {"data": data}
    with pytest.raises(ValidationError) as info:
        DataSpec.model_validate(data)
    out = []
    for err in info.value.errors():
        err = dict(err)
        err["loc"] = ("data", *err["loc"])
        out.append(explain_error(err, doc) or (err["loc"], err["msg"], err["type"], None))
    return out


def test_unknown_source_suggests() -> None:
    [(path, msg, code, hint)] = _errors({"source": "mnst"})
    assert path == ("data", "source") and code == "bad-value" and hint == "did you mean 'mnist'?"
    assert "mnst" in msg


def test_unknown_step_suggests() -> None:
    [(path, _, _, hint)] = _errors({"source": "mnist", "preprocess": ["flatten", "flaten"]})
    assert path == ("data", "preprocess", 1) and hint == "did you mean 'flatten'?"


def test_unknown_step_field_path_has_no_tag() -> None:
    [(path, msg, code, hint)] = _errors({"source": "mnist", "preprocess": [{"type": "scale", "divde": 255}]})
    assert path == ("data", "preprocess", 0, "divde")
    assert code == "unknown-field" and hint == "did you mean 'divide'?" and "scale" in msg


def test_unknown_source_field() -> None:
    [(path, _, code, hint)] = _errors({"source": {"type": "imdb", "num_word": 10}})
    assert path == ("data", "source", "num_word") and code == "unknown-field" and hint == "did you mean 'num_words'?"


@pytest.mark.parametrize(
    "step",
    [{"type": "take"}, {"type": "take", "count": 1, "fraction": 0.5}, {"type": "split"},
     {"type": "split", "validation": 0.6, "test": 0.5}, {"type": "scale", "divide": 0}],
)
def test_step_rules(step: dict[str, Any]) -> None:
    [(path, _, code, _)] = _errors({"source": "digits", "preprocess": [step]})
    assert path == ("data", "preprocess", 0) and code == "wrong-type"


def test_strict_types() -> None:
    [(path, *_)] = _errors({"source": {"type": "synthetic", "samples": "many"}})
    assert path == ("data", "source", "samples")


def test_json_schema_lists_every_source() -> None:
    schema = DataSpec.model_json_schema()
    text = str(schema)
    assert all(f"'{name}'" in text for name in SOURCES)
