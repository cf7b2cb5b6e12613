"""The resident feed: the same training as `Model.fit` on tf.data (bit for bit), Keras callbacks, the pace of
compiled calls, and when `feed: auto` picks it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.keras

pytest.importorskip("keras")

import numpy as np
import tensorflow as tf
from test_trainer import ANN, _run

from kspec.training import resident
from kspec.training.resident import Pace


@pytest.mark.parametrize(
    "train",
    [
        {"jit_compile": False},
        {"jit_compile": True, "steps_per_execution": 3},
        {"jit_compile": False, "class_weight": {c: 1.0 + c / 4 for c in range(8)}},  # 8, 9 weigh 1.0
    ],
    ids=["graph", "xla", "class_weight"],
)
def test_resident_feed_trains_exactly_as_fit_on_tf_data(tmp_path: Path, train: dict[str, Any]) -> None:
    a = _run(tmp_path, ANN, "resident", epochs=3, feed="resident", verbose=0, **train)
    b = _run(tmp_path, ANN, "tfdata", epochs=3, feed="tf.data", verbose=0, **train)
    if not train["jit_compile"]:
        assert a.history == b.history  # same batches in the same order, steps one after another
        assert a.metrics == b.metrics
        return
    # XLA's code may round in the last bit differently from one compilation to the next (other tests' global
    # settings, e.g. op determinism, reach it): the same training, to float32 precision
    for key, values in b.history.items():
        assert a.history[key] == pytest.approx(values, rel=1e-6), key


def test_resident_feed_draws_the_random_numbers_fit_draws(tmp_path: Path) -> None:
    # an eager LSTM call with dropout draws a seed even in inference: priming must not shift the stream
    lstm = copy.deepcopy(ANN)
    lstm["model"]["layers"] = [
        {"type": "Reshape", "target_shape": [8, 8]},
        {"type": "LSTM", "units": 16, "dropout": 0.2, "recurrent_dropout": 0.2},
        {"type": "Dense", "name": "probs", "units": 10, "activation": "softmax"},
    ]
    a = _run(tmp_path, lstm, "resident", epochs=3, feed="resident", verbose=0, jit_compile=False)
    b = _run(tmp_path, lstm, "tfdata", epochs=3, feed="tf.data", verbose=0, jit_compile=False)
    # static batch shapes here, Keras's retraced [None, ...] there: rounding may differ in the last bits
    assert a.history["loss"] == pytest.approx(b.history["loss"], rel=1e-5)


def test_auto_picks_resident_unless_the_spec_needs_tf_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[int] = []
    real = resident.fit
    monkeypatch.setattr(resident, "fit", lambda *a, **k: used.append(1) or real(*a, **k))
    _run(tmp_path, ANN, "auto", epochs=1, verbose=0)
    assert used == [1]
    _run(tmp_path, ANN, "spe", epochs=1, verbose=0, steps_per_epoch=4)
    assert used == [1]  # steps_per_epoch: tf.data


def test_callbacks_stop_the_resident_loop(tmp_path: Path) -> None:
    stop = {"type": "EarlyStopping", "monitor": "loss", "patience": 0, "min_delta": 100}
    result = _run(tmp_path, ANN, "stop", epochs=6, verbose=0, callbacks=[stop], feed="resident")
    assert len(result.history["loss"]) == 2  # epoch 2 does not improve by 100: stop


def test_pace_doubles_quick_calls_up_to_the_gather_cap() -> None:
    pace = Pace(None, step_bytes=Pace.GATHER_BYTES // 40)
    assert pace.size() == Pace.START
    pace.took(0.001, Pace.START)
    assert pace.size() == 2 * Pace.START
    pace.took(0.001, 3)  # a shorter call (the epoch's end) says nothing about the pace
    assert pace.size() == 2 * Pace.START
    pace.took(1.0, 2 * Pace.START)  # slow: keep
    assert pace.size() == 2 * Pace.START
    for _ in range(10):
        pace.took(0.0, pace.size())
    assert pace.size() == 40
    fixed = Pace(5, step_bytes=1)
    fixed.took(0.0, 5)
    assert fixed.size() == 5


def _feed(y: Any, one_hot: int | None = None, class_weight: dict[int, float] | None = None) -> resident.Feed:
    import keras

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    model.compile(loss="categorical_crossentropy")
    x = np.arange(2 * len(y), dtype=np.float32).reshape(len(y), 2)
    return resident.Feed(model, resident.Arrays(x, y), batch_size=2, one_hot=one_hot, class_weight=class_weight)


@pytest.mark.parametrize(
    "y, one_hot",
    [
        (np.array([0, 2, 1, 2]), 3),  # sparse labels, one-hot on the fly
        (np.eye(3, dtype=np.float32)[[0, 2, 1, 2]], None),  # one-hot targets: argmax
        (np.array([[0.0], [2.0], [1.0], [2.0]]), None),  # a trailing 1: rounded
    ],
)
def test_class_weight_becomes_per_example_weights(y: Any, one_hot: int | None) -> None:
    feed = _feed(y, one_hot, class_weight={2: 5.0})
    x, target, weight = feed.batch(tf.constant([[0, 1], [2, 3]]))
    assert x.shape == (2, 2, 2)
    assert weight.numpy().tolist() == [[1.0, 5.0], [1.0, 5.0]]
    if one_hot:
        assert target.shape == (2, 2, 3)


def test_chunks_cover_every_example_once_with_the_short_batch_last() -> None:
    feed = _feed(np.array([0, 1, 2, 0, 1]), one_hot=3)
    order = tf.constant([4, 0, 3, 1, 2], tf.int64)
    chunks = list(feed.chunks(order, Pace(1, step_bytes=1)))
    assert [first for first, _ in chunks] == [0, 1, 2]
    assert [chunk.rows.numpy().tolist() for _, chunk in chunks] == [[[4, 0]], [[3, 1]], [[2]]]
    assert [chunk.steps for _, chunk in chunks] == [1, 1, 1]


def test_an_xla_failure_falls_back_to_graph_with_a_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real, calls = resident.fit, []

    def refuses_xla(s: Any, model: Any, jit: bool, callbacks: Any, start: int) -> None:
        calls.append(jit)
        if jit:  # what XLA raises at the first call for an op it cannot compile
            raise tf.errors.UnimplementedError(None, None, "Detected unsupported operations when compiling with XLA")
        real(s, model, jit, callbacks, start)

    monkeypatch.setattr(resident, "fit", refuses_xla)
    result = _run(tmp_path, ANN, "fallback", epochs=2, verbose=0, jit_compile=True)  # auto may be off: determinism
    assert calls == [True, False]
    assert len(result.history["loss"]) == 2
    assert "training without jit_compile" in capsys.readouterr().err
