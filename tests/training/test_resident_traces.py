"""The resident feed traces each compiled call once per batch shape and model, not once per split or evaluation:
TensorFlow's frequent-retracing warning (seen at the end of 1-epoch trainings) does not come. Under XLA, the
training loop is compiled once, whatever the number and size of the calls."""

from __future__ import annotations

import copy
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

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


def test_xla_compiles_the_training_loop_once(tmp_path: Path) -> None:
    # 480 training examples in batches of 50: calls of 8, then 1, then 9 steps, and the short batch. Each call runs
    # from another first step; XLA must not see the step as a constant (it would compile once per call)
    doc = copy.deepcopy(ANN)
    doc["train"].update(epochs=3, jit_compile=True, plots=["history"])
    spec = tmp_path / "ann.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "TF_CPP_VMODULE": "device_compiler=1"}
    cmd = [sys.executable, "-m", "kspec", "train", str(spec), "--out", str(tmp_path / "run")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    compiled = [line for line in done.stderr.splitlines() if "Compilation of XLA executable" in line]
    assert len(compiled) == 1, compiled


@pytest.mark.parametrize("jit", [True, False])
def test_xla_hands_back_the_compilers_memory_before_the_first_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jit: bool
) -> None:
    # 480 training examples in batches of 50: 9 full batches, then a batch of 30 in the graph loop. Under XLA the
    # program is compiled by a call of no steps and the heap trimmed before step 1 runs, and trimmed again after
    # each epoch's last (graph-mode) batch; without XLA the loop trims nothing itself
    from kspec.training import resident, resident_calls

    model: list[Any] = []
    trims: list[int] = []
    train = resident.Feed.train

    def watched(self: resident.Feed, chunk: resident.Chunk, pace: resident.Pace) -> dict[str, Any]:
        model[:] = [self.model]
        return train(self, chunk, pace)

    def trim() -> bool:
        trims.append(int(model[0].optimizer.iterations.numpy()))
        return True

    monkeypatch.setattr(resident.Feed, "train", watched)
    monkeypatch.setattr(resident_calls, "give_back", trim)
    result = _run(tmp_path, ANN, epochs=3, feed="resident", verbose=0, jit_compile=jit, plots=["history"])
    assert result.metrics["accuracy"] > 0
    assert trims == ([0, 10, 20, 30] if jit else [])


def test_a_models_compiled_calls_do_not_keep_it_alive() -> None:
    # the calls are cached per model (weakly keyed); trials of `kspec tune` train one model after another in a process
    import gc
    import weakref

    import keras
    import numpy as np
    import tensorflow as tf

    from kspec.data.registry import Arrays
    from kspec.training import resident

    def train_one() -> weakref.ref[Any]:
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        x, y = np.ones((12, 3), "float32"), np.zeros((12,), "int64")
        feed = resident.Feed(model, Arrays(x, y), batch_size=4, one_hot=None)
        pace = resident.Pace(None, feed.step_bytes())
        for _, chunk in feed.chunks(tf.range(12, dtype=tf.int64), pace):
            logs = feed.train(chunk, pace)
        assert float(logs["loss"]) > 0
        assert 0.0 <= float(feed.evaluate(pace)["accuracy"]) <= 1.0
        return weakref.ref(model)

    gone = train_one()
    gc.collect()
    assert gone() is None
