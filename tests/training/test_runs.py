"""Run folders without TensorFlow: atomic writes, stray temporary files, `--restart` clearing, spec differences,
`manifest.json` and `kspec verify` (exit codes, missing and changed files, hostile manifests)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from kspec.cli import main
from kspec.training import manifest, runs


def _run_folder(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    runs.write_spec(runs.new_run_dir("x", out=run), "kspec: 1\nname: x\n")
    runs.write_history(run, {"loss": [1.0, 0.5], "val_loss": [1.1, float("nan")]})
    runs.write_json(run / "metrics.json", {"accuracy": 0.9})
    runs.write_text(run / "samples" / "epoch_0001.png", "not really a png")
    runs.write_text(run / "model.keras", "not really a model")
    runs.write_text(run / "summary.txt", "x: done\n")
    return run


def test_atomic_write_leaves_no_temporary_file_and_ordinary_permissions(tmp_path: Path) -> None:
    path = runs.write_text(tmp_path / "a" / "b.txt", "hello")
    assert path.read_text() == "hello" and [p.name for p in path.parent.iterdir()] == ["b.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = runs.write_text(tmp_path / "f.json", "old")
    with pytest.raises(RuntimeError), runs.atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_remove_temp_files_finds_what_a_kill_left(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    stray = [run / ".history.json.1a2b3c.tmp", run / "checkpoint" / ".epoch-00002.npz.9f.tmp.npz"]
    for p in stray:
        p.parent.mkdir(exist_ok=True)
        p.write_text("partial")
    (run / ".hidden-but-mine").write_text("kept")
    assert sorted(runs.remove_temp_files(run)) == sorted(stray)
    assert not any(p.exists() for p in stray) and (run / ".hidden-but-mine").exists()


def test_history_csv_and_json(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    assert json.loads((run / "history.json").read_text())["val_loss"] == [1.1, None]
    assert (run / "history.csv").read_text().splitlines() == ["epoch,loss,val_loss", "1,1.0,1.1", "2,0.5,"]


def test_clear_run_removes_only_what_a_run_writes(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    (run / "model.keras").write_text("m")
    (run / "checkpoint").mkdir()
    (run / "checkpoint" / "epoch-00001.json").write_text("{}")
    (run / "notes.md").write_text("the user's")
    runs.clear_run(run)
    assert sorted(p.name for p in run.iterdir()) == ["notes.md"]


def test_spec_changes_name_dotted_paths() -> None:
    old = {"model": {"layers": [{"units": 32}, {"units": 10}]}, "train": {"epochs": 4, "seed": 1}}
    new = {"model": {"layers": [{"units": 64}, {"units": 10}, {"units": 2}]}, "train": {"epochs": 4, "lr": 0.1}}
    changes = runs.spec_changes(old, new)
    assert [c[0] for c in changes] == ["model.layers.0.units", "model.layers.2", "train.seed", "train.lr"]
    text = runs.describe_changes(changes)
    assert "model.layers.0.units (32 -> 64)" in text and "train.seed (removed)" in text and "train.lr (added" in text
    assert runs.spec_changes(old, old) == []
    assert runs.spec_changes({"a": 1}, {"a": 1.0}) == [("a", 1, 1.0)]  # the resolved spec changed its type
    assert runs.spec_changes({"a": True}, {"a": 1}) == [("a", True, 1)]
    many = runs.describe_changes([(f"k{i}", i, i + 1) for i in range(20)], limit=3)
    assert many.endswith("and 17 more")


def test_describe_changes_escapes_and_bounds_values() -> None:
    text = runs.describe_changes([("name", "a", "x\x1b[31m" + "y" * 500)])
    assert "\x1b" not in text and len(text) < 120


def test_stored_spec_round_trip(tmp_path: Path) -> None:
    digest = runs.write_spec(tmp_path, "kspec: 1\n")
    body, recorded = runs.stored_spec(tmp_path)
    assert body == "kspec: 1\n" and recorded == digest == runs.spec_hash(body)
    assert (tmp_path / "spec.sha256").read_text().strip() == digest


def test_manifest_lists_every_file_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run_folder(tmp_path)
    (run / "checkpoint").mkdir()
    (run / "checkpoint" / "epoch-00001.npz").write_text("transient")
    (run / ".metrics.json.abc.tmp").write_text("stray")
    (run / ".model.keras.def.tmp").mkdir()  # a `.keras` archive being saved in a folder of its own
    (run / ".model.keras.def.tmp" / "model.keras").write_text("half")
    manifest.write(run)
    doc = json.loads((run / "manifest.json").read_text())
    assert sorted(doc["files"]) == [
        "history.csv",
        "history.json",
        "metrics.json",
        "model.keras",
        "samples/epoch_0001.png",
        "spec.sha256",
        "spec.yaml",
        "summary.txt",
    ]
    entry = doc["files"]["metrics.json"]
    assert entry["size"] == (run / "metrics.json").stat().st_size
    assert entry["sha256"] == manifest.sha256_of(run / "metrics.json")
    assert main(["verify", str(run)]) == 0
    assert "ok, 8 file(s) match manifest.json" in capsys.readouterr().out


def test_verify_names_missing_and_changed_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run_folder(tmp_path)
    manifest.write(run)
    (run / "history.csv").unlink()
    (run / "metrics.json").write_text('{"accuracy": 1.0}\n')
    (run / "extra.txt").write_text("new")
    assert main(["verify", str(run)]) == 1
    out = capsys.readouterr().out
    assert "missing: 'history.csv'" in out and "differs: 'metrics.json'" in out
    assert "not in the manifest: 'extra.txt'" in out and "2 of 8 listed file(s)" in out


def test_verify_same_size_different_bytes(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    manifest.write(run)
    data = bytearray((run / "spec.yaml").read_bytes())
    data[-2] ^= 1
    (run / "spec.yaml").write_bytes(bytes(data))
    assert manifest.verify(run).differ == ["spec.yaml"]


def test_verify_without_or_with_a_damaged_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run_folder(tmp_path)
    assert main(["verify", str(run)]) == 1
    assert "kspec: error:" in capsys.readouterr().err
    (run / "manifest.json").write_text('{"version": 1, "files": ')
    assert main(["verify", str(run)]) == 1
    assert "not valid JSON" in capsys.readouterr().err
    (run / "manifest.json").write_text('{"version": 9, "files": {}}')
    assert main(["verify", str(run)]) == 1
    assert main(["verify", str(tmp_path / "nowhere")]) == 1


def test_verify_refuses_entries_outside_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run_folder(tmp_path)
    (tmp_path / "secret.txt").write_text("outside")
    (run / "link").symlink_to(tmp_path / "secret.txt")
    entry = {"sha256": manifest.sha256_of(tmp_path / "secret.txt"), "size": 7}
    files = {"../secret.txt": entry, "/etc/passwd": entry, "link": entry, "ok\x1b": entry, "x": "not a table"}
    runs.write_json(run / "manifest.json", {"version": 1, "files": files})
    result = manifest.verify(run)
    assert sorted(result.invalid) == sorted(["../secret.txt", "/etc/passwd", "link", "ok\x1b", "x"])
    assert main(["verify", str(run)]) == 1
    assert "\x1b" not in capsys.readouterr().out


def test_manifest_skips_symbolic_links(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "big.bin").write_text("x")
    (run / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    manifest.write(run)
    assert not any(name.startswith("linked") for name in json.loads((run / "manifest.json").read_text())["files"])


def test_remove_tree_is_all_or_nothing(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    (run / "checkpoint").mkdir()
    (run / "checkpoint" / "epoch-00001.npz").write_text("x")
    runs.remove_tree(run / "checkpoint")
    assert not (run / "checkpoint").exists() and not [p for p in run.iterdir() if runs.is_temp(p.name)]
    half = run / ".checkpoint.0a1b2c.tmp"  # a kill after the rename, during the deletion
    half.mkdir()
    (half / "epoch-00001.json").write_text("{}")
    assert runs.remove_temp_files(run) == [half] and not half.exists()
    runs.remove_tree(run / "nothing-here")


def test_verify_fails_on_files_left_out_of_the_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A truncated model.keras whose entry was deleted from the manifest, and a file added later, both fail verify."""
    run = _run_folder(tmp_path)
    manifest.write(run)
    doc = json.loads((run / "manifest.json").read_text())
    del doc["files"]["model.keras"]
    runs.write_json(run / "manifest.json", doc)
    (run / "model.keras").write_bytes(b"")
    result = manifest.verify(run)
    assert not result.ok and result.unrecorded == ["model.keras"] and not result.unlisted
    assert main(["verify", str(run)]) == 1
    assert "not in the manifest: 'model.keras' (every run writes it)" in capsys.readouterr().out
    manifest.write(run)
    (run / "notes.txt").write_text("added after the run")
    assert manifest.verify(run).unlisted == ["notes.txt"] and main(["verify", str(run)]) == 1


def test_one_process_owns_a_run_folder(tmp_path: Path) -> None:
    """The second owner gets an error naming the first's process id; the lock goes with its process, however it ends;
    a lock file left behind is recognised as stale and taken over."""
    import signal
    import subprocess
    import sys

    from kspec.training import lock

    run = _run_folder(tmp_path)
    code = "import sys, time\nfrom pathlib import Path\nfrom kspec.training import lock\n"
    code += "with lock.hold(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(60)\n"
    owner = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "held"
        with pytest.raises(lock.RunFolderBusy, match=f"in use by process {owner.pid} "):
            with lock.hold(run):
                pass
    finally:
        owner.send_signal(signal.SIGKILL)  # no cleanup runs: the kernel releases the flock
        owner.wait()
    assert (run / lock.LOCK_FILE).exists()  # left behind by the killed owner
    notes: list[str] = []
    with lock.hold(run, notes):
        assert (run / lock.LOCK_FILE).read_text().startswith(f"pid={os.getpid()}\n")
    assert notes == [f"took over a stale lock of process {owner.pid} (no longer running)"]
    assert not (run / lock.LOCK_FILE).exists()
    manifest.write(run)
    with lock.hold(run):  # the lock file is neither listed nor an unlisted file
        assert manifest.verify(run).ok


def test_a_damaged_spec_copy_is_told_apart_from_a_changed_spec(tmp_path: Path) -> None:
    from kspec.training import run_folder

    text = "kspec: 1\nname: x\nmodel:\n  layers: [a, b]\n"
    run = _run_folder(tmp_path)
    runs.write_spec(run, text)
    spec = run / "spec.yaml"
    spec.write_text(spec.read_text()[:30])  # truncated
    with pytest.raises(runs.TrainingError, match="is damaged") as info:
        run_folder.same_spec(run, text.replace("x", "y"))
    assert not isinstance(info.value, runs.SpecChangedError)
    run_folder.same_spec(run, text)  # the run's own spec (it has the recorded hash): the copy is repaired
    assert runs.stored_spec(run)[0] == text
    with pytest.raises(runs.SpecChangedError, match="name"):
        run_folder.same_spec(run, text.replace("x", "y"))
