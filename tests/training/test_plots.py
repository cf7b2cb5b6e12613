"""History plots people can read: a single epoch visible, whole epochs on the x axis, titles naming the model,
a comparison's legend outside the curves."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from kspec.training import plots


def _figure(monkeypatch: pytest.MonkeyPatch, histories: dict[str, dict[str, list[float]]], title: str) -> object:
    kept = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: kept.append(fig) or path)
    plots.plot_history(histories, Path("."), title)
    return kept[0]


def test_one_epoch_is_a_visible_point_on_a_whole_epoch_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    fig = _figure(monkeypatch, {"run": {"loss": [0.9], "val_loss": [0.7]}}, "ch02_ann_digits")
    ax = fig.axes[0]  # type: ignore[attr-defined]
    assert [line.get_marker() for line in ax.get_lines()] == ["o", "o"]
    assert list(ax.get_xticks()) == [1]
    assert ax.get_title() == "ch02_ann_digits: Loss"


def test_three_epochs_have_integer_ticks_and_a_comparison_legend_sits_outside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = {"seed=1": {"loss": [0.9, 0.5, 0.4]}, "seed=2": {"loss": [0.8, 0.6, 0.3]}}
    fig = _figure(monkeypatch, runs, "")
    ax = fig.axes[0]  # type: ignore[attr-defined]
    assert list(ax.get_xticks()) == [1, 2, 3]
    anchor = ax.get_legend().get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert anchor.x0 > 1.0  # right of the axes, off the curves
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["seed=1 Train", "seed=2 Train"]
