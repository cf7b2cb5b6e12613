"""The checked-in `kspec/catalog.json` matches what the installed Keras says (Keras `api_gen` drift check)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kspec.catalog import introspect

pytestmark = pytest.mark.keras


def test_catalog_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "catalog.json"
    introspect.main(["-o", str(fresh)])
    assert fresh.read_text(encoding="utf-8") == introspect.DEFAULT_OUTPUT.read_text(encoding="utf-8"), (
        "kspec/catalog/catalog.json is out of date with the installed Keras: run `python -m kspec.catalog.introspect`"
    )
