"""Reading Keras docstrings for the catalogue: the first sentence of a description and the `Args:` section.

Pure functions of text (tested without Keras); `introspect` uses them when it regenerates `catalog.json`.
"""

from __future__ import annotations

import inspect
import re

_ARGS_HEADER = re.compile(r"^(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^(\s+)\*{0,2}([A-Za-z_]\w*)(?:\s*\([^)]*\))?\s*:\s*(.*)$")
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\bvs)\.(?=\s|$)")
_DOC_LIMIT = 240


def first_sentence(text: str) -> str:
    """The first sentence of `text` with whitespace collapsed, at most `_DOC_LIMIT` characters."""
    text = " ".join(text.split())
    match = _SENTENCE_END.search(text)
    if match:
        text = text[: match.end()]
    return text if len(text) <= _DOC_LIMIT else text[: _DOC_LIMIT - 1].rstrip() + "…"


def doc_args(doc: str | None) -> dict[str, str]:
    """Parameter name -> first sentence of its entry in the Google-style `Args:` section of `doc`."""
    lines = inspect.cleandoc(doc or "").splitlines()
    out: dict[str, str] = {}
    inside, indent, current = False, -1, ""
    for line in lines:
        if _ARGS_HEADER.match(line):
            inside, indent, current = True, -1, ""
            continue
        if not inside or not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        match = _ARG_LINE.match(line)
        if match and indent in (-1, len(match.group(1))):
            indent, current = len(match.group(1)), match.group(2)
            out.setdefault(current, match.group(3))
        elif depth > indent >= 0 and current:
            out[current] += " " + line.strip()
        else:
            inside = False
    return {name: first_sentence(text) for name, text in out.items() if text.strip()}
