"""The resident feed traces each compiled call once per batch shape and model, not once per split or evaluation:
TensorFlow's frequent-retracing warning (seen at the end of 1-epoch trainings) does not come."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytestmark = pytest.mark.keras

pytest.importorskip("keras")

from test_trainer import ANN, _run


def test_no_retracing_warning_for_short_trainings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tensorflow")
    for n in range(2):  # a second model in the same process too (tests, tuning loops)
        result = _run(tmp_path, ANN, f"run{n}", epochs=1, feed="resident", verbose=0, jit_compile=False)
        assert result.metrics["accuracy"] > 0
    retraced = [r.getMessage() for r in caplog.records if "retracing" in r.getMessage()]
    assert retraced == []
