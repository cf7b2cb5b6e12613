"""The `data:` section's models: every source and step parses, shorthand names, errors at document paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from kspec.errors import SpecError
from kspec.lang.data_spec import SOURCES, STEPS, DataSpec, check_data, explain_error

MINIMAL: dict[str, dict[str, Any]] = {
    "npz": {"path": "d.npz"},
    "npy": {"path": "x.npy"},
    "npy_folder": {"path": "train"},
    "csv": {"path": "d.csv", "features": ["a"]},
    "image_folder": {"path": "imgs"},
    "image_mask_folder": {"path": "imgs", "masks": "masks"},
    "text_folder": {"path": "texts"},
    "reshape": {"shape": [28, 28, 1]},
    "channels": {"keep": [0, 1]},
    "pad_sequences": {"maxlen": 80},
    "window": {"size": 12},
    "take": {"count": 32},
    "split": {"validation": 0.2},
    "augment": {"layers": [{"type": "RandomRotation", "factor": 0.03}]},
    "noise": {"stddev": 0.4},
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
    spec = DataSpec.model_validate(
        {"source": {"type": "imdb", "num_words": 20000}, "preprocess": [{"type": "pad_sequences", "maxlen": 80}]}
    )
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
    ("step", "at"),
    [
        ({"type": "take"}, ()),
        ({"type": "take", "count": 1, "fraction": 0.5}, ()),
        ({"type": "split"}, ()),
        ({"type": "split", "validation": 0.6, "test": 0.5}, ()),
        ({"type": "scale", "divide": 0}, ("divide",)),
    ],
)
def test_step_rules(step: dict[str, Any], at: tuple[str, ...]) -> None:
    [(path, _, code, _)] = _errors({"source": "digits", "preprocess": [step]})
    assert path == ("data", "preprocess", 0, *at) and code == "wrong-type"


def test_missing_step_field_is_at_the_entry() -> None:
    [(path, msg, code, hint)] = _errors({"source": "imdb", "preprocess": ["pad_sequences"]})
    assert path == ("data", "preprocess", 0) and code == "missing-field"
    assert "maxlen" in msg and "pad_sequences" in msg and hint == "write it as `{type: pad_sequences, maxlen: ...}`"


def test_missing_source_field_is_at_the_source() -> None:
    [(path, msg, code, _)] = _errors({"source": {"type": "csv", "path": "d.csv"}})
    assert path == ("data", "source") and code == "missing-field" and "features" in msg


def test_strict_types() -> None:
    [(path, *_)] = _errors({"source": {"type": "synthetic", "samples": "many"}})
    assert path == ("data", "source", "samples")


def test_json_schema_lists_every_source() -> None:
    schema = DataSpec.model_json_schema()
    text = str(schema)
    assert all(f"'{name}'" in text for name in SOURCES)


# ------------------------------------------------------------------------------------------------- check_data


def _check(source: Any, folder: Path, preprocess: list[Any] | None = None, **kw: Any) -> list[SpecError]:
    data = DataSpec.model_validate({"source": source, "preprocess": preprocess or []})
    return list(check_data(data, folder, **kw))


def _codes(errors: list[SpecError]) -> list[tuple[Any, str, str]]:
    return [(e.path, e.code, e.severity) for e in errors]


def test_no_data_section_nothing_to_check(tmp_path: Path) -> None:
    assert list(check_data(None, tmp_path)) == []


@pytest.mark.parametrize(
    ("rel", "words"),
    [
        ("../../../../etc/passwd", "leaves"),
        ("images/../../secret", "leaves"),
        ("/dev/zero", "absolute"),
        ("/etc/passwd", "absolute"),
        ("https://attacker.example/data.csv", "URL"),
        ("file:///etc/passwd", "URL"),
        ("gs://bucket/d.npz", "URL"),
        ("~/d.npz", "~"),
        ("C:\\data\\d.npz", "absolute"),
    ],
)
def test_paths_outside_the_folder_are_refused(tmp_path: Path, rel: str, words: str) -> None:
    [err] = _check({"type": "npz", "path": rel}, tmp_path)
    assert (err.path, err.code, err.severity) == (("data", "source", "path"), "data-error", "error")
    assert words in err.message and err.hint


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "spec").mkdir()
    (tmp_path / "secret.csv").write_text("a\n1\n")
    (tmp_path / "spec" / "d.csv").symlink_to(tmp_path / "secret.csv")
    [err] = _check({"type": "csv", "path": "d.csv", "features": ["a"]}, tmp_path / "spec")
    assert err.code == "data-error" and "leaves" in err.message and str(tmp_path / "secret.csv") in err.message


def test_a_symlink_to_a_device_is_refused(tmp_path: Path) -> None:
    (tmp_path / "zero").symlink_to("/dev/zero")
    [err] = _check({"type": "npy", "path": "zero"}, tmp_path)
    assert err.code == "data-error" and err.severity == "error"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_pipe_is_not_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.npy")
    [err] = _check({"type": "npy", "path": "pipe.npy"}, tmp_path)
    assert err.code == "data-error" and err.severity == "error" and "not a regular file" in err.message


def test_a_missing_file_is_a_warning_with_the_exact_path(tmp_path: Path) -> None:
    errors = _check({"type": "npy", "path": "data/x.npy", "targets": "data/y.npy"}, tmp_path)
    assert _codes(errors) == [(("data", "source", key), "data-error", "warning") for key in ("path", "targets")]
    assert str(tmp_path.resolve() / "data" / "x.npy") in errors[0].message
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.npy").write_bytes(b"")
    [err] = _check({"type": "npy", "path": "data/x.npy", "targets": "data/y.npy"}, tmp_path)
    assert err.path == ("data", "source", "targets") and err.severity == "warning"


def test_existing_paths_inside_the_folder_pass(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "images" / "cat").mkdir(parents=True)
    (tmp_path / "data" / "d.csv").write_text("a\n1\n")
    assert _check({"type": "csv", "path": "data/../data/d.csv", "features": ["a"]}, tmp_path) == []
    assert _check({"type": "image_folder", "path": "images"}, tmp_path) == []
    assert _check("mnist", tmp_path) == []


def test_file_or_folder_as_the_source_needs(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "d.csv").write_text("a\n1\n")
    [err] = _check({"type": "csv", "path": "images", "features": ["a"]}, tmp_path)
    assert err.severity == "error" and "a folder, not a file" in err.message
    [err] = _check({"type": "text_folder", "path": "d.csv"}, tmp_path)
    assert err.severity == "error" and "a file, not a folder" in err.message


def _augment(*layers: Any) -> list[Any]:
    return ["add_channel", {"type": "augment", "layers": list(layers)}]


def test_augment_layers_are_checked_like_model_layers(tmp_path: Path) -> None:
    lam = {"type": "Lambda", "function": "__import__('os').system('id')"}
    errors = _check("mnist", tmp_path, _augment({"type": "RandomFlip", "mode": "horizontal"}, lam))
    assert _codes(errors) == [(("data", "preprocess", 1, "layers", 1, "type"), "unsafe-layer", "error")]


def test_augment_allow_unsafe_still_needs_an_augmentation_layer(tmp_path: Path) -> None:
    errors = _check("mnist", tmp_path, _augment({"type": "Lambda", "function": "f"}), allow_unsafe=True)
    assert _codes(errors) == [(("data", "preprocess", 1, "layers", 0, "type"), "data-error", "error")]


@pytest.mark.parametrize(
    ("layer", "path", "code"),
    [
        ({"type": "RandomRotaton", "factor": 0.1}, ("type",), "unknown-layer"),
        ({"type": "RandomRotation", "factr": 0.1}, ("factr",), "unknown-argument"),
        ({"type": "RandomRotation"}, ("type",), "missing-argument"),
        ({"type": "Dense", "units": 3}, ("type",), "data-error"),
        ({"factor": 0.1}, (), "missing-field"),
    ],
)
def test_augment_layer_errors(tmp_path: Path, layer: dict[str, Any], path: tuple[str, ...], code: str) -> None:
    errors = [e for e in _check("mnist", tmp_path, _augment(layer)) if e.severity == "error"]
    assert [(e.path, e.code) for e in errors] == [(("data", "preprocess", 1, "layers", 0, *path), code)]


def test_check_data_imports_no_numpy() -> None:
    code = (
        "import sys, pathlib\n"
        "from kspec.lang.data_spec import DataSpec, check_data\n"
        "d = DataSpec.model_validate({'source': {'type': 'npz', 'path': 'x.npz'}})\n"
        "list(check_data(d, pathlib.Path('.')))\n"
        "print('numpy' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
