"""`--resume` with more `train.epochs` (finished and interrupted runs, the history continuous), `status.json`,
`kspec runs`, and `kspec plot` skipping runs that finished no epoch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.keras

pytest.importorskip("keras")

from test_faults import ANN, _interrupt_after, _same, _spec

from kspec.cli import main
from kspec.training import manifest, runs, trainer


def test_a_finished_run_continues_with_more_epochs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whole = trainer.train(_spec(tmp_path, ANN, epochs=4), out=tmp_path / "whole")
    run = trainer.train(_spec(tmp_path, ANN, epochs=2), out=tmp_path / "run").run_dir
    first = json.loads((run / "history.json").read_text())
    result = trainer.train(_spec(tmp_path, ANN, epochs=4), resume=run)  # `--set train.epochs=4 --resume RUN`
    assert len(result.history["loss"]) == 4 and result.history["loss"][:2] == first["loss"]
    assert result.history == whole.history and _same(whole.run_dir, run)  # as if it had been asked for 4 at once
    assert manifest.verify(run).ok and "epochs: 4" in (run / "spec.yaml").read_text()
    assert json.loads((run / "status.json").read_text())["status"] == "complete"
    with pytest.raises(runs.SpecChangedError, match="already trained 4 epoch"):
        trainer.train(_spec(tmp_path, ANN, epochs=3), resume=run)
    with pytest.raises(runs.SpecChangedError, match="train.seed"):  # anything else still needs --restart
        trainer.train(_spec(tmp_path, ANN, epochs=5, seed=9), resume=run)


def test_an_early_stopped_run_resumed_with_its_spec_stays_finished(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = [{"type": "EarlyStopping", "monitor": "loss", "min_delta": 10.0, "patience": 0}]
    run = trainer.train(_spec(tmp_path, ANN, callbacks=stop), out=tmp_path / "run").run_dir
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 2  # stopped before its 4 epochs
    capsys.readouterr()
    again = trainer.train(_spec(tmp_path, ANN, callbacks=stop), resume=run)
    assert "already finished" in capsys.readouterr().err and len(again.history["loss"]) == 2


def test_an_interrupted_run_continues_with_more_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = trainer.train(_spec(tmp_path, ANN, epochs=6), out=tmp_path / "whole")
    run = tmp_path / "run"
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(_spec(tmp_path, ANN), out=run)
    assert json.loads((run / "status.json").read_text())["status"] == "interrupted"
    result = trainer.train(_spec(tmp_path, ANN, epochs=6), resume=run)
    assert result.history == whole.history and _same(whole.run_dir, run)


def test_runs_lists_states_and_plot_skips_runs_without_an_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "runs"
    done = trainer.train(_spec(tmp_path, ANN, epochs=2), out=root / "faults" / "a").run_dir
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        with pytest.raises(KeyboardInterrupt):
            trainer.train(_spec(tmp_path, ANN), out=root / "faults" / "b")
    failing = dict(ANN, data={"source": {"type": "npz", "path": "missing.npz", "x": "x", "y": "y"}})
    with pytest.raises(Exception):  # noqa: B017 - the data file is missing: the run fails before its first epoch
        trainer.train(_spec(tmp_path, failing), out=root / "faults" / "c")
    assert not (root / "faults" / "c").exists()  # a run that fails before its first epoch leaves no folder (#14)
    from kspec.training import runs, status

    runs.write_spec(runs.make_dir(root / "faults" / "c"), "kspec: 1\n")  # a folder such a run left (older kspec)
    status.write(root / "faults" / "c", "failed", epochs=4, error="FileNotFoundError: missing.npz")
    capsys.readouterr()
    assert main(["runs", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["RUN", "STARTED", "STATUS", "EPOCHS", "BEST"]
    by_run = {line.split()[0]: line.split()[3:] for line in lines[1:]}  # after the date and time
    assert by_run[str(done)][:2] == ["complete", "2/2"] and by_run[str(done)][2] == "val_loss"
    assert by_run[str(root / "faults" / "b")][:2] == ["interrupted", "1/4"]
    assert by_run[str(root / "faults" / "c")][:2] == ["failed", "0/4"]
    out = tmp_path / "cmp.png"
    assert main(["plot", "-o", str(out), *(str(root / "faults" / n) for n in "abc")]) == 0
    captured = capsys.readouterr()
    assert out.is_file() and out.read_bytes()[:4] == b"\x89PNG"
    assert f"skipping {root / 'faults' / 'c'}: no epoch finished (failed)" in captured.err


def test_evaluate_uses_the_runs_own_spec_and_prints_readable_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np
    import yaml

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 64)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    folder = tmp_path / "project"
    folder.mkdir()
    np.savez(folder / "d.npz", x=x[:90], y=y[:90], xt=x[90:], yt=y[90:])
    doc = dict(
        ANN, data={"source": {"type": "npz", "path": "d.npz", "x": "x", "y": "y", "x_test": "xt", "y_test": "yt"}}
    )
    doc["model"] = dict(ANN["model"], layers=[*ANN["model"]["layers"][:-1], {"type": "Dense", "units": 2}])
    doc["train"] = dict(ANN["train"], epochs=1, loss={"type": "SparseCategoricalCrossentropy", "from_logits": True})
    spec = folder / "npz_run.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    run = tmp_path / "elsewhere" / "run"
    assert main(["train", str(spec), "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0  # the data path is relative to the spec's folder, not the run's
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{run / 'model.keras'} on the test data of {run / 'spec.yaml'}:"
    assert [line.split()[0] for line in out[1:]] == ["accuracy", "loss"]
    assert main(["evaluate", str(run), str(spec), "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"accuracy", "loss"}
