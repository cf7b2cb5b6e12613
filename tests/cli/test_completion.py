"""`kspec completion SHELL`: scripts generated from the parser, checked by the real shells (syntax, and completions
computed by bash and fish themselves). `.ci/run` installs zsh and fish when they are missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kspec.cli import main
from kspec.cli.completion import SHELLS


def _script(shell: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


def _shell(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return found


@pytest.mark.parametrize("shell", SHELLS)
def test_script_is_valid_syntax(shell: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / f"kspec.{shell}"
    script.write_text(_script(shell, capsys), encoding="utf-8")
    check = subprocess.run([_shell(shell), "-n", str(script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_bash_completes_commands_options_choices_and_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "kspec.bash"
    script.write_text(_script("bash", capsys), encoding="utf-8")
    (tmp_path / "specs").mkdir()

    def complete(*words: str) -> list[str]:
        array = " ".join(f"'{w}'" for w in ("kspec", *words))
        code = f"source {script}; COMP_WORDS=({array}); COMP_CWORD={len(words)}; _shtab_kspec; "
        code += "printf '%s\\n' \"${COMPREPLY[@]}\""
        out = subprocess.run([_shell("bash"), "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
        return out.stdout.split()

    assert complete("va") == ["validate"]
    assert "--format" in complete("validate", "--fo")
    assert complete("completion", "") == list(SHELLS)
    assert "specs" in " ".join(complete("validate", "sp"))


def test_fish_completes_with_descriptions(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "kspec.fish"
    script.write_text(_script("fish", capsys), encoding="utf-8")
    out = subprocess.run([_shell("fish"), "-c", f"source {script}; complete -C 'kspec va'"], capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert out.stdout.startswith("validate\t")


def test_completion_needs_no_tensorflow() -> None:
    code = "import sys; from kspec.cli import main; main(['completion', 'bash'])\n"
    code += "assert 'tensorflow' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
