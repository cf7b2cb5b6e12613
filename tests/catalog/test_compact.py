"""`catalog.marshal`, the catalogue in Python's marshal format: current, equal to `catalog.json`, and ignored when it
does not match the JSON."""

from __future__ import annotations

import json
import marshal
import subprocess
import sys
from pathlib import Path

import pytest

from kspec.catalog import entries

ROOT = Path(__file__).resolve().parents[2]


def test_compact_file_is_current_and_equal_to_the_json() -> None:
    text = entries.JSON_FILE.read_bytes()
    data = entries.compact(text)
    assert data is not None, "kspec/catalog/catalog.marshal is stale: run `kspec schema` in the checkout"
    assert data == json.loads(text)


@pytest.mark.parametrize(
    "content",
    [b"", b"not marshal data", marshal.dumps({"key": "0-0", "data": {}}), marshal.dumps([1, 2])],
    ids=["empty", "garbage", "other-json", "not-a-mapping"],
)
def test_a_stale_or_damaged_compact_file_is_not_used(
    content: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entries, "COMPACT_FILE", tmp_path / "catalog.marshal")
    entries.COMPACT_FILE.write_bytes(content)
    assert entries.compact(entries.JSON_FILE.read_bytes()) is None
    entries.COMPACT_FILE.unlink()
    assert entries.compact(entries.JSON_FILE.read_bytes()) is None  # missing


def test_a_process_without_the_compact_file_reads_the_json(tmp_path: Path) -> None:
    code = (
        "from pathlib import Path; from kspec.catalog import entries; "
        f"entries.COMPACT_FILE = Path({str(tmp_path / 'none.marshal')!r}); "
        "import json; assert entries.load().layers == json.loads(entries.JSON_FILE.read_text())['layers']; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
