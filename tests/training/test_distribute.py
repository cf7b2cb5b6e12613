"""`distribute: multi_worker`: two `kspec train` worker processes on 127.0.0.1 (TF_CONFIG), the distributed custom
loop against `fit` in one process, `--resume` after a worker is killed or stopped, GAN training and TensorBoard logs.

Keras 3's `fit` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585), so kspec runs fit/autoencoder/tape
through the `tape` loop made strategy-aware; only the chief (worker 0) keeps a run folder. The strategy must be made
before any other TensorFlow op, so every multi-worker run here is a subprocess.
"""

from __future__ import annotations

import copy
import json
import math
import os
import signal
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


def _run_workers(cmds: list[list[str]], cluster: dict[str, Any], timeout: int) -> list[tuple[str, str]]:
    """Run one command per worker of `cluster` (TF_CONFIG task i for cmds[i]); each must exit 0. Returns (out, err)."""
    procs = [
        subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=_env({"cluster": cluster, "task": {"type": "worker", "index": i}}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, cmd in enumerate(cmds)
    ]
    try:
        results = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for p, (stdout, stderr) in zip(procs, results, strict=True):
        assert p.returncode == 0, (stdout + stderr)[-3000:]
    return results


def _train_cmd(spec: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "kspec", "train", str(spec), "--out", str(out)]


def _falls(values: list[float]) -> bool:
    return all(math.isfinite(v) for v in values) and values[-1] < values[0]


def test_two_workers_on_localhost_train_and_only_the_chief_keeps_a_run(tmp_path: Path) -> None:
    spec = _write(tmp_path, SPEC)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    outs = [tmp_path / f"worker{i}" for i in range(2)]
    results = _run_workers([_train_cmd(spec, out) for out in outs], cluster, timeout=240)
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


# -- resuming (issue 19): the chief restores its checkpoint and sends it to the other workers ------------------------
RESUMABLE: dict[str, Any] = copy.deepcopy(SPEC)
RESUMABLE["name"] = "mw_resume"
RESUMABLE["model"]["layers"].insert(1, {"type": "Dropout", "rate": 0.2})  # a random-generator state to carry over
RESUMABLE["train"].update(epochs=4, tensorboard=True, distribute_timeout=240)


def _weights(run: Path) -> dict[str, bytes]:
    """Every weight array of a run's `model.keras`, by its HDF5 path, as raw bytes."""
    import io
    import zipfile

    import h5py

    out: dict[str, bytes] = {}

    def keep(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            out[name] = item[()].tobytes()

    with zipfile.ZipFile(run / "model.keras") as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        f.visititems(keep)
    return out


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two-worker job of RESUMABLE (`kspec train --workers 2`), run to the end without interruption."""
    folder = tmp_path_factory.mktemp("mw_reference")
    temp, out = folder / "tmp", folder / "run"
    temp.mkdir()
    done = subprocess.run(
        [*_train_cmd(_write(folder, RESUMABLE), out), "--workers", "2"],
        cwd=ROOT,
        env={**_env(None), "TMPDIR": str(temp)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (folder / "stdout.txt").write_text(done.stdout)
    (folder / "stderr.txt").write_text(done.stderr)
    return out


def test_workers_launches_a_local_cluster_and_the_chief_writes_the_run(uninterrupted: Path) -> None:
    stdout, stderr = [(uninterrupted.parent / name).read_text() for name in ("stdout.txt", "stderr.txt")]
    assert "kspec: started 2 workers on 127.0.0.1 ports" in stderr
    assert stdout.count("mw_resume: best epoch") == 1  # the chief's summary; the other worker's is dropped
    assert (uninterrupted / "manifest.json").is_file()
    assert len(json.loads((uninterrupted / "history.json").read_text())["loss"]) == 4
    assert not list((uninterrupted.parent / "tmp").iterdir())  # the other worker's temporary folder is gone


def test_the_chief_alone_writes_tensorboard_logs(uninterrupted: Path) -> None:
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    readers = EventMultiplexer().AddRunsFromDirectory(str(uninterrupted / "tensorboard"))
    readers.Reload()
    assert {"train", "validation"} <= set(readers.Runs())
    train = readers.GetAccumulator("train")
    plugins = {tag: train.SummaryMetadata(tag).plugin_data.plugin_name for tag in train.Tags()["tensors"]}
    assert plugins["epoch_loss"] == "scalars" and len(train.Tensors("epoch_loss")) == 4
    histograms = [tag for tag, plugin in plugins.items() if plugin == "histograms"]
    assert any("probs" in t and "kernel" in t for t in histograms) and all(
        len(train.Tensors(t)) == 4 for t in histograms
    )
    assert "graph_keras_model" in plugins.values()
    assert len(readers.GetAccumulator("validation").Tensors("epoch_loss")) == 4


@pytest.mark.parametrize(
    ("stopped", "signum"), [(0, signal.SIGKILL), (1, signal.SIGTERM)], ids=["sigkill-chief", "sigterm-worker"]
)
def test_resume_after_a_worker_is_stopped_ends_bit_identical(
    tmp_path: Path, uninterrupted: Path, stopped: int, signum: int
) -> None:
    """`kspec train --workers 2`: a worker is killed (SIGKILL, the chief) or stopped (SIGTERM, worker 1) after the first
    epoch's checkpoint; the job ends, and `--resume` ends with the uninterrupted job's history and bit-identical
    weights. SIGTERM stops both workers after the same step; the chief prints the resume command that is then run."""
    import shlex
    import time

    spec = _write(tmp_path, RESUMABLE)
    temp, out, log = tmp_path / "tmp", tmp_path / "run", tmp_path / "job.log"
    temp.mkdir()
    env = {**_env(None), "TMPDIR": str(temp)}
    with log.open("w") as sink:
        job = subprocess.Popen(
            [*_train_cmd(spec, out), "--workers", "2"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sink
        )
        try:
            deadline = time.monotonic() + 400
            while not list((out / "checkpoint").glob("epoch-*.json")) and time.monotonic() < deadline:
                assert job.poll() is None, log.read_text()[-3000:]
                time.sleep(0.05)
            first = log.read_text().split("(pids ", 1)[1].split(")", 1)[0]
            pids = [int(p) for p in first.split(", ")]
            os.kill(pids[stopped], signum)
            job.wait(timeout=300)
        finally:
            if job.poll() is None:
                job.kill()
                job.wait()
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert list((out / "checkpoint").glob("epoch-*.npz"))
    assert not (out / "manifest.json").exists(), "the job ended before the signal: nothing was resumed"
    resume = [*_train_cmd(spec, out)[:-2], "--resume", str(out), "--workers", "2"]
    if signum == signal.SIGTERM:
        assert job.returncode == 143, text[-3000:]
        assert json.loads((out / "status.json").read_text())["status"] == "interrupted"
        printed = text.split("resume with:\n", 1)[1].splitlines()[0]
        assert printed == f"kspec train {spec} --resume {out} --workers 2", text[-2000:]
        resume = [sys.executable, "-m", *shlex.split(printed)]
    else:
        assert job.returncode == 137, text[-3000:]
    done = subprocess.run(resume, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming" in done.stderr
    assert json.loads((out / "history.json").read_text()) == json.loads((uninterrupted / "history.json").read_text())
    assert _weights(out) == _weights(uninterrupted)
    assert not list(temp.glob("kspec-worker-*")), list(temp.iterdir())


GAN: dict[str, Any] = {
    "kspec": 1,
    "name": "mw_gan",
    "models": {
        "generator": {
            "inputs": {"z": {"shape": [4]}},
            "layers": [{"type": "Dense", "units": 16, "activation": "relu"}, {"type": "Dense", "units": 8}],
        },
        "discriminator": {
            "inputs": {"x": {"shape": [8]}},
            "layers": [
                {"type": "Dense", "units": 16, "activation": "relu"},
                {"type": "Dropout", "rate": 0.1},
                {"type": "Dense", "units": 1, "activation": "sigmoid"},
            ],
        },
    },
    "data": {"source": {"type": "synthetic", "task": "normal", "input_shape": [8], "samples": 64}},
    "train": {"recipe": "gan", "epochs": 2, "batch_size": 16, "seed": 3, "plots": "none",
              "distribute": "multi_worker", "distribute_timeout": 240},
}  # fmt: skip

#: trains like `kspec train`, then prints a digest of every weight of the two models (a worker's run folder is gone)
_DIGEST = """
import hashlib, sys
from pathlib import Path
import kspec
from kspec.training import session, trainer
saved = session.Session.save_models
def save_models(self):
    saved(self)
    digest = hashlib.sha256()
    for name in sorted(self.compiled.models):
        for w in self.compiled.models[name].get_weights():
            digest.update(w.tobytes())
    print("weights", digest.hexdigest(), flush=True)
session.Session.save_models = save_models
result = trainer.train(kspec.load(sys.argv[1]), out=Path(sys.argv[2]) if sys.argv[2] != "-" else None)
print(result.summary)
"""


def test_a_gan_trains_on_two_workers_to_the_same_weights(tmp_path: Path) -> None:
    spec = _write(tmp_path, GAN)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    out = tmp_path / "run"
    cmds = [[sys.executable, "-c", _DIGEST, str(spec), str(out) if i == 0 else "-"] for i in range(2)]
    results = _run_workers(cmds, cluster, timeout=400)
    digests = [next(line for line in stdout.splitlines() if line.startswith("weights ")) for stdout, _ in results]
    assert digests[0] == digests[1]
    history = json.loads((out / "history.json").read_text())
    assert set(history) == {"d_loss", "g_loss"} and all(len(v) == 2 for v in history.values())
    assert all(math.isfinite(v) for values in history.values() for v in values)
    assert (out / "model.keras").is_file() and (out / "discriminator.keras").is_file()  # the generator: model.keras
    assert (out / "manifest.json").is_file()
