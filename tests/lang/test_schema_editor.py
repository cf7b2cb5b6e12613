"""The JSON Schema measured with the real clients: yaml-language-server (over LSP, as VS Code runs it) and
check-jsonschema. The fixture `editor/mistakes.yaml` marks each typical mistake; every mistake about a name or a
type must be flagged by the schema alone, and nothing else.

yaml-language-server comes from npm: `.ci/run` installs the pinned version into `.ci/node_modules` (CI fails, not
skips, when it is missing).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kspec.lang import loader, schema

sys.path.insert(0, str(Path(__file__).parent))
from lsp_client import LanguageServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent / "editor"
MISTAKES = HERE / "mistakes.yaml"
COMPLETE_TEXT = """kspec: 1
name: complete
model:
  inputs: {x: {shape: [8, 8, 1]}}
  layers:
    - type: Conv2D
      filters: 3
      
    - type: Dense
      
    - 
train:
  optimizer: 
  loss: mse
"""  # the blank lines are indented: the cursor sits inside the entry above
SCHEMA_FILE = ROOT / schema.DEFAULT_PATH


def _marked(tag: str) -> set[int]:
    lines = MISTAKES.read_text(encoding="utf-8").splitlines()
    return {i for i, line in enumerate(lines, 1) if re.search(rf"\s# {tag}: ", line) and not line.startswith("#")}


SCHEMA_MISTAKES = _marked("E")
SPEC_MISTAKES = _marked("V")


def _server_command() -> list[str]:
    local = ROOT / ".ci" / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
    node = shutil.which("node")
    if local.is_file() and node:
        return [node, str(local), "--stdio"]
    found = os.environ.get("KSPEC_YAML_LANGUAGE_SERVER") or shutil.which("yaml-language-server")
    if found:
        return [found, "--stdio"]
    message = "yaml-language-server is not installed (`.ci/run` installs it: npm install --prefix .ci)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[LanguageServer, float]]:
    settings = {
        "yaml": {
            "validate": True,
            "hover": True,
            "completion": True,
            "schemaStore": {"enable": False},
            "schemas": {SCHEMA_FILE.as_uri(): ["*.yaml"]},
        }
    }
    started = time.perf_counter()
    ls = LanguageServer(_server_command(), settings)
    try:
        ls.initialize(HERE)
        ls.open(MISTAKES)
        first = time.perf_counter() - started
        size = SCHEMA_FILE.stat().st_size / 1e6
        print(f"\nyaml-language-server: first diagnostics {first:.2f} s after start (schema {size:.1f} MB)")
        yield ls, first
    finally:
        ls.close()


def test_fixture_marks_mistakes() -> None:
    assert len(SCHEMA_MISTAKES) >= 15 and SPEC_MISTAKES


def test_language_server_flags_every_name_and_type_mistake(server: tuple[LanguageServer, float]) -> None:
    ls, _ = server
    diagnostics = ls.open(MISTAKES)
    flagged = {d["range"]["start"]["line"] + 1 for d in diagnostics}
    total = len(SCHEMA_MISTAKES | SPEC_MISTAKES)
    print(f"\nyaml-language-server flags {len(flagged & SCHEMA_MISTAKES)} of {total} mistakes")
    assert SCHEMA_MISTAKES - flagged == set(), [d["message"][:80] for d in diagnostics]
    assert flagged - SCHEMA_MISTAKES == set(), "flags a line without a name or type mistake"


@pytest.fixture(scope="module")
def complete_doc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("editor") / "complete.yaml"
    path.write_text(COMPLETE_TEXT, encoding="utf-8")
    return path


def _completion_position(marker: str, below: int = 2) -> tuple[int, int]:
    lines = COMPLETE_TEXT.splitlines()
    line = next(i for i, text in enumerate(lines) if text.rstrip() == marker.rstrip())
    return line + below, len(marker) - len(marker.lstrip()) + 2


def test_completion_offers_exactly_the_layers_arguments(
    server: tuple[LanguageServer, float], complete_doc: Path
) -> None:
    ls, _ = server
    ls.open(complete_doc)
    conv = set(ls.completion_labels(complete_doc, *_completion_position("    - type: Conv2D")))
    assert {"kernel_size", "strides", "padding", "activation"} <= conv
    assert not {"output_padding", "units", "block", "op", "filters"} & conv  # filters: already given
    dense = set(ls.completion_labels(complete_doc, *_completion_position("    - type: Dense", below=1)))
    assert {"units", "use_bias", "activation"} <= dense
    assert not {"kernel_size", "include_top", "growth_rate", "blocks"} & dense
    fresh = set(ls.completion_labels(complete_doc, *_completion_position("    - ", below=0)))
    assert {"type", "block", "use", "model", "op"} <= fresh and "units" not in fresh


def test_completion_offers_names(server: tuple[LanguageServer, float], complete_doc: Path) -> None:
    ls, _ = server
    ls.open(complete_doc)
    lines = COMPLETE_TEXT.splitlines()
    row = lines.index("  optimizer: ")
    optimizers = set(ls.completion_labels(complete_doc, row, len(lines[row])))
    assert {"adam", "rmsprop", "SGD"} <= optimizers and "rmsprob" not in optimizers


def test_hover_on_a_layer_type_shows_its_documentation(
    server: tuple[LanguageServer, float], complete_doc: Path
) -> None:
    ls, _ = server
    ls.open(complete_doc)
    lines = COMPLETE_TEXT.splitlines()
    row = lines.index("    - type: Conv2D")
    text = ls.hover_text(complete_doc, row, lines[row].index("Conv2D") + 2)
    assert "2D convolution layer" in text  # Conv2D's own docstring
    assert "Allowed Values" not in text and "DenseNet121" not in text


def _check_jsonschema(*files: Path) -> dict[str, Any]:
    exe = shutil.which("check-jsonschema")
    assert exe, "check-jsonschema is in the dev extra"
    out = subprocess.run([exe, "--schemafile", str(SCHEMA_FILE), "-o", "json", *map(str, files)],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    return dict(json.loads(out.stdout))


def _json_path(text: str) -> tuple[str | int, ...]:
    return tuple(int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.$\[\]]+", text))


def test_check_jsonschema_flags_every_name_and_type_mistake_where_it_is() -> None:
    result = _check_jsonschema(MISTAKES)
    positions = loader.read(MISTAKES).positions
    lines = set()
    for err in result["errors"]:
        path = _json_path(err["path"])
        unexpected = re.search(r"\('(\w+)' was unexpected\)", err["message"])
        if unexpected:
            path = (*path, unexpected.group(1))
        lines.add(positions[path][0])
        assert "is not valid under any of the given schemas" not in err["message"] or err["has_sub_errors"]
    assert lines == SCHEMA_MISTAKES


def test_check_jsonschema_accepts_every_spec() -> None:
    result = _check_jsonschema(*sorted((ROOT / "specs").rglob("*.yaml")))
    assert result["status"] == "ok", result["errors"][:3]
