"""Run folders and files: one process per run folder, no half run folder after a failed data load, atomic writes for
`kspec build -o` and the callbacks' files (SIGKILL mid-write keeps the previous good file), a damaged finished run is
named on `--resume`, and the data sources' own failure modes (empty CSV, synthetic data with a sparse loss)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.keras

pytest.importorskip("keras")

from kspec.cli import main
from kspec.training import manifest, runs

ROOT = Path(__file__).resolve().parents[2]
TINY = """
kspec: 1
name: tiny
model:
  inputs: {{x: {{shape: [4]}}}}
  layers: [{{type: Dense, units: 3, activation: softmax}}]
data: {data}
train: {{loss: {loss}, epochs: {epochs}, batch_size: 8, verbose: 0, plots: none, seed: 1{extra}}}
"""
SYNTHETIC = "{source: {type: synthetic, samples: 32, test_samples: 8}}"


def _spec(tmp_path: Path, data: str = SYNTHETIC, loss: str = "categorical_crossentropy", epochs: int = 1,
          extra: str = "") -> Path:  # fmt: skip
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.format(data=data, loss=loss, epochs=epochs, extra=extra))
    return path


def _python(code: str, *args: str, cwd: Path, kill_at: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "KILL_AT": str(kill_at)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


#: SIGKILL this process when Keras opens `config.json` for the `KILL_AT`-th time: inside `Model.save`, after the
#: archive was created and before the weights are in it (a kill mid-write)
KILL_IN_SAVE = """
import os, signal, sys, zipfile
calls = [0]
original = zipfile.ZipFile.open
def open_(self, name, mode="r", *a, **k):
    if mode == "w" and getattr(name, "filename", name) == "config.json":
        calls[0] += 1
        if calls[0] == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)
    return original(self, name, mode, *a, **k)
zipfile.ZipFile.open = open_
from kspec.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_second_process_on_a_run_folder_is_refused_naming_the_owner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path)
    run = tmp_path / "run"
    assert main(["train", str(spec), "--out", str(run)]) == 0
    (run / "checkpoint").mkdir(exist_ok=True)  # as if it were still training
    code = """
    import sys, time
    from pathlib import Path
    from kspec.training import lock
    with lock.hold(Path(sys.argv[1])):
        print("held", flush=True)
        time.sleep(120)
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    owner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(run)], stdout=subprocess.PIPE,
                             text=True, env=env)  # fmt: skip
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "held"
        before = sorted(p.name for p in run.iterdir())
        capsys.readouterr()
        assert main(["train", str(spec), "--resume", str(run)]) == 1
        err = "".join(capsys.readouterr())
        assert f"is in use by process {owner.pid}" in err and str(run) in err
        assert sorted(p.name for p in run.iterdir()) == before
    finally:
        owner.kill()
        owner.wait()


def test_a_failed_data_load_leaves_no_half_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty.csv").write_text("")
    spec = _spec(tmp_path, data="{source: {type: csv, path: empty.csv, features: [a], targets: [b]}}", loss="mse")
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(spec)]) == 1
    err = "".join(capsys.readouterr())
    assert "tiny.yaml:7:" in err and "the CSV file 'empty.csv' is empty" in err and "[data-error]" in err
    assert not list((tmp_path / "runs" / "tiny").iterdir())  # no run folder with only spec.yaml
    out = tmp_path / "out"
    out.mkdir()
    assert main(["train", str(spec), "--out", str(out)]) == 1
    assert not list(out.iterdir())  # the folder given stays, empty: --out can be used again
    (tmp_path / "empty.csv").write_text("a,b\n" + "".join(f"{i},{2 * i}\n" for i in range(12)))
    spec.write_text(spec.read_text().replace("shape: [4]", "shape: [1]").replace("units: 3", "units: 1"))
    assert main(["train", str(spec), "--out", str(out)]) == 0 and manifest.verify(out).ok


def test_synthetic_data_with_a_sparse_loss_trains(tmp_path: Path) -> None:
    spec = _spec(tmp_path, loss="sparse_categorical_crossentropy", extra=", metrics: [accuracy]")
    assert main(["train", str(spec), "--out", str(tmp_path / "run")]) == 0


def test_resume_of_a_finished_run_with_a_damaged_model_names_the_damage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, run = _spec(tmp_path), tmp_path / "run"
    assert main(["train", str(spec), "--out", str(run)]) == 0
    model = run / "model.keras"
    model.write_bytes(model.read_bytes()[:100])
    capsys.readouterr()
    assert main(["train", str(spec), "--resume", str(run)]) == 1
    err = "".join(capsys.readouterr())
    assert "do not match its manifest (differs: 'model.keras')" in err and "already finished" not in err


def test_a_kill_during_build_o_keeps_the_previous_file(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    target = tmp_path / "model.keras"
    assert main(["build", str(spec), "-o", str(target)]) == 0
    good = target.read_bytes()
    spec.write_text(spec.read_text().replace("units: 3", "units: 5"))  # a different model, killed while saving
    proc = _python(KILL_IN_SAVE, "build", str(spec), "-o", str(target), cwd=tmp_path, kill_at=1)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == good
    assert main(["build", str(spec), "-o", str(target)]) == 0 and target.read_bytes() != good


def test_callback_files_are_written_atomically(tmp_path: Path) -> None:
    """ModelCheckpoint killed while saving epoch 2 keeps epoch 1's model whole; the CSV log is whole too."""
    import keras

    callbacks = ", callbacks: [{type: ModelCheckpoint, filepath: last.keras}, {type: CSVLogger, filename: log.csv}]"
    spec, run = _spec(tmp_path, epochs=3, extra=callbacks), tmp_path / "run"
    proc = _python(KILL_IN_SAVE, "train", str(spec), "--out", str(run), cwd=tmp_path, kill_at=2)  # epoch 2's save
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert keras.saving.load_model(run / "last.keras") is not None  # epoch 1's, whole
    rows = (run / "log.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,") and len(rows) in (2, 3)
    assert main(["train", str(spec), "--resume", str(run)]) == 0
    assert [r.split(",")[0] for r in (run / "log.csv").read_text().splitlines()][-1] == "2"
    assert not [p for p in run.rglob(".*") if runs.is_temp(p.name)]
