"""`distribute: multi_worker`: two `kspec train` worker processes on 127.0.0.1 (TF_CONFIG), the distributed custom
loop against `fit` in one process, and the recipes it refuses.

Keras 3's `fit` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585), so kspec runs fit/autoencoder/tape
through the `tape` loop made strategy-aware; only the chief (worker 0) keeps a run folder. The strategy must be made
before any other TensorFlow op, so every multi-worker run here is a subprocess.
"""

from __future__ import annotations

import copy
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.keras

pytest.importorskip("keras")

import kspec
from kspec.errors import SpecErrors
from kspec.training import trainer

ROOT = Path(__file__).resolve().parents[2]

SPEC: dict[str, Any] = {
    "kspec": 1,
    "name": "mw_digits",
    "model": {
        "inputs": {"x": {"shape": [64]}},
        "layers": [
            {"type": "Dense", "units": 32, "activation": "relu"},
            {"type": "Dense", "name": "probs", "units": 10, "activation": "softmax"},
        ],
    },
    "data": {
        "source": "digits",
        "preprocess": [{"type": "scale", "divide": 16}, "one_hot", {"type": "take", "count": 600}],
    },
    "train": {
        "loss": "categorical_crossentropy",
        "optimizer": {"type": "Adam", "learning_rate": 0.01},
        "metrics": ["accuracy"],
        "epochs": 2,
        "batch_size": 50,
        "validation_split": 0.2,
        "seed": 1,
        "plots": "none",
        "distribute": "multi_worker",
    },
}


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "mw.yaml", **train: Any) -> Path:
    doc = copy.deepcopy(doc)
    doc["train"].update(train)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _env(tf_config: dict[str, Any] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return env


def _train_cmd(spec: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "kspec", "train", str(spec), "--out", str(out)]


def _falls(values: list[float]) -> bool:
    return all(math.isfinite(v) for v in values) and values[-1] < values[0]


def test_two_workers_on_localhost_train_and_only_the_chief_keeps_a_run(tmp_path: Path) -> None:
    spec = _write(tmp_path, SPEC)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    outs = [tmp_path / f"worker{i}" for i in range(2)]
    procs = [
        subprocess.Popen(
            _train_cmd(spec, outs[i]),
            cwd=ROOT,
            env=_env({"cluster": cluster, "task": {"type": "worker", "index": i}}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        results = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for p, (stdout, stderr) in zip(procs, results, strict=True):
        assert p.returncode == 0, (stdout + stderr)[-3000:]
    history = json.loads((outs[0] / "history.json").read_text())
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in history.values())
    assert _falls(history["loss"]) and _falls(history["val_loss"]), history
    assert (outs[0] / "model.keras").is_file() and (outs[0] / "manifest.json").is_file()
    assert set(json.loads((outs[0] / "metrics.json").read_text())) == {"loss", "accuracy"}
    assert not outs[1].exists()  # a non-chief worker trains in a temporary folder and removes it
    # both workers log the same all-reduced numbers
    assert (
        results[0][0].strip().splitlines()[-1].split(" · ")[:2]
        == results[1][0].strip().splitlines()[-1].split(" · ")[:2]
    )


@pytest.mark.parametrize("weights", [None, {0: 3.0, 7: 0.5}], ids=["plain", "class-weight"])
def test_the_distributed_loop_in_one_process_gives_fits_history(tmp_path: Path, weights: Any) -> None:
    """Without TF_CONFIG the strategy has one local worker: the same history keys as `fit`, and close values (with
    `class_weight` too: the loop weighs each example's loss as `fit` does)."""
    extra = {"class_weight": weights} if weights else {}
    done = subprocess.run(
        _train_cmd(_write(tmp_path, SPEC, **extra), tmp_path / "mw"),
        cwd=ROOT,
        env=_env(None),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    distributed = json.loads((tmp_path / "mw" / "history.json").read_text())
    fitted = trainer.train(
        kspec.load(_write(tmp_path, SPEC, "fit.yaml", distribute="none", **extra)), out=tmp_path / "fit"
    ).history
    assert set(distributed) == set(fitted) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in ("val_loss", "val_accuracy"):  # same batches, same global-batch-mean gradients
        assert distributed[key] == pytest.approx(fitted[key], rel=1e-3, abs=1e-3), key


GAN: dict[str, Any] = {
    "kspec": 1,
    "name": "mw_gan",
    "models": {
        "generator": {"inputs": {"z": {"shape": [4]}}, "layers": [{"type": "Dense", "units": 8}]},
        "discriminator": {
            "inputs": {"x": {"shape": [8]}},
            "layers": [{"type": "Dense", "units": 1, "activation": "sigmoid"}],
        },
    },
    "data": {"source": {"type": "synthetic", "task": "normal", "input_shape": [8], "samples": 32}},
    "train": {"recipe": "gan", "epochs": 1, "distribute": "multi_worker"},
}


@pytest.mark.parametrize(
    ("doc", "train", "at"),
    [
        (GAN, {}, "train.distribute"),
    ],
    ids=["gan"],
)
def test_multi_worker_refuses_what_the_loop_cannot_do(tmp_path: Path, doc: dict[str, Any], train: Any, at: str) -> None:
    with pytest.raises(SpecErrors) as info:
        trainer.train(kspec.load(_write(tmp_path, doc, **train)), out=tmp_path / "run")
    (error,) = info.value.errors
    assert error.code == "train-error" and ".".join(map(str, error.path)) == at, error
    assert "multi_worker" in error.message
    assert not (tmp_path / "run").exists()


def test_a_lone_worker_names_its_missing_peer_and_gives_up_at_its_deadline(tmp_path: Path) -> None:
    """Worker 0 of a two-worker cluster whose worker 1 never starts: named every 5 s, exit 124 at the deadline."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    done = subprocess.run(
        _train_cmd(_write(tmp_path, SPEC, distribute_timeout=6), tmp_path / "run"),
        cwd=ROOT,
        env=_env({"cluster": cluster, "task": {"type": "worker", "index": 0}}),
        capture_output=True,
        text=True,
        timeout=150,  # TensorFlow's import alone takes tens of seconds on a loaded machine
    )
    assert done.returncode == 124, done.stderr[-3000:]
    peer = f"worker 1 ({cluster['worker'][1]})"
    assert f"kspec: waiting for {peer}" in done.stderr
    assert f"did not form within 6 s; not answering: {peer}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("stopped", [0, 1], ids=["chief", "worker"])
def test_sigterm_on_either_worker_stops_both_cleanly(tmp_path: Path, stopped: int) -> None:
    """SIGTERM mid-training: the signalled worker stops as on Ctrl-C, its peer fails on the next all-reduce, the
    chief's run folder keeps its epoch checkpoints, and no worker folder is left (nor one a killed worker left)."""
    import signal
    import time

    spec = _write(tmp_path, SPEC, epochs=100000)
    temp = tmp_path / "tmp"
    stale = temp / "kspec-worker-999999999-gone"  # a SIGKILLed worker's folder: its pid is not running
    stale.mkdir(parents=True)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    out = tmp_path / "run"
    procs = [
        subprocess.Popen(
            _train_cmd(spec, out if i == 0 else tmp_path / "unused"),
            cwd=ROOT,
            env={**_env({"cluster": cluster, "task": {"type": "worker", "index": i}}), "TMPDIR": str(temp)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 240
        while not list((out / "checkpoint").glob("epoch-*.json")) and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), "a worker ended before its first epoch"
            time.sleep(0.5)
        assert list((out / "checkpoint").glob("epoch-*.json")), "no epoch ended in time"
        procs[stopped].send_signal(signal.SIGTERM)
        errors = [p.communicate(timeout=120)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert procs[stopped].returncode in (130, 143), errors[stopped][-2000:]
    assert "interrupted" in errors[stopped]
    assert "resume with" not in errors[0]  # the chief names its checkpoint, but offers no --resume it would refuse
    assert procs[1 - stopped].returncode not in (0, None), errors[1 - stopped][-2000:]
    assert not any("Traceback" in e for e in errors), errors
    assert json.loads((out / "status.json").read_text())["status"] in ("interrupted", "failed")
    assert list((out / "checkpoint").glob("epoch-*.npz"))
    assert not list(temp.glob("kspec-worker-*")), list(temp.iterdir())
    assert not (tmp_path / "unused").exists()


def test_workers_launches_a_local_cluster_and_the_chief_writes_the_run(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    out = tmp_path / "run"
    done = subprocess.run(
        [*_train_cmd(_write(tmp_path, SPEC), out), "--workers", "2"],
        cwd=ROOT,
        env={**_env(None), "TMPDIR": str(temp)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "kspec: started 2 workers on 127.0.0.1 ports" in done.stderr
    assert done.stdout.count("mw_digits: best epoch 2/2") == 1  # the chief's summary; the other worker's is dropped
    assert (out / "manifest.json").is_file() and len(json.loads((out / "history.json").read_text())["loss"]) == 2
    assert not list(temp.iterdir())


def test_workers_needs_a_multi_worker_spec(tmp_path: Path) -> None:
    done = subprocess.run(
        [*_train_cmd(_write(tmp_path, SPEC, distribute="none"), tmp_path / "run"), "--workers", "2"],
        cwd=ROOT,
        env=_env(None),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--workers needs `train.distribute: multi_worker`" in done.stderr, done.stderr
    assert not (tmp_path / "run").exists()


def test_logical_devices_give_mirrored_one_replica_per_device(tmp_path: Path) -> None:
    """Two logical CPU devices: `mirrored` runs two replicas in one process, and trains as one device does."""
    spec = _write(tmp_path, SPEC, distribute="mirrored", logical_devices=2)
    script = (
        "import json, sys, tensorflow as tf, kspec\n"
        "from kspec.training import preflight, trainer\n"
        "resolved = kspec.load(sys.argv[1])\n"
        "scope, _ = preflight.setup(resolved.spec.train)\n"
        "with scope:\n"
        "    replicas = tf.distribute.get_strategy().num_replicas_in_sync\n"
        "history = trainer.train(resolved, out=__import__('pathlib').Path(sys.argv[2])).history\n"
        "print(json.dumps({'replicas': replicas, 'history': history}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(spec), str(tmp_path / "run")],
        cwd=ROOT,
        env=_env(None),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    fitted = trainer.train(
        kspec.load(_write(tmp_path, SPEC, "fit.yaml", distribute="none")), out=tmp_path / "fit"
    ).history
    assert result["history"]["val_loss"] == pytest.approx(fitted["val_loss"], rel=1e-3, abs=1e-3)


def test_early_stopping_stops_both_workers_at_the_same_epoch(tmp_path: Path) -> None:
    """The spec's callbacks see the all-reduced logs: EarlyStopping ends epoch 2 on both workers (a worker that
    went on alone would fail on its next all-reduce), and CSVLogger writes the chief's rows."""
    stop = {"type": "EarlyStopping", "monitor": "val_loss", "min_delta": 100.0, "patience": 1}
    spec = _write(tmp_path, SPEC, epochs=20, callbacks=[stop, {"type": "CSVLogger", "filename": "epochs.csv"}])
    out = tmp_path / "run"
    done = subprocess.run(
        [*_train_cmd(spec, out), "--workers", "2"],
        cwd=ROOT,
        env=_env(None),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    history = json.loads((out / "history.json").read_text())
    assert all(len(v) == 2 for v in history.values()), history
    assert len((out / "epochs.csv").read_text().strip().splitlines()) == 3  # a header and two epochs
