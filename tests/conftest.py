"""Shared test helpers: golden files, inline specs, and the `keras` marker."""

from __future__ import annotations

import os
import textwrap
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").rglob("*.yaml"))
UPDATE = os.environ.get("KSPEC_UPDATE_GOLDEN") == "1"


@pytest.fixture
def golden() -> Callable[[Path, str], None]:
    """Compare text with a golden file; `KSPEC_UPDATE_GOLDEN=1` rewrites it."""

    def check(path: Path, text: str) -> None:
        if UPDATE or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if not UPDATE:
                pytest.fail(f"golden file {path} was missing and has been written; check it and rerun")
        assert text == path.read_text(), f"output differs from {path} (KSPEC_UPDATE_GOLDEN=1 rewrites it)"

    return check


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write dedented YAML to a spec file in a temporary folder and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


@pytest.fixture
def keras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private KERAS_HOME; the loaders' SHA-256 check accepts our small files, and no download is attempted."""
    from keras.src.backend import config
    from keras.src.utils import file_utils

    home = tmp_path / "keras_home"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setattr(config, "_KERAS_DIR", str(home))
    monkeypatch.setattr(file_utils, "validate_file", lambda *a, **k: True)

    def offline(url: str, *a: Any, **k: Any) -> None:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    return home / "datasets"


@pytest.fixture(scope="session")
def checkout_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree as it is (tracked and new files, not ignored ones) in a fresh git repository with one commit:
    what pre-commit clones and what a GitHub Action checks out."""
    import shutil
    import subprocess

    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")  # fmt: skip
    dest = tmp_path_factory.mktemp("checkout") / "kspec"
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git = ["git", "-c", "user.name=kspec tests", "-c", "user.email=tests@kspec.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-qm", "snapshot of the working tree"], cwd=dest, check=True)
    return dest
