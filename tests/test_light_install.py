"""The core install (no TensorFlow) and the GitHub Action that uses it: the action's own steps run here, in a fresh
virtual environment, as a runner would run them after actions/setup-python."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
WORKFLOW = ROOT / "docs" / "examples" / "kspec-validate.yml"


def _expand(text: str, inputs: dict[str, str]) -> str:
    """GitHub's `${{ inputs.NAME }}` expressions, the only ones the action's `run` and `env` use."""

    def value(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        assert expr.startswith("inputs."), f"unexpected expression {expr}"
        return inputs[expr.removeprefix("inputs.")]

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def _run_step(
    step: dict[str, Any], inputs: dict[str, str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    assert step["shell"] == "bash"
    step_env = {**env, **{k: _expand(str(v), inputs) for k, v in step.get("env", {}).items()}}
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", _expand(step["run"], inputs)], cwd=cwd, env=step_env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip


def _inputs(**given: str) -> dict[str, str]:
    return {name: given.get(name, str(spec.get("default", ""))) for name, spec in ACTION["inputs"].items()}


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory, checkout_copy: Path) -> dict[str, Any]:
    """A fresh venv standing in for setup-python's Python, with the action's install step run in it."""
    venv = tmp_path_factory.mktemp("runner") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", GITHUB_ACTION_PATH=str(checkout_copy))
    install = next(s for s in ACTION["runs"]["steps"] if "pip install" in s.get("run", ""))
    started = time.perf_counter()
    done = _run_step(install, _inputs(), env, checkout_copy)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-3000:]
    size = sum(f.stat().st_size for f in (venv / "lib").rglob("*") if f.is_file()) / 1e6
    print(f"\ncore install: {seconds:.1f} s, site-packages {size:.0f} MB")
    return {"venv": venv, "env": env}


def test_action_is_a_composite_action_with_documented_inputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert all(spec.get("description") for spec in ACTION["inputs"].values())
    assert all(step.get("shell") == "bash" for step in ACTION["runs"]["steps"] if "run" in step)
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = workflow["jobs"]["validate"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@") and "paths" in steps[1]["with"]


def test_core_install_has_no_tensorflow(runner: dict[str, Any]) -> None:
    python = runner["venv"] / "bin" / "python"
    script = "import importlib.util as u; print([m for m in ('tensorflow', 'keras', 'numpy') if u.find_spec(m)])"
    out = subprocess.run([str(python), "-c", script], capture_output=True, text=True, env=runner["env"], check=True)
    assert out.stdout.strip() == "[]"


def test_action_validates_specs_and_annotates_errors(runner: dict[str, Any], tmp_path: Path) -> None:
    validate = next(s for s in ACTION["runs"]["steps"] if "kspec validate" in s.get("run", ""))
    (tmp_path / "specs").mkdir()
    good = (ROOT / "specs" / "ch02_ann_digits.yaml").read_text(encoding="utf-8")
    (tmp_path / "specs" / "good.yaml").write_text(good, encoding="utf-8")
    ok = _run_step(validate, _inputs(), runner["env"], tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (tmp_path / "specs" / "bad.yaml").write_text(good.replace('units: "${hidden}"', "unit: 100", 1), encoding="utf-8")
    bad = _run_step(validate, _inputs(paths="specs/bad.yaml specs/good.yaml"), runner["env"], tmp_path)
    assert bad.returncode == 1
    assert re.search(r"^::error file=specs/bad\.yaml,line=\d+,col=\d+", bad.stdout, flags=re.M), bad.stdout


def test_core_install_says_which_extra_a_command_needs(runner: dict[str, Any]) -> None:
    kspec = runner["venv"] / "bin" / "kspec"
    out = subprocess.run([str(kspec), "train", str(ROOT / "specs" / "ch02_ann_digits.yaml")], capture_output=True,
                         text=True, env=runner["env"], cwd=runner["venv"])  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert 'pip install "kspec[keras]"' in out.stderr


def test_core_install_ships_the_schema_and_completion(runner: dict[str, Any]) -> None:
    kspec = str(runner["venv"] / "bin" / "kspec")
    path = subprocess.run([kspec, "schema", "--path"], capture_output=True, text=True, env=runner["env"], check=True)
    shipped = Path(path.stdout.strip())
    assert runner["venv"] in shipped.parents  # inside the installed package, not this checkout
    assert shipped.read_text(encoding="utf-8") == (ROOT / "schemas" / "kspec.schema.json").read_text(encoding="utf-8")
    env = runner["env"]
    script = subprocess.run([kspec, "completion", "bash"], capture_output=True, text=True, env=env, check=True)
    assert "complete -o bashdefault -F _shtab_kspec kspec" in script.stdout
