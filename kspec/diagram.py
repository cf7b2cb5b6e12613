"""Stage render: resolved model graphs -> deterministic DOT text via graphviz.Digraph (no binary); no keras."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import graphviz

from .graph import ModelGraph, Node, Resolved

if TYPE_CHECKING:
    from .shapes import ShapeReport

_FONT = "Helvetica"
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


@dataclass(frozen=True)
class DrawOptions:
    """What the diagram shows; the plot_model options plus kspec's own.

    Attributes:
        show_shapes: output shape of every node.
        show_dtype: dtype of every node (inputs: their dtype; layers: their `dtype` or float32).
        show_layer_names: the layer name before the class.
        show_layer_activations: the `activation` argument among the hyperparameters.
        show_hyperparams: the arguments that matter (units, filters, kernel, stride, padding, rate, ...).
        show_params: parameter counts of nodes and models.
        show_trainable: say "trainable" or "frozen" on every layer (frozen layers always look frozen).
        expand_nested: draw a nested model's own layers inside it instead of one box.
        collapse: draw a chain of identical blocks or layers once, marked ×N.
        rankdir: TB (top to bottom), LR, BT or RL.
        dpi: resolution of PNG output; None leaves the renderer's default.
        model: draw only this model; None draws every model side by side.
        legend: a colour legend of the families and markers in the diagram.
    """

    show_shapes: bool = True
    show_dtype: bool = False
    show_layer_names: bool = True
    show_layer_activations: bool = True
    show_hyperparams: bool = True
    show_params: bool = True
    show_trainable: bool = False
    expand_nested: bool = False
    collapse: bool = False
    rankdir: str = "TB"
    dpi: int | None = None
    model: str | None = None
    legend: bool = True

    def __post_init__(self) -> None:
        if self.rankdir not in ("TB", "LR", "BT", "RL"):
            raise ValueError(f"rankdir must be TB, LR, BT or RL; received {self.rankdir!r}")


def family(layer_type: str) -> str:
    """The catalog's family of a layer type (`conv`, `merge`, ...), used for its colour; `other` when unknown."""
    from .catalog import layer_info

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
    for key, fmt in HYPERPARAMS.items():
        value = args.get(key)
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


@dataclass
class _Unit:
    """A node, or a block instance, at one nesting level; a run of identical chained units collapses to one."""

    key: str
    nodes: list[Node]
    is_block: bool

    def signature(self, depth: int) -> str:
        return json.dumps(
            [(n.kind, n.type, n.args, len(n.block) - depth) for n in self.nodes], sort_keys=True, default=str
        )


@dataclass
class _Collapsed:
    """Which nodes a collapse hides, what they stand for, and how many times each visible node repeats."""

    alias: dict[str, str] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    clusters: dict[tuple[str, ...], tuple[str, int]] = field(default_factory=dict)

    def find(self, name: str) -> str:
        """The drawn node that stands for `name` (itself when it is drawn)."""
        while name in self.alias:
            name = self.alias[name]
        return name


def collapse_runs(graph: ModelGraph) -> _Collapsed:
    """Find chains of identical block instances (or identical layers) that feed only each other, at every level."""
    result = _Collapsed()
    users = graph.consumers()
    for out in graph.outputs:
        users.setdefault(out, []).append("")

    def chained(a: _Unit, b: _Unit) -> bool:
        inside_a, inside_b = {n.name for n in a.nodes}, {n.name for n in b.nodes}
        feeds = {u for n in b.nodes for u in n.inputs if u not in inside_b}
        used_by = {c for n in a.nodes for c in users.get(n.name, []) if c not in inside_a}
        return bool(feeds) and feeds <= inside_a and used_by <= inside_b

    def level(nodes: list[Node], depth: int) -> None:
        units: dict[str, _Unit] = {}
        for n in nodes:
            key = n.block[depth] if len(n.block) > depth else n.name
            units.setdefault(key, _Unit(key, [], len(n.block) > depth)).nodes.append(n)
        seq = list(units.values())
        i = 0
        while i < len(seq):
            j = i
            while (
                j + 1 < len(seq)
                and seq[j + 1].is_block == seq[i].is_block
                and seq[j + 1].signature(depth) == seq[i].signature(depth)
                and chained(seq[j], seq[j + 1])
            ):
                j += 1
            rep = seq[i]
            for k in range(i + 1, j + 1):
                for shown, hidden in zip(rep.nodes, seq[k].nodes, strict=True):
                    result.alias[hidden.name] = shown.name
                    if not rep.is_block:  # a collapsed block says ×N on its cluster, a collapsed layer on itself
                        result.members.setdefault(shown.name, [shown.name]).append(hidden.name)
                        result.count[shown.name] = j - i + 1
            if rep.is_block:  # the hidden instances need no inner collapse: they are not drawn
                if j > i:
                    result.clusters[rep.nodes[0].block[: depth + 1]] = (seq[j].key, j - i + 1)
                level(rep.nodes, depth + 1)
            i = j + 1

    level(graph.order(), 0)
    return result


def skip_edges(graph: ModelGraph) -> set[tuple[str, str]]:
    """Edges u -> v into a merge where u is also an ancestor of another input of v (residual and U-Net skips)."""
    bits: dict[str, int] = {}
    ancestors: dict[str, int] = {}
    for i, node in enumerate(graph.order()):
        bits[node.name] = 1 << i
        ancestors[node.name] = 0
        for dep in node.inputs:
            ancestors[node.name] |= ancestors.get(dep, 0) | bits.get(dep, 0)
    out = set()
    for node in graph.nodes.values():
        for u in node.inputs:
            if any(w != u and ancestors.get(w, 0) & bits.get(u, 0) for w in node.inputs):
                out.add((u, node.name))
    return out


def draw(
    resolved: Resolved,
    out: Path | None = None,
    *,
    options: DrawOptions | None = None,
    shapes: ShapeReport | None = None,
    deep_shapes: Mapping[str, Any] | None = None,
) -> Path | str:
    """Draw the models of a resolved spec.

    Args:
        resolved: the spec, resolved (`kspec.load`).
        out: file to write (.svg, .png, .pdf, .jpg or .dot); None returns the DOT text.
        options: what to show; defaults to `DrawOptions()`.
        shapes: a `kspec.shapes.ShapeReport` (static shapes and parameter counts), or None to show no shapes.
        deep_shapes: layer name -> output shape from a Keras build, batch axis first (`--deep`); wins over `shapes`.

    Returns:
        The written path, or the DOT text when `out` is None.

    Raises:
        ValueError: `options.model` names no model of the spec.
        kspec.render.RendererMissing: no renderer for the format (the DOT file is written beside `out`).
    """
    text = to_dot(resolved, options or DrawOptions(), shapes=shapes, deep_shapes=deep_shapes)
    if out is None:
        return text
    from .render import render

    return render(text, out)


def to_dot(
    resolved: Resolved,
    options: DrawOptions,
    *,
    shapes: ShapeReport | None = None,
    deep_shapes: Mapping[str, Any] | None = None,
) -> str:
    """The DOT source of the diagram (see `draw`); byte-identical for the same inputs."""
    return _Builder(resolved, options, shapes, deep_shapes).build()


def _html(rows: list[str], align: str = "CENTER") -> str:
    cells = "".join(f'<TR><TD ALIGN="{align}">{row}</TD></TR>' for row in rows if row)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>'


def _small(text: str, color: str = "#333333") -> str:
    return f'<FONT POINT-SIZE="9" COLOR="{color}">{text}</FONT>'


def _wrap(parts: list[str], width: int = 34) -> list[str]:
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(part) + 3 <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return lines


def _quote(name: str) -> str:
    return str(graphviz.quoting.quote(name))


def _count(n: int) -> str:
    return f"{n:,}"


class _Builder:
    """Walks the selected models and emits clusters and nodes, then every edge, then the legend."""

    def __init__(
        self, resolved: Resolved, options: DrawOptions, shapes: ShapeReport | None, deep: Mapping[str, Any] | None
    ) -> None:
        self.r, self.o, self.shapes, self.deep = resolved, options, shapes, deep or {}
        self.used: dict[str, None] = {}  # families and markers drawn, for the legend
        self.edges: list[tuple[str, str, dict[str, str]]] = []
        self.skip_from: dict[str, str] = {}  # merge node -> where its skip connection comes from
        self.via: dict[str, str] = {}  # undrawn id -> id to draw instead (nested model -> its output, inner input)

    def build(self) -> str:
        names = self.r.model_order()
        if self.o.model is not None:
            if self.o.model not in self.r.models:
                from .errors import did_you_mean

                hint = did_you_mean(self.o.model, names) or f"models: {', '.join(names)}"
                raise ValueError(f"no model named '{self.o.model}' in spec '{self.r.spec.name}'; {hint}")
            names = [self.o.model]
        root = graphviz.Digraph(name=self.r.spec.name)
        root.attr(
            rankdir=self.o.rankdir,
            newrank="true",
            nodesep="0.25",
            ranksep="0.3",
            fontname=_FONT,
            fontsize="11",
            labelloc="b",
            bgcolor="white",
        )
        if self.o.dpi:
            root.attr(dpi=str(self.o.dpi))
        root.attr(
            "node",
            shape="box",
            style="rounded,filled",
            fontname=_FONT,
            fontsize="11",
            color="#4d4d4d",
            margin="0.1,0.04",
            height="0.3",
        )
        root.attr("edge", color="#4d4d4d", arrowsize="0.7")
        for name in names:
            sub = graphviz.Digraph(name=f"cluster_{name}")
            sub.attr(
                label=self._title(name), labelloc="t", style="rounded", color="#7f7f7f", penwidth="1.5", fontsize="13"
            )
            self._model(sub, name, f"{name}/" if len(names) > 1 else "", False, ())
            root.subgraph(sub)
        drawn: set[tuple[str, str]] = set()
        for tail, head, attrs in self.edges:
            tail, head = self._follow(tail), self._follow(head)
            if (tail, head) not in drawn:
                drawn.add((tail, head))
                root.edge(tail, head, **attrs)
        if self.o.legend:
            root.attr(label=self._legend())
        return str(root.source)

    def _follow(self, ref: str) -> str:
        seen = set()
        while ref in self.via and ref not in seen:
            seen.add(ref)
            ref = self.via[ref]
        return ref

    def _title(self, model: str) -> str:
        text = f"<B>{escape(model)}</B>"
        params, frozen = self._model_params(model)
        if self.o.show_params and params is not None:
            text += f"  {_count(params)} params" + (f" ({_count(frozen)} non-trainable)" if frozen else "")
        desc = self.r.models[model].description or (self.r.spec.description if len(self.r.models) == 1 else None)
        return _html([text] + ([_small(escape(desc))] if desc else []))

    # -- one model --------------------------------------------------------------------------------------------
    def _model(
        self,
        g: graphviz.Digraph,
        name: str,
        prefix: str,
        frozen: bool,
        stack: tuple[str, ...],
        outputs: bool = True,
        header: str | None = None,
    ) -> None:
        graph = self.r.models[name]
        col = collapse_runs(graph) if self.o.collapse else _Collapsed()
        visible = [n for n in graph.order() if n.name not in col.alias and not (stack and n.kind == "input")]
        kinds = _block_types(graph)

        def emit(container: graphviz.Digraph, blk: tuple[str, ...]) -> None:
            children: dict[tuple[str, ...], None] = {}
            for node in visible:
                if node.block == blk:
                    self._node(container, graph, node, prefix, frozen, col, stack, outputs)
                elif node.block[: len(blk)] == blk and node.block[: len(blk) + 1] not in children:
                    child = node.block[: len(blk) + 1]
                    children[child] = None
                    last, times = col.clusters.get(child, ("", 1))
                    label = f"<B>{escape(child[-1] + (f' to {last}' if times > 1 else ''))}</B>: "
                    label += escape(kinds.get(child, "?")) + (f" ×{times}" if times > 1 else "")
                    inside = [
                        n.name
                        for n in graph.nodes.values()
                        if graph.nodes[col.find(n.name)].block[: len(child)] == child
                    ]
                    params, total = [self._info(name, graph.nodes[n])[1] for n in inside], ""
                    if self.o.show_params and params and None not in params and sum(p or 0 for p in params):
                        total = _small(f"{_count(sum(p or 0 for p in params))} params")
                    cid = f"{prefix}{'/'.join(child)}"
                    sub = graphviz.Digraph(name=f"cluster_{cid}")
                    sub.attr(
                        style="rounded,filled",
                        fillcolor=_GREYS[len(child) % 2],
                        color="#b0b0b0",
                        penwidth="2" if times > 1 else "1",
                    )
                    first = next((n.name for n in visible if n.block == child and not self._expands(n, stack)), None)
                    self._header(sub, cid + "/", _html([label, total], "LEFT"), first and prefix + first)
                    self.used.update({"repeat": None} if times > 1 else {})
                    emit(sub, child)
                    container.subgraph(sub)

        skips = skip_edges(graph)
        self.skip_from.update({prefix + v: _skip_source(graph.nodes[u], graph.nodes[v]) for u, v in skips})
        if header is not None:
            first = next((n.name for n in visible if not n.block and not self._expands(n, stack)), None)
            self._header(g, prefix, header, first and prefix + first)
        emit(g, ())
        for node in visible:
            if node.kind == "model" and f"{prefix}{node.name}" in self.via:
                continue  # expanded: its inner layers take the edges
            for dep in node.inputs:
                attrs: dict[str, str] = {}
                if (dep, node.name) in skips:
                    attrs = {"color": _SKIP, "penwidth": "1.6"}
                    self.used["skip"] = None
                self.edges.append((prefix + col.find(dep), prefix + node.name, attrs))

    def _expands(self, node: Node, stack: tuple[str, ...]) -> bool:
        """Whether `node` is a nested model drawn as its own layers (a cluster) rather than one box."""
        return node.kind == "model" and self.o.expand_nested and node.type in self.r.models and node.type not in stack

    def _header(self, g: graphviz.Digraph, hid: str, html: str, first: str | None) -> None:
        """Label a cluster with a node beside its first layer: edges are routed around nodes, across labels."""
        if first is None:
            g.attr(label=html, labeljust="l", fontsize="11")
            return
        g.attr(label="")
        g.node(hid, label=html, shape="plaintext", style="")
        g.body.append(f"\t{{rank=same; {_quote(hid)}; {_quote(first)}}}\n")

    def _node(
        self,
        g: graphviz.Digraph,
        graph: ModelGraph,
        node: Node,
        prefix: str,
        inherited: bool,
        col: _Collapsed,
        stack: tuple[str, ...],
        outputs: bool,
    ) -> None:
        frozen = inherited or not node.trainable
        if self._expands(node, stack):
            inner, sub_prefix = self.r.models[node.type], f"{prefix}{node.name}/"
            sub = graphviz.Digraph(name=f"cluster_{prefix}{node.name}")
            title = f"<B>{escape(node.name)}</B>" + ("" if node.name == node.type else f": {escape(node.type)}")
            title += " (nested model" + (", frozen)" if frozen else ")")
            sub.attr(style="rounded,filled" + (",dashed" if frozen else ""), fillcolor="#f0f0f8", color="#7f7f7f")
            self.via[prefix + node.name] = sub_prefix + (inner.outputs[0] if inner.outputs else "")
            for inner_input, dep in zip(inner.inputs, node.inputs, strict=False):
                self.via[sub_prefix + inner_input] = prefix + col.find(dep)
            self._model(
                sub,
                node.type,
                sub_prefix,
                frozen,
                (*stack, node.type),
                outputs and node.name in graph.outputs,
                _html([title], "LEFT"),
            )
            g.subgraph(sub)
            return
        attrs: dict[str, str] = {}
        layer_type, fam, details = node.type, "input", []
        if node.kind == "use":
            orig = self.r.layers.get(node.layer)
            layer_type = orig.type if orig else node.type
            frozen = frozen or (orig is not None and not orig.trainable)
            share = "shared layer" if node.name == node.layer else f"shares {node.layer}"
            details = [share, *(hyperparams(orig, layer_type, self.o) if orig else [])]
        elif node.kind == "model":
            layer_type, fam = "Model", "model"
            details = ["nested model" if node.name == node.type else f"model {node.type}"]
            attrs.update(shape="box3d", style="filled")
        elif node.kind == "op":
            layer_type, fam, details = f"ops.{node.type}", "op", hyperparams(node, node.type, self.o)
        elif node.kind == "layer":
            details = hyperparams(node, node.type, self.o)
        if node.kind in ("layer", "use"):
            fam = family(layer_type)
        self.used[fam] = None
        times = col.count.get(node.name, 1)
        head = (
            f"<B>{escape(_short(node))}</B> ({escape(layer_type)})"
            if self.o.show_layer_names
            else f"<B>{escape(layer_type)}</B>"
        ) + (f" ×{times}" if times > 1 else "")
        rows = [head] + ([_small(escape(line)) for line in _wrap(details)] if self.o.show_hyperparams else [])
        if prefix + node.name in self.skip_from:
            rows.append(_small(escape(f"skip from {self.skip_from[prefix + node.name]}"), _SKIP))
        foot = self._foot(graph.name, node, col.members.get(node.name, [node.name]))
        is_out = outputs and node.name in graph.outputs
        tags = ["frozen"] if frozen and not inherited else []
        tags += ["trainable"] if self.o.show_trainable and not frozen and node.kind != "input" else []
        if foot or tags:
            rows.append(_small(escape(" · ".join(foot + tags)), "#000000"))
        attrs.update(fillcolor=COLORS[fam], tooltip=f"{node.name} ({node.type})".replace("\\", "\\\\"))
        if node.kind == "input":
            attrs.update(penwidth="2.2")
        if is_out:
            attrs.update(peripheries="2")
            self.used["output"] = None
        if frozen:
            attrs.update(
                style=attrs.get("style", "rounded,filled") + ",dashed",
                fillcolor="#e8e8e8",
                fontcolor="#595959",
                color="#8c8c8c",
            )
            self.used["frozen"] = None
        g.node(prefix + node.name, label=_html(rows), group=prefix + graph.name, **attrs)

    # -- shapes and parameters --------------------------------------------------------------------------------
    def _info(self, model: str, node: Node) -> tuple[str | None, int | None, int | None]:
        """Output shape text, parameter count and non-trainable count of `node` in `model` (None: unknown)."""
        shape: str | None = format_shape(node.args.get("shape")) if node.kind == "input" else None
        params = frozen = None
        if self.shapes is not None:
            static, params, frozen = _static_info(self.shapes, model, node.name)
            shape = static or shape
        if node.name in self.deep:
            shape = format_shape(self.deep[node.name], batch=True)
        return shape, params, frozen

    def _foot(self, model: str, node: Node, members: list[str]) -> list[str]:
        graph = self.r.models[model]
        infos = [self._info(model, graph.nodes[m]) for m in members]
        out = []
        if self.o.show_shapes and infos[0][0] is not None:
            first, last = infos[0][0], infos[-1][0]
            out.append("→ " + (first if first == last else f"{first} … {last}"))
        if self.o.show_dtype and node.kind in ("input", "layer"):
            out.append(str(node.args.get("dtype") or "float32"))
        params = [p for _, p, _ in infos if p is not None]
        frozen = sum(f or 0 for _, _, f in infos)
        if self.o.show_params and params and sum(params) and node.kind != "input":
            note = f" ({_count(frozen)} non-trainable)" if frozen else ""
            note = " (non-trainable)" if frozen and frozen == sum(params) else note
            out.append(f"{_count(sum(params))} params{note}")
        return out

    def _model_params(self, model: str) -> tuple[int | None, int]:
        found = self.shapes.models.get(model) if self.shapes is not None else None
        return (None, 0) if found is None else (found.params, found.non_trainable or 0)

    def _legend(self) -> str:
        items = [(f'BGCOLOR="{COLORS[fam]}"', fam) for fam in COLORS if fam in self.used]
        marks = {
            "output": ('BGCOLOR="#ffffff"', "output: double border"),
            "frozen": ('BGCOLOR="#e8e8e8"', "frozen (trainable: false): grey, dashed"),
            "skip": (f'BGCOLOR="{_SKIP}"', "skip connection"),
            "repeat": ('BGCOLOR="#f2f2f2"', "×N: N identical blocks drawn once"),
        }
        items += [mark for key, mark in marks.items() if key in self.used]
        cells = [
            f'<TD {swatch} WIDTH="14" HEIGHT="12" FIXEDSIZE="TRUE" BORDER="1"></TD><TD ALIGN="LEFT">'
            f"{escape(text)}   </TD>"
            for swatch, text in items
        ]
        height = -(-len(cells) // 5)  # five columns, filled column by column like a plot legend
        rows = ["".join(cells[r::height]) for r in range(height)]
        table = "".join(f"<TR>{row}</TR>" for row in rows)
        return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="1">{table}</TABLE>>'


_GREYS = ("#f2f2f2", "#f9f9f9")
_SKIP = "#7b3294"


def _skip_source(src: Node, dst: Node) -> str:
    """How a skip connection's source is named at its merge: the block instance it leaves, else its layer."""
    return src.block[0] if src.block and src.block[:1] != dst.block[:1] else _short(src)


def _short(node: Node) -> str:
    """The node name without its block-instance prefix (the cluster label gives that)."""
    prefix = "_".join(node.block) + "_"
    return node.name[len(prefix) :] if node.block and node.name.startswith(prefix) else node.name


def _block_types(graph: ModelGraph) -> dict[tuple[str, ...], str]:
    """Block-instance path -> block name, from where the instance's layers are defined (`blocks.NAME.layers`)."""
    kinds: dict[tuple[str, ...], str] = {}
    for node in graph.nodes.values():
        if node.block and len(node.path) > 1 and node.path[0] == "blocks":
            kinds.setdefault(node.block, str(node.path[1]))
    for node in graph.nodes.values():
        for depth in range(1, len(node.block)):
            key = node.block[:depth]
            kinds.setdefault(key, re.sub(r"_\d+$", "", key[-1]))
    return kinds


def _static_info(report: ShapeReport, model: str, name: str) -> tuple[str | None, int | None, int | None]:
    found = report.node(model, name)
    if found is None:
        return None, None, None
    shape = format_shape(found.shape, batch=True) if found.checked else "? (unchecked)"
    return shape, found.params, found.non_trainable
