"""Every spec in `specs/` validates (no TensorFlow), is named after its file, starts with the schema modeline, and
`specs/README.md` is what `python -m tools.specs_table` generates."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import kspec

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema=../schemas/kspec.schema.json"


def _table_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("specs_table", ROOT / "tools" / "specs_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_specs() -> None:
    assert len(SPECS) >= 25


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_spec_validates_without_errors_or_warnings(path: Path) -> None:
    found = kspec.validate(path)  # raises SpecErrors on any error
    assert [str(e) for e in found if e.severity != "note"] == []
    # the only notes: a plugin layer, whose arguments and shape are checked when the model is built
    assert {e.code for e in found} <= {"unchecked-layer"}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_spec_is_named_after_its_file_and_has_the_modeline(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == MODELINE
    assert kspec.load(path).spec.name == path.stem


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_spec_says_which_chapter_and_edition_it_reproduces(path: Path) -> None:
    header = path.read_text(encoding="utf-8").split("\nkspec: 1\n")[0]
    assert "Chapter" in header or "chapter" in header
    if path.stem != "ch02_ann_digits":  # the offline quick-start adapts ch2 to another dataset; no edition to follow
        assert "edition" in header


def test_specs_readme_is_current() -> None:
    tool = _table_tool()
    assert (ROOT / "specs" / "README.md").read_text(encoding="utf-8") == tool.render(), (
        "specs/README.md is stale: run `python -m tools.specs_table`"
    )


def test_specs_readme_lists_every_spec() -> None:
    text = (ROOT / "specs" / "README.md").read_text(encoding="utf-8")
    for path in SPECS:
        assert f"[{path.name}]({path.name})" in text


# -- specs/examples/: well-known Keras examples beyond the book ------------------------------------------------------
EXAMPLES = sorted((ROOT / "specs" / "examples").glob("*.yaml"))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 7


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_validates_fully_checked(path: Path) -> None:
    """No error, warning or note: every layer's shape is inferred statically (no unchecked built-in layer)."""
    assert [str(e) for e in kspec.validate(path)] == []
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../../schemas/kspec.schema.json"
    assert kspec.load(path).spec.name == path.stem
    assert "Keras" in text.split("\nkspec: 1\n")[0]  # says which Keras example or model it reproduces


def test_readme_lists_every_example() -> None:
    text = (ROOT / "specs" / "README.md").read_text(encoding="utf-8")
    for path in EXAMPLES:
        assert f"[{path.name}](examples/{path.name})" in text
