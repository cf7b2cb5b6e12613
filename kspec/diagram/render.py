"""Stage render: DOT text -> .dot/.svg/.png/.pdf via Graphviz's `dot` or the pip-installed `graphviz-pure`; no keras."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

#: Output formats by file suffix; `.dot`/`.gv` are written as text, the others need a renderer.
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".jpg": "jpg", ".jpeg": "jpg"}
#: What each renderer can produce (graphviz-pure 0.2 has no PDF or other cairo back end).
_SUPPORTS = {"dot": frozenset(FORMATS.values()), "graphviz-pure": frozenset({"svg", "png", "jpg"})}
_SYSTEM = (
    "`apt-get install graphviz`, `brew install graphviz`, `conda install graphviz` or https://graphviz.org/download/"
)


#: Above this many boxes, laying a diagram out takes seconds (Graphviz's `dot`: about 1 s per 1,000 boxes here;
#: writing the DOT text of 5,000 layers takes a fraction of a second), so `render` says so before it starts.
SLOW_BOXES = 2_000


def slow_note(dot: str, renderer: str) -> str | None:
    """What to tell the user before `renderer` lays out `dot`, when that takes a while (None: nothing to say)."""
    boxes = dot.count(" [label=")
    if boxes <= SLOW_BOXES:
        return None
    return (
        f"{boxes:,} boxes to lay out; {renderer} needs about a second per 1,000, so this takes a while. "
        "A .dot output is written at once; --collapse draws repeated blocks once, --model draws one model"
    )


class RendererMissing(RuntimeError):
    """No Graphviz renderer that can produce the requested format is installed; the DOT file was written instead."""


class RenderError(RuntimeError):
    """The renderer ran but failed (its message is included)."""


@dataclass(frozen=True)
class Renderer:
    """An executable that takes `dot`'s command line: its kind (`dot` or `graphviz-pure`) and its path."""

    kind: str
    path: str

    def supports(self, fmt: str) -> bool:
        """Whether this renderer can write format `fmt` (e.g. `svg`, `pdf`)."""
        return fmt in _SUPPORTS.get(self.kind, frozenset())


def renderers() -> list[Renderer]:
    """Installed renderers, best first: Graphviz's `dot` on PATH, then `graphviz-pure` (beside Python, or on PATH)."""
    found = []
    system = shutil.which("dot")
    if system:
        found.append(Renderer("dot", system))
    exe = "graphviz-pure.exe" if os.name == "nt" else "graphviz-pure"
    beside = Path(sys.executable).parent / exe
    pure = str(beside) if beside.is_file() and os.access(beside, os.X_OK) else shutil.which("graphviz-pure")
    if pure:
        found.append(Renderer("graphviz-pure", pure))
    return found


def choose(fmt: str) -> Renderer | None:
    """The first installed renderer that supports `fmt`, or None."""
    return next((r for r in renderers() if r.supports(fmt)), None)


def output_format(out: Path) -> str:
    """`dot` for `.dot`/`.gv`, else the renderer format of `out`'s suffix; ValueError for anything else."""
    suffix = out.suffix.lower()
    if suffix in (".dot", ".gv"):
        return "dot"
    if suffix not in FORMATS:
        raise ValueError(f"cannot draw to '{out.name}': expected a .svg, .png, .pdf, .jpg or .dot file")
    return FORMATS[suffix]


def render(dot: str, out: Path, *, timeout: float = 120.0) -> Path:
    """Write `dot` to `out` in the format its suffix names.

    `.dot`/`.gv` are written as text. Other formats are rendered by the first installed renderer that supports them
    (see `renderers`); the DOT text goes in on stdin, so nothing else is written.

    Args:
        dot: DOT source text.
        out: the file to write; its suffix picks the format.
        timeout: seconds before the renderer is stopped.

    Returns:
        `out`.

    Raises:
        RendererMissing: no installed renderer supports the format; the DOT text was written to `out` with a
            `.dot` suffix, and the message says how to install one.
        RenderError: the renderer failed.
        ValueError: `out` has an unknown suffix.
    """
    fmt = output_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        out.write_text(dot, encoding="utf-8")
        return out
    renderer = choose(fmt)
    if renderer is None:
        dot_file = out.with_suffix(".dot")
        dot_file.write_text(dot, encoding="utf-8")
        have = [r.kind for r in renderers()]
        if have:
            why = (
                f"{' and '.join(have)} cannot write {fmt.upper()}; Graphviz's `dot` can ({_SYSTEM}), "
                "or draw to .svg or .png instead"
            )
        else:
            why = (
                "no Graphviz renderer is installed: `pip install graphviz-pure` renders SVG and PNG with no "
                f"system package; Graphviz's `dot` renders every format, PDF included ({_SYSTEM})"
            )
        raise RendererMissing(
            f"cannot render {out}: {why}. The DOT text was written to {dot_file}; once a renderer is installed: "
            f"`dot -T{fmt} {dot_file} -o {out}`"
        )
    note = slow_note(dot, renderer.kind)
    if note:
        print(f"kspec: {note}", file=sys.stderr)
    import subprocess  # only to render: a .dot output does not need it

    cmd = [renderer.path, f"-T{fmt}", "-o", str(out)]
    try:
        proc = subprocess.run(cmd, input=dot.encode("utf-8"), capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"{renderer.kind} did not finish rendering {out} within {timeout:g} s") from exc
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip() or f"exit status {proc.returncode}"
        raise RenderError(f"{renderer.kind} failed to render {out}: {message}")
    return out
