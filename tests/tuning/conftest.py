"""Small specs for the `kspec tune` tests: a DNN on scikit-learn's digits (offline, a second per epoch)."""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TINY = """\
kspec: 1
name: tiny_tune
vars: {{lr: 0.01, hidden: 8}}
model:
  inputs: {{x: {{shape: [64]}}}}
  layers:
    - {{type: Dense, units: "${{hidden}}", activation: relu}}
    - {{type: Dense, units: 10, activation: softmax}}
data:
  source: {{type: digits, test_split: 0.2, seed: 0}}
  preprocess: [{{type: scale, divide: 16}}, {{type: one_hot, classes: 10}}]
train:
  optimizer: {{type: Adam, learning_rate: "${{lr}}"}}
  loss: categorical_crossentropy
  metrics: [accuracy]
  epochs: {epochs}
  batch_size: 64
  validation_split: 0.2
  plots: none
  jit_compile: false
search:
  metric: val_accuracy
  trials: {trials}
  sampler: {{type: random, seed: 0}}
  pruner: {{type: threshold, lower: 0.3}}      # a trial below 30 % validation accuracy after an epoch stops there
  space:
    vars.lr: {{choice: [0.03, 1.0e-7]}}       # 1e-7 learns nothing in an epoch: those trials are pruned
    vars.hidden: {{int: [4, 16]}}
"""


def tiny_spec(folder: Path, *, trials: int = 4, epochs: int = 2) -> Path:
    path = folder / "tiny_tune.yaml"
    path.write_text(TINY.format(trials=trials, epochs=epochs), encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return tiny_spec(tmp_path)


@pytest.fixture
def make_tiny() -> Callable[..., Path]:
    return tiny_spec


def _postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian keeps them off PATH, under /usr/lib/postgresql/N/bin)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


@pytest.fixture
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on a Unix socket in a temporary folder; yields its SQLAlchemy URL.

    The server refuses to run as root, so under root it runs as the `postgres` user the Debian package creates.
    """
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL is not installed here (no initdb): the shared-study test needs it; .ci/run installs it "
            "from the Debian packages (apt-get install postgresql). The SQLite multi-process test still runs."
        )
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("PostgreSQL cannot run as root and there is no `postgres` user to run it as")
        prefix = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="kspec-pg-"))  # short: a socket path has a ~100 character limit
    if prefix:
        shutil.chown(base, "postgres")
    data = base / "data"
    run = functools.partial(subprocess.run, check=True, capture_output=True, text=True, timeout=120)
    try:
        run([*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "kspec", "-N"])
        options = f"-k {base} -c listen_addresses='' -c fsync=off -c max_connections=50"
        run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"])
        yield f"postgresql+psycopg2://kspec@/postgres?host={base}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)
