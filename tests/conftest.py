"""Shared test helpers: golden files, inline specs, and the `keras` marker."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

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
