"""The `kspec-validate` hook of .pre-commit-hooks.yaml, run by the real pre-commit in a temporary git repository.

pre-commit clones the hook repository (here a snapshot of this working tree, so the test runs offline apart from
the package index) and installs kspec's core (no TensorFlow) into its own environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GIT = ["git", "-c", "user.name=kspec tests", "-c", "user.email=tests@kspec.invalid", "-c", "commit.gpgsign=false"]


def test_hook_definition() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert hooks["kspec-validate"]["entry"] == "kspec validate"
    assert hooks["kspec-validate"]["language"] == "python"
    pattern = re.compile(hooks["kspec-validate"]["files"])
    assert pattern.search("specs/ch02.yaml") and pattern.search("models/net.kspec.yaml")
    assert not pattern.search(".github/workflows/ci.yaml")


def test_bad_spec_blocks_the_commit_good_one_passes(tmp_path: Path, checkout_copy: Path) -> None:
    exe = shutil.which("pre-commit")
    assert exe, "pre-commit is in the dev extra"
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout_copy, capture_output=True, text=True, check=True)
    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    config = {"repos": [{"repo": str(checkout_copy), "rev": rev.stdout.strip(), "hooks": [{"id": "kspec-validate"}]}]}
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    good = (ROOT / "specs" / "ch02_ann_digits.yaml").read_text(encoding="utf-8")
    (project / "specs" / "ann.yaml").write_text(good, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "cache")  # a fresh hook environment, as on a new machine

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=project, env=env, capture_output=True, text=True, timeout=900)

    assert run(exe, "install").returncode == 0
    run(*GIT, "add", "-A")
    passed = run(*GIT, "commit", "-m", "a good spec")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"kspec validate\.+Passed", passed.stdout + passed.stderr)

    (project / "specs" / "ann.yaml").write_text(good.replace("activation: relu", "activation: rellu"), encoding="utf-8")
    run(*GIT, "add", "-A")
    blocked = run(*GIT, "commit", "-m", "a typo")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0
    assert re.search(r"kspec validate\.+Failed", output)
    assert re.search(r"specs/ann\.yaml:\d+:\d+: error: .*rellu.*\[unknown-object\]", output), output
    log = run("git", "log", "--oneline")
    assert len(log.stdout.splitlines()) == 1  # the bad spec was not committed
