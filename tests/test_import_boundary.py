"""Architecture rule as a test: validate, draw to DOT and schema never import Keras or TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str) -> set[str]:
    script = textwrap.dedent(code) + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_validate_all_specs_imports_no_keras() -> None:
    mods = _modules_after("""
        from kspec.cli import main
        main(['validate', 'specs'])
    """)
    assert "keras" not in mods and "tensorflow" not in mods
    assert "numpy" not in mods


def test_draw_and_schema_import_no_keras(tmp_path: Path) -> None:
    spec = sorted((ROOT / "specs").glob("*.yaml"))[0]
    mods = _modules_after(f"""
        from kspec.cli import main
        main(['draw', {str(spec)!r}, '-o', {str(tmp_path / "x.dot")!r}])
        from kspec.lang import schema
        schema.generate()
    """)
    assert "keras" not in mods and "tensorflow" not in mods
