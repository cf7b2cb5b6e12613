"""A longer, random run of the property tests: `python -m tools.fuzz [EXAMPLES]` (default 5000 per property)."""

from __future__ import annotations

import os
import subprocess
import sys


def main() -> int:
    examples = sys.argv[1] if len(sys.argv) > 1 else "5000"
    env = {**os.environ, "KSPEC_FUZZ_EXAMPLES": examples}
    return subprocess.call([sys.executable, "-m", "pytest", "-q", "tests/test_properties.py"], env=env)


if __name__ == "__main__":
    raise SystemExit(main())
