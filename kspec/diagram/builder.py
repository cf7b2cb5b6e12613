"""Stage render: `Builder` walks the selected models into DOT clusters, nodes, edges and a legend; no keras."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import graphviz

from kspec.analysis.graph import ModelGraph, Node, Resolved
from kspec.analysis.selectors import output_labels
from kspec.diagram.lines import Cluster, Graph, add_edge, add_node
from kspec.diagram.structure import Collapsed, block_members, block_tree, block_types, collapse_runs, skip_edges
from kspec.diagram.style import (
    CLUSTER_GREYS,
    COLORS,
    FONT,
    SKIP_COLOR,
    family,
    footer,
    format_count,
    format_shape,
    html_table,
    hyperparams,
    quote,
    short_name,
    skip_source,
    small,
    wrap,
)

if TYPE_CHECKING:
    from kspec.analysis.shapes import ShapeReport
    from kspec.diagram.options import DrawOptions


class Builder:
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
                from kspec.errors import did_you_mean

                hint = did_you_mean(self.o.model, names) or f"models: {', '.join(names)}"
                raise ValueError(f"no model named '{self.o.model}' in spec '{self.r.spec.name}'; {hint}")
            names = [self.o.model]
        root = graphviz.Digraph(name=self.r.spec.name)
        root.attr(
            rankdir=self.o.rankdir,
            newrank="true",
            nodesep="0.25",
            ranksep="0.3",
            fontname=FONT,
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
            fontname=FONT,
            fontsize="11",
            color="#4d4d4d",
            margin="0.1,0.04",
            height="0.3",
        )
        root.attr("edge", color="#4d4d4d", arrowsize="0.7")
        for name in names:
            sub = Cluster(f"cluster_{name}")
            sub.attr(
                label=self._title(name), labelloc="t", style="rounded", color="#7f7f7f", penwidth="1.5", fontsize="13"
            )
            self._model(sub, name, f"{name}/" if len(names) > 1 else "", False, ())
            sub.add_to(root)
        drawn: set[tuple[str, str, str | None]] = set()
        for tail, head, attrs in self.edges:
            tail, head = self._follow(tail), self._follow(head)
            if (tail, head, attrs.get("label")) not in drawn:  # two selected outputs of one layer: two edges
                drawn.add((tail, head, attrs.get("label")))
                add_edge(root, tail, head, **attrs)
        # several models: the spec's description goes under the diagram (one model shows it in its own title)
        desc = self.r.spec.description if len(names) > 1 else None
        if self.o.legend or desc:
            root.attr(label=footer(desc, self.used if self.o.legend else None))
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
            text += f"  {format_count(params)} params" + (f" ({format_count(frozen)} non-trainable)" if frozen else "")
        desc = self.r.models[model].description or (self.r.spec.description if len(self.r.models) == 1 else None)
        return html_table([text] + ([small(escape(desc))] if desc else []))

    # -- one model --------------------------------------------------------------------------------------------
    def _model(
        self,
        g: Graph,
        name: str,
        prefix: str,
        frozen: bool,
        stack: tuple[str, ...],
        outputs: bool = True,
        header: str | None = None,
    ) -> None:
        graph = self.r.models[name]
        col = collapse_runs(graph) if self.o.collapse else Collapsed()
        visible = [n for n in graph.order() if n.name not in col.alias and not (stack and n.kind == "input")]
        kinds = block_types(graph)

        items = block_tree(visible)  # one pass: each cluster lists its own nodes and sub-clusters
        members = block_members(graph, col)

        def emit(container: Graph, blk: tuple[str, ...]) -> None:
            for item in items.get(blk, ()):
                if isinstance(item, Node):
                    self._node(container, graph, item, prefix, frozen, col, stack, outputs)
                else:
                    child = item
                    last, times = col.clusters.get(child, ("", 1))
                    label = f"<B>{escape(child[-1] + (f' to {last}' if times > 1 else ''))}</B>: "
                    label += escape(kinds.get(child, "?")) + (f" ×{times}" if times > 1 else "")
                    inside = members.get(child, [])
                    params, total = [self._info(name, graph.nodes[n])[1] for n in inside], ""
                    if self.o.show_params and params and None not in params and sum(p or 0 for p in params):
                        total = small(f"{format_count(sum(p or 0 for p in params))} params")
                    cid = f"{prefix}{'/'.join(child)}"
                    sub = Cluster(f"cluster_{cid}")
                    sub.attr(
                        style="rounded,filled",
                        fillcolor=CLUSTER_GREYS[len(child) % 2],
                        color="#b0b0b0",
                        penwidth="2" if times > 1 else "1",
                    )
                    first = next(
                        (n.name for n in items[child] if isinstance(n, Node) and not self._expands(n, stack)), None
                    )
                    self._header(sub, cid + "/", html_table([label, total], "LEFT"), first and prefix + first)
                    self.used.update({"repeat": None} if times > 1 else {})
                    emit(sub, child)
                    sub.add_to(container)

        skips = skip_edges(graph)
        self.skip_from.update({prefix + v: skip_source(graph.nodes[u], graph.nodes[v]) for u, v in skips})
        if header is not None:
            first = next((n.name for n in visible if not n.block and not self._expands(n, stack)), None)
            self._header(g, prefix, header, first and prefix + first)
        emit(g, ())
        for node in visible:
            if node.kind == "model" and f"{prefix}{node.name}" in self.via:
                continue  # expanded: its inner layers take the edges
            for i, dep in enumerate(node.inputs):
                attrs: dict[str, str] = {}
                if (dep, node.name) in skips:
                    attrs = {"color": SKIP_COLOR, "penwidth": "1.6"}
                    self.used["skip"] = None
                selection = self._selection(graph, node, i)
                if selection is not None:  # one output of several: the edge says which
                    attrs.update(label=selection, fontsize="9", fontcolor="#4d4d4d")
                self.edges.append((prefix + col.find(dep), prefix + node.name, attrs))

    def _selection(self, graph: ModelGraph, node: Node, i: int) -> str | None:
        """How input `i` of `node` selects one output of its producer (`[1] state_h`, `.scores`); None: all of it."""
        select = node.selects[i] if i < len(node.selects) else None
        producer = graph.nodes.get(node.inputs[i])
        if select is None or producer is None:
            return None
        if isinstance(select, str):
            return f".{select}"
        target = self.r.layers.get(producer.layer, producer) if producer.kind == "use" else producer
        names = output_labels(target, self.r.models)
        return f"[{select}] {names[select]}" if names is not None and select < len(names) else f"[{select}]"

    def _expands(self, node: Node, stack: tuple[str, ...]) -> bool:
        """Whether `node` is a nested model drawn as its own layers (a cluster) rather than one box."""
        return node.kind == "model" and self.o.expand_nested and node.type in self.r.models and node.type not in stack

    def _header(self, g: Graph, hid: str, html: str, first: str | None) -> None:
        """Label a cluster with a node beside its first layer: edges are routed around nodes, across labels."""
        if first is None:
            g.attr(label=html, labeljust="l", fontsize="11")
            return
        g.attr(label="")
        add_node(g, hid, label=html, shape="plaintext", style="")
        g.body.append(f"\t{{rank=same; {quote(hid)}; {quote(first)}}}\n")

    def _node(
        self,
        g: Graph,
        graph: ModelGraph,
        node: Node,
        prefix: str,
        inherited: bool,
        col: Collapsed,
        stack: tuple[str, ...],
        outputs: bool,
    ) -> None:
        frozen = inherited or not node.trainable
        if self._expands(node, stack):
            inner, sub_prefix = self.r.models[node.type], f"{prefix}{node.name}/"
            sub = Cluster(f"cluster_{prefix}{node.name}")
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
                html_table([title], "LEFT"),
            )
            sub.add_to(g)
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
        if not frozen:  # a frozen node is drawn grey: its family's colour is not in the diagram
            self.used[fam] = None
        times = col.count.get(node.name, 1)
        head = (
            f"<B>{escape(short_name(node))}</B> ({escape(layer_type)})"
            if self.o.show_layer_names
            else f"<B>{escape(layer_type)}</B>"
        ) + (f" ×{times}" if times > 1 else "")
        rows = [head] + ([small(escape(line)) for line in wrap(details)] if self.o.show_hyperparams else [])
        if prefix + node.name in self.skip_from:
            rows.append(small(escape(f"skip from {self.skip_from[prefix + node.name]}"), SKIP_COLOR))
        foot = self._foot(graph.name, node, col.members.get(node.name, [node.name]))
        is_out = outputs and node.name in graph.outputs
        tags = ["frozen"] if frozen and not inherited else []
        tags += ["trainable"] if self.o.show_trainable and not frozen and node.kind != "input" else []
        if foot or tags:
            rows.append(small(escape(" · ".join(foot + tags)), "#000000"))
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
        add_node(g, prefix + node.name, label=html_table(rows), group=prefix + graph.name, **attrs)

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
            note = f" ({format_count(frozen)} non-trainable)" if frozen else ""
            note = " (non-trainable)" if frozen and frozen == sum(params) else note
            out.append(f"{format_count(sum(params))} params{note}")
        return out

    def _model_params(self, model: str) -> tuple[int | None, int]:
        found = self.shapes.models.get(model) if self.shapes is not None else None
        return (None, 0) if found is None else (found.params, found.non_trainable or 0)


def _static_info(report: ShapeReport, model: str, name: str) -> tuple[str | None, int | None, int | None]:
    found = report.node(model, name)
    if found is None:
        return None, None, None
    shape = format_shape(found.shape, batch=True) if found.checked else "? (unchecked)"
    return shape, found.params, found.non_trainable
