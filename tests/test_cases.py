"""Data-driven diagnostics: every `tests/cases/invalid/*.yaml` states its expected errors inline.

An expectation is a comment on the line the diagnostic points at: `# E:COL: code` (mypy style), several separated by
`;`. Every case asserts the set of (line, column, code) of its errors and warnings exactly, so a diagnostic that moves
or disappears fails the test. Files in `tests/cases/valid/` must validate with no error or warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

import kspec
from kspec.errors import SpecErrors, render_text

CASES = Path(__file__).parent / "cases"
INVALID = sorted((CASES / "invalid").glob("*.yaml"))
VALID = sorted((CASES / "valid").glob("*.yaml"))
_EXPECT = re.compile(r"E:(\d+):\s*([a-z-]+)")


def expected(path: Path) -> set[tuple[int, int, str]]:
    out = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if "# E:" in line:
            for col, code in _EXPECT.findall("E:" + line.split("# E:", 1)[1]):
                out.add((lineno, int(col), code))
    return out


def actual(path: Path) -> set[tuple[int, int, str]]:
    try:
        found = kspec.validate(path)
    except SpecErrors as exc:
        found = exc.errors
    return {(e.line or 0, e.column or 0, e.code) for e in found if e.severity != "note"}


def test_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 40


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_case(path: Path) -> None:
    want = expected(path)
    assert want, f"{path.name} states no expectation (# E:COL: code)"
    assert actual(path) == want


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_case(path: Path) -> None:
    assert actual(path) == set()


def test_messages_match_golden(golden: Callable[[Path, str], None]) -> None:
    """The full text of every diagnostic of the corpus, so a changed message or hint shows up in review."""
    root = CASES.parent.parent
    chunks = []
    for path in INVALID:
        try:
            found = kspec.validate(path)
        except SpecErrors as exc:
            found = exc.errors
        rel = path.relative_to(root)
        chunks += [render_text(replace(e, file=str(rel))) for e in found if e.severity != "note"]
    text = "\n".join(chunks).replace(str(root), "<repo>").replace(str(root.parent), "<repo>/..")
    golden(Path(__file__).parent / "golden" / "cases.txt", text + "\n")
