"""The prebuilt validator of `Spec` (`kspec/lang/spec_core_schema.pickle`): current, used, and refused when stale."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from kspec.lang import prebuilt

ROOT = Path(__file__).resolve().parents[2]


def _normal(value: Any) -> Any:
    """The schema with Pydantic's per-process class ids taken out of its internal reference names."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_normal(v) for v in value)
    if isinstance(value, str):
        return re.sub(r":\d+$", "", value)
    return value


def test_the_saved_schema_is_the_one_pydantic_makes_now() -> None:
    saved = prebuilt.read()
    assert saved is not None, "kspec/lang/spec_core_schema.pickle is missing or stale: run `kspec schema`"
    schema, config = prebuilt.fresh()
    assert _normal(saved[0]) == _normal(schema), "the prebuilt schema is out of date: run `kspec schema`"
    assert saved[1] == config


def test_a_new_process_takes_the_validator_from_the_file() -> None:
    code = (
        "import kspec.lang.spec as s; before = s.Spec.__pydantic_complete__; "
        "import kspec.lang.prebuilt; print(before, s.Spec.__pydantic_complete__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.split() == ["False", "True"]  # not made from the annotations, yet ready to validate


def test_a_stale_or_damaged_file_is_not_used(tmp_path: Path) -> None:
    schema, config = prebuilt.fresh()
    stale = tmp_path / "stale.pickle"
    saved = {"key": "other sources", "modules": ["kspec.lang.spec"], "schema": schema, "config": config}
    stale.write_bytes(pickle.dumps(saved))
    damaged = tmp_path / "damaged.pickle"
    damaged.write_bytes(b"not a pickle")
    assert prebuilt.read(stale) is None
    assert prebuilt.read(damaged) is None
    assert prebuilt.read(tmp_path / "missing.pickle") is None


def test_errors_are_the_same_with_the_prebuilt_validator(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "kspec: 1\nname: bad\nmodel:\n  inputs: {x: {shape: [4]}}\n  layers:\n    - {type: Dense, units: 2}\n"
        "train: {epochs: -1, optimizer: adam, loss: mse, colour: red}\ndata: {source: mnst}\n",
        encoding="utf-8",
    )
    code = (
        "import sys, json, kspec, kspec.lang.prebuilt as p\n"
        "if sys.argv[1] == 'fresh': p.fresh()\n"
        "try: kspec.load(sys.argv[2])\n"
        "except kspec.SpecErrors as e:\n"
        "    print(json.dumps([[x.code, x.message, list(map(str, x.path))] for x in e.errors]))"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code, how, str(spec)], capture_output=True, text=True, cwd=ROOT)
        for how in ("prebuilt", "fresh")
    ]
    assert runs[0].stdout.strip() and runs[0].stdout == runs[1].stdout, (runs[0].stderr, runs[1].stderr)
