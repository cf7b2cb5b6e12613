"""The README stays true: its example spec validates, its error-code table lists every code, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import kspec
from kspec.cli import parser
from kspec.errors import CODES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_complete_example_validates(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    example = next(b for b in blocks if b.lstrip().startswith("# yaml-language-server") and "kspec: 1" in b)
    path = tmp_path / "example.yaml"
    path.write_text(example)
    diagnostics = kspec.validate(path)
    assert not [d for d in diagnostics if d.severity != "note"]
    graph = kspec.load(path).models["unet_example"]
    assert graph.nodes["d2_conv_conv2d"].args == {"kernel_size": 3, "padding": "same", "filters": 16}


def test_error_code_table_is_complete() -> None:
    table = dict(re.findall(r"^\| `([a-z0-9-]+)` \| (.+?) \|$", README, flags=re.M))
    assert set(table) == set(CODES)


def test_quick_start_is_two_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line for line in section.splitlines() if line.strip()]
    assert lines == [
        'pip install -e ".[keras]" && kspec train specs/ch02_ann_digits.yaml',
        'pip install -e ".[dev]" -e examples/kspec_example_layers && python -m pytest -q',
    ]
    assert (Path(__file__).resolve().parents[1] / "specs" / "ch02_ann_digits.yaml").is_file()


def test_documented_commands_exist() -> None:
    commands = set(re.findall(r"^kspec ([a-z]+)", README, flags=re.M))
    choices = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert commands and commands <= set(choices)
