"""Paths written in a spec stay inside their folder: the pure rules, and the loaders and callbacks that use them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from kspec import paths as data_paths
from kspec.errors import SpecErrors


@pytest.mark.parametrize(
    "rel",
    [
        "https://x.example/d.csv",
        "file:///etc/passwd",
        "s3://b/k",
        "/abs",
        "\\\\server\\share",
        "C:\\x",
        "c:x",
        "~/x",
        "",
        "  ",
        "a\x00b",
    ],
)
def test_refused_on_their_text(rel: str) -> None:
    problem = data_paths.syntax_problem(rel)
    assert problem is not None and problem.message and problem.hint


@pytest.mark.parametrize("rel", ["d.csv", "data/d.csv", "./d.csv", "a/../b.csv", "model-{epoch:02d}.keras", "ab:c"])
def test_plain_relative_paths_pass(rel: str) -> None:
    assert data_paths.syntax_problem(rel) is None


def test_parent_components_can_be_refused_outright() -> None:
    assert data_paths.syntax_problem("a/../b", allow_parent=False) is not None
    assert data_paths.syntax_problem("a\\..\\b", allow_parent=False) is not None
    assert data_paths.syntax_problem("a..b/c", allow_parent=False) is None


def test_resolve_inside(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    assert data_paths.resolve_inside(tmp_path / "in", "x/../y.csv") == (tmp_path / "in" / "y.csv").resolve()
    with pytest.raises(data_paths.PathProblem, match="leaves"):
        data_paths.resolve_inside(tmp_path / "in", "x/../../y.csv")
    (tmp_path / "in" / "link").symlink_to(tmp_path)
    with pytest.raises(data_paths.PathProblem, match="leaves"):
        data_paths.resolve_inside(tmp_path / "in", "link/y.csv")


def test_messages_escape_control_characters() -> None:
    problem = data_paths.syntax_problem("/x\x1b[31m")
    assert problem is not None and "\x1b" not in problem.message


def test_kind_problem(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    assert data_paths.kind_problem(tmp_path / "f", "f", "file") is None
    assert data_paths.kind_problem(tmp_path / "missing", "missing", "file") is None
    assert data_paths.kind_problem(tmp_path, ".", "folder") is None
    assert data_paths.kind_problem(tmp_path / "f", "f", "folder") is not None
    assert data_paths.kind_problem(tmp_path, ".", "file") is not None
    if Path("/dev/null").exists():
        assert data_paths.kind_problem(Path("/dev/null"), "n", "any") is not None


def test_pure_module_imports_no_numpy() -> None:
    import subprocess

    code = "import sys, kspec.paths, kspec.lang.train_spec; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------------------- at train time


@pytest.mark.parametrize(
    ("rel", "word"),
    [
        ("https://attacker.example/d.npy", "URL"),
        ("/dev/zero", "absolute"),
        ("../x.npy", "leaves"),
        ("nothing.npy", "no file"),
    ],
)
def test_loaders_refuse_what_validate_refuses(tmp_path: Path, rel: str, word: str) -> None:
    pytest.importorskip("numpy")
    from kspec.data import file_sources as sources

    (tmp_path / "spec").mkdir()
    (tmp_path / "x.npy").write_bytes(b"")
    with pytest.raises(SpecErrors) as info:
        sources.resolve_path(sources.Context(tmp_path / "spec"), rel)
    [err] = info.value.errors
    assert err.code == "data-error" and err.path == ("data", "source", "path") and word in err.message


def test_loaders_want_a_folder_for_folder_sources(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    from kspec.data import file_sources as sources

    (tmp_path / "f.csv").write_text("a\n")
    with pytest.raises(SpecErrors, match="not a folder"):
        sources.resolve_path(sources.Context(tmp_path), "f.csv", kind="folder")
    assert sources.resolve_path(sources.Context(tmp_path), "f.csv") == (tmp_path / "f.csv").resolve()


@pytest.mark.keras
@pytest.mark.parametrize("value", ["../x.csv", "/tmp/x.csv", "gs://bucket/x.csv", "https://e.example/x"])
def test_callbacks_refuse_files_outside_the_run_folder(tmp_path: Path, value: Any) -> None:
    pytest.importorskip("keras")
    from kspec.lang.train_spec import TrainSpec
    from kspec.training.objects import user_callbacks

    spec = TrainSpec.model_validate({"loss": "mse", "callbacks": [{"type": "CSVLogger", "filename": value}]})
    with pytest.raises(SpecErrors) as info:
        user_callbacks(spec, tmp_path)
    [err] = info.value.errors
    assert err.code == "train-error" and err.path == ("train", "callbacks", 0, "filename")


@pytest.mark.keras
def test_callbacks_files_land_in_the_run_folder(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    from kspec.lang.train_spec import TrainSpec
    from kspec.training.objects import user_callbacks

    spec = TrainSpec.model_validate({"loss": "mse", "callbacks": [{"type": "CSVLogger", "filename": "logs/h.csv"}]})
    [callback] = user_callbacks(spec, tmp_path)
    assert Path(callback.filename) == (tmp_path / "logs" / "h.csv").resolve()
