"""Promises of the security section: no code from a spec runs, nothing leaves the machine, errors echo little."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import kspec
from kspec.cli import main
from kspec.errors import SpecErrors

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kspec"

#: Calls that could run or load code named by data. `importlib.import_module` is allowed only where a plugin that an
#: installed package registered (not a name from a spec) is imported, and in the developer tool that walks fixed
#: `keras.*` modules to generate the catalogue.
FORBIDDEN = {
    r"\beval\(": (),
    r"\bexec\(": (),
    r"\bpickle\b": (),
    r"\bmarshal\b": (),
    r"\bdill\b": (),
    r"yaml\.(unsafe_)?load\(": (),
    r"yaml\.(Full|Unsafe)?Loader\b": (),
    r"\b__import__\(": (),
    r"importlib\.import_module\(": ("plugins.py", "introspect.py"),
    r"\bsafe_mode\s*=\s*False": (),
    r"enable_unsafe_deserialization": (),
}


@pytest.mark.parametrize("pattern", sorted(FORBIDDEN))
def test_package_has_no_code_loading_calls(pattern: str) -> None:
    offenders = [
        f"{path.name}:{n}"
        for path in sorted(PACKAGE.glob("*.py"))
        if path.name not in FORBIDDEN[pattern]
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(pattern, line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("kspec opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_validate_and_draw_open_no_connection(no_network: None, tmp_path: Path) -> None:
    assert main(["validate", str(ROOT / "specs")]) == 0
    assert main(["draw", str(ROOT / "specs" / "ch08_unet_cifar10.yaml"), "-o", str(tmp_path / "u.svg")]) == 0


def test_validate_writes_nothing_and_repeats_itself(
    write_spec: Callable[..., Path], capfd: pytest.CaptureFixture[str]
) -> None:
    path = write_spec("kspec: 1\nname: w\nmodel:\n  inputs: {x: {shape: [3]}}\n  layers: [{type: Dnse, units: 1}]\n")
    before = sorted(p.name for p in path.parent.iterdir())
    outputs = []
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "kspec", "validate", str(path)], capture_output=True, cwd=path.parent
        )
        outputs.append(result.stdout + result.stderr)
        assert result.returncode == 1
    assert outputs[0] == outputs[1]
    assert sorted(p.name for p in path.parent.iterdir()) == before


def test_errors_echo_little_and_no_control_characters(write_spec: Callable[..., Path]) -> None:
    long_value = "\x1b[31m" + "A" * 5000
    path = write_spec(
        "kspec: 1\nname: echo\nmodel:\n  inputs: {x: {shape: [3]}}\n"
        f'  layers: [{{type: Dense, units: 1, activation: "{long_value}"}}]\n'
    )
    with pytest.raises(SpecErrors) as info:
        kspec.validate(path)
    text = str(info.value)
    assert "A" * 201 not in text
    assert "\x1b" not in text


def test_unsafe_layers_need_the_command_line_flag(write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        "kspec: 1\nname: lam\nmodel:\n  inputs: {x: {shape: [3]}}\n  layers: [{type: Lambda, function: print}]\n"
    )
    with pytest.raises(SpecErrors) as info:
        kspec.validate(path)
    assert [e.code for e in info.value.errors if e.severity == "error"] == ["unsafe-layer"]
    assert not any(e.code == "unsafe-layer" for e in kspec.validate(path, allow_unsafe=True))
