"""The book's custom layers ship with kspec (`kspec_book`): every book spec validates, and the ch9.4 one builds and
trains, with no plugin package installed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import kspec
from kspec.compiler import plugins

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As after a plain `pip install -e .`: no package declares a `kspec.plugins` entry point."""
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: [])
    plugins.registered.cache_clear()
    yield
    plugins.registered.cache_clear()


def test_every_book_spec_validates_without_a_plugin_package(no_installed_plugins: None) -> None:
    assert "kspec_example" not in plugins.registered()
    for spec in sorted((ROOT / "specs").glob("*.yaml")):
        diagnostics = kspec.validate(spec)
        assert not [d for d in diagnostics if d.severity == "error"], spec.name


@pytest.mark.keras
def test_the_ch9_4_layer_builds_and_learns_from_kspec_alone(no_installed_plugins: None, tmp_path: Path) -> None:
    pytest.importorskip("keras")
    from kspec.training import trainer

    resolved = kspec.load(ROOT / "specs" / "ch09_4_custom_layer.yaml", ["train.epochs=300"])
    kspec.check(resolved)
    model = kspec.compile_resolved(resolved).models["ch09_4_custom_layer"]
    assert type(model.get_layer("sfc")).__module__ == "kspec.compiler.book_layers"
    result = trainer.train(resolved, out=tmp_path / "run")
    assert result.history["loss"][-1] < result.history["loss"][0]
