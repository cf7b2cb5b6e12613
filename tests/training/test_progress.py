"""kspec's training progress: one plain line per epoch outside a terminal, a redrawn line with the whole run's ETA
in one, `Epoch 1/1` included."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kspec.training.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _drive(progress: Progress, epochs: range, steps: int) -> None:
    for epoch in epochs:
        progress.epoch_begin(epoch)
        for step in range(steps):
            progress.batch_end(step, {"loss": 1.0 / (step + 1)})
        progress.epoch_end(epoch, {"loss": 0.5, "val_loss": 0.25, "learning_rate": 0.001})


def test_outside_a_terminal_one_plain_line_per_epoch() -> None:
    out = io.StringIO()
    _drive(Progress(1, 5, stream=out), range(1), 5)
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    (line,) = text.splitlines()
    assert line.startswith("Epoch 1/1 · loss 0.5 · val_loss 0.25 · ") and line.endswith(" s")


def test_in_a_terminal_the_line_shows_the_runs_eta() -> None:
    out = _Terminal()
    _drive(Progress(3, 4, first=1, stream=out), range(1, 3), 4)
    text = out.getvalue()
    assert "\x1b" not in text  # no colours (NO_COLOR holds as it is)
    assert text.count("\n") == 2 and "\rEpoch 2/3 " in text and "ETA" in text and "4/4" in text
    assert text.splitlines()[-1].lstrip("\r").startswith("Epoch 3/3 · loss 0.5")


def test_verbose_2_is_plain_in_a_terminal_and_0_is_silent() -> None:
    out = _Terminal()
    _drive(Progress(2, 3, verbose=2, stream=out), range(2), 3)
    assert "\r" not in out.getvalue() and len(out.getvalue().splitlines()) == 2
    out = _Terminal()
    _drive(Progress(2, 3, verbose=0, stream=out), range(2), 3)
    assert out.getvalue() == ""


@pytest.mark.keras
def test_training_prints_epoch_1_of_1_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("keras")
    from kspec.cli import main

    spec = Path(__file__).resolve().parents[2] / "specs" / "ch02_ann_digits.yaml"
    assert main(["train", str(spec), "--set", "train.epochs=1", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "━" not in out
    assert out.splitlines()[0].startswith("Epoch 1/1 · loss ")
