"""Stage train: one process owns a run folder at a time. Standard library only.

`hold(run_dir)` takes an OS-level lock (`fcntl.flock`) on `<run>/.kspec.lock`, which the kernel releases when the
process exits for any reason (a crash or SIGKILL included), so a lock never outlives its owner. The file records the
owner's process id for the error a second process gets; a file left by a process that is gone is a stale lock,
recognised because nobody holds the flock, and taken over.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from kspec.training.runs import TrainingError

LOCK_FILE = ".kspec.lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; the lock is then advisory through the file only
    fcntl = None  # type: ignore[assignment]


class RunFolderBusy(TrainingError):
    """Another process trains in the run folder (the message names its process id)."""


def _owner(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "another process"
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    pid = fields.get("pid", "").strip()
    if not pid.isdigit():
        return "another process"
    host = fields.get("host", "").strip()
    since = fields.get("since", "").strip()
    return f"process {pid}" + (f" on {host}" if host else "") + (f" (since {since})" if since else "")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale_note(path: Path) -> str | None:
    """What an unlocked lock file says about the process that left it (it exited without removing the file)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    pid = fields.get("pid", "").strip()
    if pid.isdigit() and int(pid) != os.getpid():
        state = "no longer running" if not _alive(int(pid)) else "no longer holding it"
        return f"took over a stale lock of process {pid} ({state})"
    return None


@contextlib.contextmanager
def hold(run_dir: Path, notice: list[str] | None = None) -> Iterator[Path]:
    """Own `run_dir` for the duration of the block; released on any exit (also when the process is killed).

    Args:
        run_dir: the run folder (it exists).
        notice: a list that receives a note when a stale lock file was taken over.

    Raises:
        RunFolderBusy: another live process holds the folder.
    """
    path = run_dir / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunFolderBusy(
                f"the run folder {run_dir} is in use by {_owner(path)}, which is training there; wait for it to "
                f"finish or stop it (its lock is released when it exits), then run the command again"
            ) from None
        try:  # the owner before us may have removed the file after we opened it: lock the file that is there now
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        note = _stale_note(path)
        if note and notice is not None:
            notice.append(note)
        record = f"pid={os.getpid()}\nhost={socket.gethostname()}\nsince={time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode(), 0)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still holding it: a waiting process then re-checks the file it locked
        os.close(fd)
