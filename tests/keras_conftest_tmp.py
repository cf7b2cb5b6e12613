"""Fixtures shared by the Keras tests."""

from __future__ import annotations

import urllib.error
from pathlib import Path
from typing import Any

import pytest


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
