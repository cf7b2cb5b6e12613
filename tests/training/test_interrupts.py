"""SIGINT and SIGTERM end training with what is needed saved, the run folder named and the exact resume command on a
line of its own; a full disk names the file, says that nothing was lost and how to resume."""

from __future__ import annotations

import errno
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.keras

pytest.importorskip("keras")

from kspec.cli import main
from kspec.training import checkpoint, manifest, resident

ROOT = Path(__file__).resolve().parents[2]
# 200 epochs: a tiny model trains an epoch in well under 0.1 s, so six epochs could end before the signal arrived
SPEC = """
kspec: 1
name: interrupts
model:
  inputs: {x: {shape: [4]}}
  layers: [{type: Dense, units: 3, activation: softmax}]
data: {source: {type: synthetic, samples: 4000, test_samples: 8}}
train: {loss: categorical_crossentropy, epochs: 200, batch_size: 2, verbose: 1, plots: none, seed: 2}
"""


def _start(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    (tmp_path / "s.yaml").write_text(SPEC)
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [sys.executable, "-m", "kspec", "train", "s.yaml", "--out", "run", "--set", "train.seed=2"]
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list((run / "checkpoint").glob("epoch-*.json")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    return proc, run


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_saves_names_the_run_and_prints_the_resume_command(tmp_path: Path, sig: signal.Signals) -> None:
    proc, run = _start(tmp_path)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err[-2000:]
    assert f"interrupted ({sig.name}); the run folder run holds the checkpoint after epoch" in err
    command = "kspec train s.yaml --resume run --set train.seed=2"
    assert command in err.splitlines()  # alone on its line, as it is to be pasted
    assert "Traceback" not in err
    assert list((run / "checkpoint").glob("epoch-*.npz")) and not (run / "manifest.json").exists()
    if sig == signal.SIGTERM:  # the printed command continues the run to the end
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
        # another spec (more epochs would be accepted: that extends the run): refused, not resumed
        argv = [sys.executable, "-m", *shlex.split(command), "--set", "train.batch_size=4"]
        refused = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert refused.returncode == 1 and "train.batch_size" in refused.stderr
        done = subprocess.run([sys.executable, "-m", *shlex.split(command)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=900)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert manifest.verify(run).ok


def test_a_signal_in_the_middle_of_a_compiled_call_is_acted_on_after_it(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python would raise KeyboardInterrupt inside TensorFlow's own code, which can crash it (SIGSEGV): the signal
    waits until the compiled call it came in has returned."""
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.replace("epochs: 200", "epochs: 3").replace("verbose: 1", "verbose: 0"))
    calls: list[str] = []
    original = resident.Feed.train

    def train(self: resident.Feed, chunk: Any, pace: Any) -> Any:
        calls.append("begin")
        if len(calls) == 3:  # the second compiled call: signalled as it starts
            os.kill(os.getpid(), signal.SIGINT)
        logs = original(self, chunk, pace)
        calls.append("end")
        return logs

    monkeypatch.setattr(resident.Feed, "train", train)
    assert main(["train", str(spec), "--out", str(tmp_path / "run")]) == 128 + signal.SIGINT
    assert calls == ["begin", "end", "begin", "end"]  # that call ran to its end, and no other began
    err = capfd.readouterr().err
    assert "kspec: SIGINT: stopping after the current step (press Ctrl-C again to stop at once)" in err
    assert "kspec: interrupted (SIGINT)" in err and "Traceback" not in err


def test_a_full_disk_names_the_file_and_how_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        SPEC.replace("epochs: 200", "epochs: 4")
        .replace("samples: 4000", "samples: 64")
        .replace("verbose: 1", "verbose: 0")
    )
    run = tmp_path / "run"
    original, calls = checkpoint.write_npz, [0]

    def write_npz(path: Path, arrays: Any) -> None:  # the third epoch's checkpoint: disk full
        calls[0] += 1
        if calls[0] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(path, arrays)

    with monkeypatch.context() as m:
        m.setattr(checkpoint, "write_npz", write_npz)
        assert main(["train", str(spec), "--out", str(run)]) == 1
    err = capsys.readouterr().err
    assert f"while writing {run / 'checkpoint' / 'epoch-00003.npz'}" in err
    assert f"nothing was lost: files are replaced only once written whole, and {run} holds the checkpoint after " \
           "epoch 2" in err  # fmt: skip
    assert f"kspec train {spec} --resume {run}" in err.splitlines()
    assert main(["train", str(spec), "--resume", str(run)]) == 0 and manifest.verify(run).ok
