"""The public surface: everything in `kspec.__all__` exists, and importing kspec stays light."""

from __future__ import annotations

import subprocess
import sys

import kspec


def test_all_resolves_and_is_public() -> None:
    for name in kspec.__all__:
        assert hasattr(kspec, name), name
        assert not name.startswith("_") or name == "__version__"


def test_import_kspec_is_light() -> None:
    heavy = "('keras', 'tensorflow', 'numpy', 'pydantic')"
    code = f"import sys, kspec; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
