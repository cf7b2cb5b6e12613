"""Stage render: the HTML-like label and the look of each diagram node (what `style` formats, put together); no keras.

A deep stack repeats the same few layers thousands of times, so the parts of a label that depend only on a layer's
type and arguments (its hyperparameter rows), on a shape (its text) or on a footer's text are made once and reused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kspec.analysis.graph import ModelGraph, Node, Resolved
from kspec.diagram.lines import attrs_text
from kspec.diagram.structure import Collapsed
from kspec.diagram.style import (
    COLORS,
    SKIP_COLOR,
    escape,
    family,
    format_count,
    format_shape,
    hyperparams,
    small,
    wrap,
)

if TYPE_CHECKING:
    from kspec.analysis.shapes import NodeShape, ShapeReport
    from kspec.diagram.options import DrawOptions

_OPEN = '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
_CLOSE = "</TABLE>>"
#: what a node's attributes depend on: its kind, family, whether it is a model output and whether it is frozen
Look = tuple[str, str, bool, bool]


def _cell(row: str) -> str:
    """One centred row of `style.html_table`."""
    return f'<TR><TD ALIGN="CENTER">{row}</TD></TR>'


class Labels:
    """Labels and looks of the nodes of one diagram; `used` collects the families and markers drawn (the legend)."""

    def __init__(
        self, resolved: Resolved, options: DrawOptions, shapes: ShapeReport | None, deep: Mapping[str, Any]
    ) -> None:
        self.r, self.o, self.shapes, self.deep = resolved, options, shapes, deep
        self.used: dict[str, None] = {}
        self._details: dict[tuple[str, str, str], str] = {}  # (kind, type, repr of the arguments) -> rows
        self._rows: dict[tuple[str, str], str] = {}  # (text, colour) -> one small row
        self._shape_texts: dict[str, str] = {}  # repr of a static shape -> its text
        self._reports: dict[str, Mapping[str, NodeShape]] = {}  # model -> its nodes' static shapes
        self._heads: dict[tuple[str | None, str, int], str] = {}  # (short name, type, times) -> the table's start
        self._prefixes: dict[tuple[str, ...], str] = {}  # block instance -> its layers' name prefix
        self._looks: dict[tuple[Look, str], str] = {}  # (look, group) -> attribute text

    def node(
        self, graph: ModelGraph, node: Node, inherited: bool, col: Collapsed, is_out: bool, skip: str | None
    ) -> tuple[str, Look]:
        """The label of `node` (an HTML-like table) and what its look depends on (see `look`)."""
        o, kind = self.o, node.kind
        frozen = inherited or node.args.get("trainable", True) is False  # `not node.trainable`
        if kind == "layer" or kind == "op":
            layer_type = node.type if kind == "layer" else f"ops.{node.type}"
            fam = family(layer_type) if kind == "layer" else "op"
            details = self._layer_details(node) if o.show_hyperparams else ""
        elif kind == "use":
            orig = self.r.layers.get(node.layer)
            layer_type = orig.type if orig else node.type
            frozen = frozen or (orig is not None and not orig.trainable)
            share = "shared layer" if node.name == node.layer else f"shares {node.layer}"
            fam = family(layer_type)
            details = self._details_html([share, *(hyperparams(orig, layer_type, o) if orig else [])])
        elif kind == "model":
            layer_type, fam = "Model", "model"
            details = self._details_html(["nested model" if node.name == node.type else f"model {node.type}"])
        else:
            layer_type, fam, details = node.type, "input", ""
        if not frozen:  # a frozen node is drawn grey: its family's colour is not in the diagram
            self.used[fam] = None
        short: str | None = None
        if o.show_layer_names:  # `style.short_name`, each block instance's prefix made once
            short = node.name
            if node.block:
                prefix = self._prefixes.get(node.block)
                if prefix is None:
                    prefix = self._prefixes[node.block] = "_".join(node.block) + "_"
                short = short[len(prefix) :] if short.startswith(prefix) else short
        key = (short, layer_type, col.count.get(node.name, 1) if col.count else 1)
        head = self._heads.get(key)
        if head is None:
            short, _, times = key
            text = f"<B>{escape(layer_type)}</B>" if short is None else f"<B>{escape(short)}</B> ({escape(layer_type)})"
            head = self._heads[key] = _OPEN + _cell(text + (f" ×{times}" if times > 1 else ""))
        label = head + (details if o.show_hyperparams else "")
        if skip is not None:
            label += self._row(f"skip from {skip}", SKIP_COLOR)
        foot = self._foot(graph.name, node, col.members.get(node.name))
        if frozen and not inherited:
            foot.append("frozen")
        elif o.show_trainable and not frozen and kind != "input":
            foot.append("trainable")
        if foot:
            label += self._row(" · ".join(foot), "#000000")
        if is_out:
            self.used["output"] = None
        if frozen:
            self.used["frozen"] = None
        return label + _CLOSE, (kind, fam, is_out, frozen)

    def look(self, key: Look, group: str) -> str:
        """` k=v ...`: a node's attributes other than its label and tooltip, sorted and quoted (made once per look)."""
        found = self._looks.get((key, group))
        if found is None:
            kind, fam, is_out, frozen = key
            style = [("shape", "box3d"), ("style", "filled")] if kind == "model" else []
            style.append(("fillcolor", COLORS[fam]))
            if kind == "input":
                style.append(("penwidth", "2.2"))
            if is_out:
                style.append(("peripheries", "2"))
            if frozen:
                look = dict(style)
                look.update(style=look.get("style", "rounded,filled") + ",dashed", fillcolor="#e8e8e8",
                            fontcolor="#595959", color="#8c8c8c")  # fmt: skip
                style = list(look.items())
            found = self._looks[key, group] = attrs_text((*style, ("group", group)))
        return found

    def _layer_details(self, node: Node) -> str:
        """The hyperparameter rows of a layer or op node, made once per type and arguments."""
        key = (node.kind, node.type, repr(node.args))
        found = self._details.get(key)
        if found is None:
            found = self._details[key] = self._details_html(hyperparams(node, node.type, self.o))
        return found

    def _details_html(self, details: list[str]) -> str:
        return "".join(_cell(small(escape(line))) for line in wrap(details))

    def _row(self, text: str, color: str) -> str:
        found = self._rows.get((text, color))
        if found is None:
            found = self._rows[text, color] = _cell(small(escape(text), color))
        return found

    # -- shapes and parameters --------------------------------------------------------------------------------
    def _foot(self, model: str, node: Node, members: list[str] | None) -> list[str]:
        """The footer's parts: output shape(s), dtype, parameter count (of every member of a collapsed run)."""
        o = self.o
        if members is None:
            info = self._info(model, node)
            first = last = info[0]
            total, frozen = info[1] or 0, info[2] or 0
        else:
            nodes = self.r.models[model].nodes
            infos = [self._info(model, nodes[m]) for m in members]
            first, last = infos[0][0], infos[-1][0]
            total = sum(p for _, p, _ in infos if p is not None)
            frozen = sum(f or 0 for _, _, f in infos)
        out = []
        if o.show_shapes and first is not None:
            out.append("→ " + (first if first == last else f"{first} … {last}"))
        if o.show_dtype and node.kind in ("input", "layer"):
            out.append(str(node.args.get("dtype") or "float32"))
        if o.show_params and total and node.kind != "input":
            note = f" ({format_count(frozen)} non-trainable)" if frozen else ""
            note = " (non-trainable)" if frozen and frozen == total else note
            out.append(f"{format_count(total)} params{note}")
        return out

    def _info(self, model: str, node: Node) -> tuple[str | None, int | None, int | None]:
        """Output shape text, parameter count and non-trainable count of `node` in `model` (None: unknown)."""
        shape: str | None = format_shape(node.args.get("shape")) if node.kind == "input" else None
        params = frozen = None
        nodes = self._reports.get(model)
        if nodes is None:
            report = self.shapes.models.get(model) if self.shapes is not None else None
            nodes = self._reports[model] = report.nodes if report is not None else {}
        found = nodes.get(node.name)
        if found is not None:
            if found.checked:
                key = repr(found.shape)  # (8,) and (8.0,) are equal keys but read differently
                text = self._shape_texts.get(key)
                if text is None:
                    text = self._shape_texts[key] = format_shape(found.shape, batch=True)
            else:
                text = "? (unchecked)"
            shape, params, frozen = text or shape, found.params, found.non_trainable
        if self.deep and node.name in self.deep:
            shape = format_shape(self.deep[node.name], batch=True)
        return shape, params, frozen

    def params_of(self, model: str, names: list[str]) -> int:
        """The parameters of the nodes `names` of `model` together; 0 when any is unknown (or there are none)."""
        report = self.shapes.models.get(model) if self.shapes is not None else None
        if report is None or not names:
            return 0
        total = 0
        for name in names:
            found = report.nodes.get(name)
            if found is None or found.params is None:
                return 0
            total += found.params
        return total

    def model_params(self, model: str) -> tuple[int | None, int]:
        """A model's parameter count (None: unknown) and how many of them are non-trainable."""
        found = self.shapes.models.get(model) if self.shapes is not None else None
        return (None, 0) if found is None else (found.params, found.non_trainable or 0)
