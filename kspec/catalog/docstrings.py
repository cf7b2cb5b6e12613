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


#: how Keras documents an argument it opens as a file or folder ("a string path to a text file", "the path to the
#: weights file", "path of directory", "filepath", "Filename of the CSV file")
_PATH_DOC = re.compile(r"\bpath (to|of)\b|\bstring path\b|\bfile ?path\b|\bfile ?name of\b", re.I)
_FOLDER_DOC = re.compile(r"\bdirector(y|ies)\b|\bfolder\b|\bSavedModel\b")


def doc_args(doc: str | None) -> dict[str, str]:
    """Parameter name -> first sentence of its entry in the Google-style `Args:` section of `doc`."""
    return {name: first_sentence(text) for name, text in _arg_texts(doc).items() if text.strip()}


def path_args(doc: str | None) -> dict[str, str]:
    """Parameters that `doc` says Keras opens as a path -> `file` or `folder` (from the whole `Args:` entry).

    Derived from the documentation, not a hand list: a new Keras argument documented as a path becomes path-typed
    when the catalogue is regenerated (and kspec then confines it to the spec's folder).
    """
    out = {}
    for name, text in _arg_texts(doc).items():
        plain = re.sub(r"`[^`]*`", "`", text)  # what it says of other arguments (`filepath`) does not count
        for sentence in _SENTENCE_END.split(plain):
            if _PATH_DOC.search(sentence):
                out[name] = "folder" if _FOLDER_DOC.search(sentence) else "file"
                break
    return out


def _arg_texts(doc: str | None) -> dict[str, str]:
    """Parameter name -> the whole text of its entry in the Google-style `Args:` section of `doc`."""
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
    return out
