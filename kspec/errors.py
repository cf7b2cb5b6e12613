"""Diagnostics for every stage: one error type that carries a spec path and, once located, a source position.

Imports only the standard library.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

PathItem = str | int
Path = tuple[PathItem, ...]

#: Every diagnostic code kspec emits, with a one-line description. Codes are never renamed once released.
CODES: dict[str, str] = {
    "file-not-found": "a spec file or folder named on the command line does not exist",
    "yaml-syntax": "the file is not valid YAML",
    "yaml-unsafe": "the YAML uses a construct kspec refuses (Python tags, custom tags)",
    "yaml-limits": "the YAML exceeds a size, depth or alias bound",
    "duplicate-key": "a mapping names the same key twice",
    "missing-field": "a required field of the document is absent",
    "unknown-field": "the document has a field kspec does not know",
    "wrong-type": "a field has a value of the wrong type or out of range",
    "bad-version": "the `kspec:` format version is not supported",
    "unknown-variable": "`${name}` names no variable or block parameter",
    "bad-override": "a `--set path=value` override does not apply to the spec",
    "unused-variable": "a `vars:` entry that nothing in the spec refers to (warning)",
    "unknown-layer": "a layer type is neither a Keras layer nor a registered plugin",
    "unsafe-layer": "a layer that runs arbitrary code (Lambda, TFSMLayer, ...) is refused",
    "unknown-argument": "a layer or object has no such keyword argument",
    "missing-argument": "a required keyword argument is absent",
    "bad-value": "an argument's value is not one Keras accepts",
    "unknown-object": "an optimizer, loss, metric, initializer, ... name Keras does not know",
    "unknown-op": "an `op:` entry names a function outside the keras.ops allow-list",
    "unknown-block": "a `block:` entry names no block",
    "unknown-model": "a `model:` entry or output names no model of the spec",
    "unknown-input": "an `inputs:` entry names no layer, input or block output",
    "unknown-output": "an output names no layer of the model",
    "duplicate-name": "two layers, inputs or models share a name",
    "bad-name": "a name is not usable as a Keras layer name",
    "cycle": "layers feed each other in a cycle",
    "no-output": "a model has no output",
    "no-input": "a layer has nothing to take input from",
    "unused-layer": "a layer's output is never used (warning)",
    "shape-mismatch": "a layer cannot accept the shape it receives",
    "unchecked-layer": "static shape inference does not know this layer; `--deep` checks it (note)",
    "budget-exceeded": "the model is larger than the parameter budget (raise it with --max-params)",
    "keras-rejected": "Keras refused the layer while building the model",
    "data-mismatch": "the data's shapes do not match the model's inputs or outputs",
    "data-error": "the data section cannot be loaded",
    "bad-path": "a layer argument Keras opens as a file (a vocabulary, a weights file) is not a path inside the spec's "
    "folder",
    "train-error": "the train section is inconsistent with the model",
    "unknown-path": "a searched path (`search.space`) names nothing in the spec",
    "empty-range": "a searched range (`search.space`) holds no values",
    "bad-search": "the `search:` section does not fit the spec (a value its field refuses, a metric never logged)",
    "weights-error": "the `init:` weights file is missing, outside the spec's folder, or does not fit the model",
    "not-expressible": "`kspec import`: the Keras model uses something the spec language cannot express",
}

#: the `file` of a diagnostic about a value that came from `--set` rather than from the spec file
SET_SOURCE = "<--set>"

Severity = Literal["error", "warning", "note"]


@dataclass
class SpecError(Exception):
    """A problem in a spec, at a path inside the document and (once located) a file position.

    Stages create errors with a path only; `Document.locate` fills in file, line and column.
    """

    message: str
    path: Path = ()
    code: str = "invalid"
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    severity: Severity = "error"
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return render_text(self)

    def __hash__(self) -> int:
        return hash((self.message, self.path, self.code, self.file, self.line, self.column))

    def prefixed(self, prefix: Path) -> SpecError:
        """The same error with `prefix` put in front of its path."""
        return replace(self, path=(*prefix, *self.path))

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["path"] = format_path(self.path)
        return data


def format_path(path: Sequence[PathItem]) -> str:
    """`("model", "layers", 3, "filters")` -> `model.layers[3].filters`."""
    out = ""
    for item in path:
        if isinstance(item, int):
            out += f"[{item}]"
        elif not _PLAIN_KEY.match(str(item)):
            out += f"[{json.dumps(str(item))}]"
        else:
            out += f".{item}" if out else str(item)
    return out


def closest(word: str, choices: Iterable[str], n: int = 1) -> list[str]:
    """Names close to `word`, best first; case-insensitive matches win."""
    pool = list(choices)
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return [lowered[word.lower()]]
    import difflib  # only when a name is wrong

    return difflib.get_close_matches(word, pool, n=n, cutoff=0.6)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A `did you mean 'x'?` hint, or None when nothing is close."""
    match = closest(word, choices)
    return f"did you mean '{match[0]}'?" if match else None


def shorten(value: object, limit: int = 80) -> str:
    """`repr(value)` cut to `limit` characters with control characters escaped, safe to echo in a message."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def name_problem(value: object, limit: int = 64) -> str:
    """Why `value` is not a usable name, pointing at the first offending character (escaped, with its Unicode name).

    Look-alike letters (a Cyrillic `о` in `cоnv1`), zero-width spaces and control characters are invisible or
    indistinguishable when a name is echoed as it is, so the name is shown with every non-ASCII or unprintable
    character escaped, followed by the position and the Unicode name of the first character that is not allowed.
    """
    import unicodedata

    if not isinstance(value, str):
        return f"{shorten(value, 40)} is not a usable name: a name is a string"
    shown = ascii(value[:limit]) + ("..." if len(value) > limit else "")
    if not value:
        return "the name is empty"
    if len(value) > limit:
        return f"{shown} is not a usable name: it is {len(value)} characters long, the limit is {limit}"
    for i, ch in enumerate(value):
        allowed = ch.isascii() and (ch.isalpha() or ch == "_" or (i > 0 and (ch.isdigit() or ch in ".-")))
        if allowed:
            continue
        uname = unicodedata.name(ch, "")
        code = f"U+{ord(ch):04X}" + (f" {uname}" if uname else "")
        if not ch.isascii() and ch.isalpha():
            why = "a non-ASCII letter (it may look like a Latin one)"
        elif not ch.isprintable() or unicodedata.category(ch) in ("Cf", "Zs", "Zl", "Zp"):
            why = "an invisible or control character"
        elif i == 0 and ch.isascii() and (ch.isdigit() or ch in ".-"):
            why = "not allowed as the first character"
        else:
            why = "not allowed in a name"
        return f"{shown} is not a usable name: character {i + 1} is {code}, {why}"
    return f"{shown} is not a usable name"


def _sort_key(err: SpecError) -> tuple[str, int, int, str]:
    return (err.file or "", err.line or 0, err.column or 0, err.code)


def sort_errors(errors: Iterable[SpecError]) -> list[SpecError]:
    """Errors in file order, duplicates dropped."""
    seen: set[tuple[object, ...]] = set()
    out = []
    for err in sorted(errors, key=_sort_key):
        key = (err.file, err.line, err.column, err.path, err.code, err.message)
        if key not in seen:
            seen.add(key)
            out.append(err)
    return out


def render_text(err: SpecError) -> str:
    """`file:line:col: error: message [code]` then `at path` and `hint:` lines (mypy style)."""
    where = ":".join(str(p) for p in (err.file, err.line, err.column) if p is not None)
    head = f"{where}: " if where else ""
    lines = [f"{head}{err.severity}: {err.message} [{err.code}]"]
    if err.path:
        lines.append(f"    at {format_path(err.path)}")
    lines.extend(f"    note: {note}" for note in err.notes)
    if err.hint:
        lines.append(f"    hint: {err.hint}")
    return "\n".join(lines)


def render_github(err: SpecError) -> str:
    """A GitHub Actions workflow command that annotates the line.

    Values are escaped as GitHub's toolkit does (`%`, CR, LF everywhere; also `:` and `,` in properties). A
    diagnostic with no file on disk (`<--set>`) names no file: GitHub shows it on the run, not on a file.
    """
    kind = {"error": "error", "warning": "warning", "note": "notice"}[err.severity]
    on_disk = err.file is not None and not err.file.startswith("<")
    where = (("file", err.file), ("line", err.line), ("col", err.column)) if on_disk else ()
    props = [f"{k}={_escape_property(str(v))}" for k, v in where if v is not None]
    props.append(f"title={_escape_property(f'kspec [{err.code}]')}")
    text = err.message + "".join(f" ({note})" for note in err.notes) + (f" (hint: {err.hint})" if err.hint else "")
    return f"::{kind} {','.join(props)}::{_escape_data(text)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_json(errors: Sequence[SpecError]) -> str:
    return json.dumps([e.to_dict() for e in errors], indent=2)


def is_error(err: SpecError) -> bool:
    return err.severity == "error"


class SpecErrors(Exception):
    """All diagnostics found in one spec; raised when at least one of them is an error."""

    def __init__(self, errors: Sequence[SpecError]) -> None:
        self.errors = sort_errors(errors)
        super().__init__(f"{sum(map(is_error, self.errors))} error(s)")

    def __str__(self) -> str:
        return "\n".join(render_text(e) for e in self.errors)


def raise_all(errors: Iterable[SpecError]) -> list[SpecError]:
    """Raise `SpecErrors` when any diagnostic is an error; else return the warnings and notes."""
    found = list(errors)
    if any(map(is_error, found)):
        raise SpecErrors(found)
    return sort_errors(found)
