"""Stage render: how diagram nodes read and look (family colours, hyperparameter and shape text, HTML labels, legend).

Pure formatting over `graph.Node`s; `diagram_builder` puts the pieces together. No keras.
"""

from __future__ import annotations

import re
from collections.abc import Container
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from kspec.analysis.graph import Node

if TYPE_CHECKING:
    from kspec.diagram.options import DrawOptions

FONT = "Helvetica"
#: Fill colour per layer family (catalog families), in legend order.
COLORS = {
    "input": "#fff3b0",
    "dense": "#9ecae1",
    "conv": "#b3de69",
    "pooling": "#d9f0a3",
    "recurrent": "#c2a5cf",
    "attention": "#fb9a99",
    "embedding": "#ffd92f",
    "merge": "#fdb462",
    "normalization": "#bebada",
    "regularization": "#f6e8c3",
    "activation": "#8dd3c7",
    "reshaping": "#fccde5",
    "preprocessing": "#dfc27d",
    "wrapper": "#c7eae5",
    "core": "#f2f2f2",
    "other": "#ffffff",
    "application": "#cbc9e2",
    "model": "#dadaeb",
    "op": "#f7f7f7",
}
#: How a hyperparameter is shown, keyed by argument name (not by layer): a format, or for booleans the text when true.
HYPERPARAMS: dict[str, str] = {
    "units": "{} units",
    "filters": "{} filters",
    "kernel_size": "{}",
    "strides": "stride {}",
    "padding": "{}",
    "dilation_rate": "dilation {}",
    "depth_multiplier": "depth ×{}",
    "groups": "groups {}",
    "pool_size": "pool {}",
    "size": "×{}",
    "interpolation": "{}",
    "cropping": "crop {}",
    "target_shape": "to {}",
    "dims": "dims {}",
    "n": "×{}",
    "input_dim": "vocab {}",
    "output_dim": "dim {}",
    "num_heads": "{} heads",
    "key_dim": "key {}",
    "axis": "axis {}",
    "axes": "axes {}",
    "rate": "rate {}",
    "dropout": "dropout {}",
    "recurrent_dropout": "rec. dropout {}",
    "stddev": "stddev {}",
    "return_sequences": "sequences",
    "return_state": "state",
    "mask_zero": "mask 0",
    "scale": "scale {}",
    "offset": "offset {}",
    "factor": "factor {}",
    "height": "height {}",
    "width": "width {}",
    "weights": "{} weights",
    "activation": "{}",
}
_SPATIAL = ("kernel_size", "strides", "pool_size", "dilation_rate")
_PLURALS = {"1 units": "1 unit", "1 filters": "1 filter", "1 heads": "1 head"}
CLUSTER_GREYS = ("#f2f2f2", "#f9f9f9")
_SPECIAL = re.compile("[&<>\"']")  # what `escape` replaces
SKIP_COLOR = "#7b3294"


_ORDER = {key: i for i, key in enumerate(HYPERPARAMS)}


@lru_cache(maxsize=1024)
def family(layer_type: str) -> str:
    """The catalog's family of a layer type (`conv`, `merge`, ...), used for its colour; `other` when unknown."""
    from kspec.catalog import layer_info

    info = layer_info(layer_type)
    return info.family if info is not None and info.family in COLORS else "other"


def _value(key: str, value: Any, layer_type: str) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "…"))
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value) and key != "axes":
            return "×".join(map(str, value))
        return "(" + ", ".join(_value(key, v, layer_type) for v in value) + ")"
    rank = re.search(r"([123])D", layer_type)
    if key in _SPATIAL and isinstance(value, int) and rank:
        return "×".join([str(value)] * int(rank.group(1)))
    return str(value)


def hyperparams(node: Node, layer_type: str, options: DrawOptions) -> list[str]:
    """The arguments of `node` worth showing, formatted (`32 filters`, `3×3`, `same`, `relu`), in table order."""
    args = node.args
    if node.kind == "op":
        return [f"{k}={_value(k, v, '')}" for k, v in args.items()]
    out = []
    for key in sorted([k for k in args if k in _ORDER], key=_ORDER.__getitem__):  # the table's order
        value, fmt = args[key], HYPERPARAMS[key]
        if value is None or (key == "activation" and (not options.show_layer_activations or value == "linear")):
            continue
        if isinstance(value, bool):
            if value and "{}" not in fmt:
                out.append(fmt)
            continue
        if key == "size" and isinstance(value, list | tuple) and len(set(value)) == 1:
            value = value[0]
        text = _value(key, value, layer_type)
        text = f"pad {text}" if key == "padding" and not isinstance(value, str) else fmt.format(text)
        text = f"kernel {text}" if key == "kernel_size" and "×" not in text else text
        out.append(_PLURALS.get(text, text))
    out += ["no bias"] if args.get("use_bias") is False else []
    out += ["no top"] if args.get("include_top") is False else []
    if args.get("data_format") == "channels_first":
        out.append("channels_first")
    return out


def format_shape(shape: Any, *, batch: bool = False) -> str:
    """`[None, 32, 32, 3]` -> `32×32×3` (the batch axis dropped when `batch`); several outputs joined by `, `."""
    if shape is None:
        return "?"
    if isinstance(shape, list | tuple) and shape and all(isinstance(s, list | tuple) for s in shape):
        return ", ".join(format_shape(s, batch=batch) for s in shape)
    dims = list(shape)[1:] if batch else list(shape)
    return "×".join("?" if d is None else str(d) for d in dims) if dims else "scalar"


def escape(text: str) -> str:
    """`html.escape(text)`: `&`, `<`, `>` and both quotes as character references (without importing `html`, whose
    table of entities is most of its import)."""
    if _SPECIAL.search(text) is None:  # most names and values: nothing to replace
        return text
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def html_table(rows: list[str], align: str = "CENTER") -> str:
    """A borderless HTML-like label, one row per non-empty string."""
    cells = "".join(f'<TR><TD ALIGN="{align}">{row}</TD></TR>' for row in rows if row)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>'


def small(text: str, color: str = "#333333") -> str:
    """`text` in the small font of details and footers."""
    return f'<FONT POINT-SIZE="9" COLOR="{color}">{text}</FONT>'


def wrap(parts: list[str], width: int = 34) -> list[str]:
    """Join `parts` with ` · ` into lines of about `width` characters."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(part) + 3 <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return lines


def format_count(n: int) -> str:
    """A parameter count with thousands separators (`1,234`)."""
    return f"{n:,}"


def legend(used: Container[str]) -> str:
    """The colour legend of the families and markers in `used`, as an HTML label of five columns."""
    items = [(f'BGCOLOR="{COLORS[fam]}"', fam) for fam in COLORS if fam in used]
    marks = {
        "output": ('BGCOLOR="#ffffff"', "output: double border"),
        "frozen": ('BGCOLOR="#e8e8e8"', "frozen (trainable: false): grey, dashed"),
        "skip": (f'BGCOLOR="{SKIP_COLOR}"', "skip connection"),
        "repeat": ('BGCOLOR="#f2f2f2"', "×N: N identical blocks drawn once"),
    }
    items += [mark for key, mark in marks.items() if key in used]
    cells = [
        f'<TD {swatch} WIDTH="14" HEIGHT="12" FIXEDSIZE="TRUE" BORDER="1"></TD><TD ALIGN="LEFT">{escape(text)}   </TD>'
        for swatch, text in items
    ]
    height = -(-len(cells) // 5)  # five columns, filled column by column like a plot legend
    rows = ["".join(cells[r::height]) for r in range(height)]
    table = "".join(f"<TR>{row}</TR>" for row in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="1">{table}</TABLE>>'


def footer(description: str | None, used: Container[str] | None) -> str:
    """The label under the diagram: the spec's description (multi-model diagrams), then the legend of `used`."""
    if not description:
        return legend(used or ())
    text = f'<TR><TD ALIGN="CENTER"><I>{escape(description)}</I></TD></TR>'
    if used is not None:
        text += f"<TR><TD>{legend(used)[1:-1]}</TD></TR>"
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="1">{text}</TABLE>>'


def skip_source(src: Node, dst: Node) -> str:
    """How a skip connection's source is named at its merge: the block instance it leaves, else its layer."""
    return src.block[0] if src.block and src.block[:1] != dst.block[:1] else short_name(src)


def short_name(node: Node) -> str:
    """The node name without its block-instance prefix (the cluster label gives that)."""
    prefix = "_".join(node.block) + "_"
    return node.name[len(prefix) :] if node.block and node.name.startswith(prefix) else node.name
