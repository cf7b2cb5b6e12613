"""Stage render: `Builder` walks the selected models into DOT clusters, nodes, edges and a legend; no keras.

The walk is linear in layers and block instances, and each line is written once, in order (`lines.Writer`). What a
node's label says is put together by `labels.Labels`, which keeps the parts that repeat from layer to layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from kspec.analysis.graph import ModelGraph, Node, Resolved
from kspec.analysis.selectors import output_labels
from kspec.diagram.labels import Labels
from kspec.diagram.lines import Writer, attr_list, attr_statement, quote, quote_edge, quote_once
from kspec.diagram.structure import Collapsed, block_members, block_tree, block_types, collapse_runs, skip_edges
from kspec.diagram.style import (
    CLUSTER_GREYS,
    FONT,
    SKIP_COLOR,
    escape,
    footer,
    format_count,
    html_table,
    skip_source,
    small,
)

if TYPE_CHECKING:
    from kspec.analysis.shapes import ShapeReport
    from kspec.diagram.options import DrawOptions

_SKIP_ATTRS = attr_list(None, {"color": SKIP_COLOR, "penwidth": "1.6"})
_NODE_DEFAULTS = attr_statement(
    {
        "shape": "box",
        "style": "rounded,filled",
        "fontname": FONT,
        "fontsize": "11",
        "color": "#4d4d4d",
        "margin": "0.1,0.04",
        "height": "0.3",
    }
)
_EDGE_DEFAULTS = attr_statement({"color": "#4d4d4d", "arrowsize": "0.7"})


class Builder:
    """Walks the selected models and emits clusters and nodes, then every edge, then the legend."""

    def __init__(
        self, resolved: Resolved, options: DrawOptions, shapes: ShapeReport | None, deep: Mapping[str, Any] | None
    ) -> None:
        self.r, self.o = resolved, options
        self.labels = Labels(resolved, options, shapes, deep or {})
        self.used = self.labels.used  # families and markers drawn, for the legend
        self.edges: list[tuple[str, str, str | None, str]] = []  # tail, head, edge label, attribute text
        self.skip_from: dict[str, str] = {}  # merge node -> where its skip connection comes from
        self.via: dict[str, str] = {}  # undrawn id -> id to draw instead (nested model -> its output, inner input)
        #: without nested models drawn open no edge is redirected (`via`): edges are written as they are found
        self.edge_lines: list[str] | None = None if options.expand_nested else []
        self.drawn: set[tuple[str, str, str | None]] = set()  # (tail, head, label) written: two selected outputs
        #: cluster ids taken (less `cluster_`); a cluster's header node is its id and `/`. A block instance and a
        #: nested model may share a name (and a model's name), so an id taken already gets `~2`, `~3`, ...
        self.cluster_ids: set[str] = set()
        #: a nested model drawn open -> its outputs' names and the ids of the nodes drawn for them (`_inner_output`)
        self.opened: dict[str, tuple[list[str], list[str]]] = {}

    def build(self) -> str:
        names = self.r.model_order()
        if self.o.model is not None:
            if self.o.model not in self.r.models:
                from kspec.errors import did_you_mean

                hint = did_you_mean(self.o.model, names) or f"models: {', '.join(names)}"
                raise ValueError(f"no model named '{self.o.model}' in spec '{self.r.spec.name}'; {hint}")
            names = [self.o.model]
        body: list[str] = []  # the lines of the graph, in order; the same text as `graphviz.Digraph(...).source`
        top = Writer(body)
        top.attr(
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
            top.attr(dpi=str(self.o.dpi))
        top.line(f"node [{_NODE_DEFAULTS}]")
        top.line(f"edge [{_EDGE_DEFAULTS}]")
        for name in names:
            sub = top.cluster(f"cluster_{self._cluster_id(name)}")
            sub.attr(
                label=self._title(name), labelloc="t", style="rounded", color="#7f7f7f", penwidth="1.5", fontsize="13"
            )
            self._model(sub, name, f"{name}/" if len(names) > 1 else "", False, ())
            sub.close()
        if self.edge_lines is None:
            self._edges(body)
        else:
            body += self.edge_lines
        # several models: the spec's description goes under the diagram (one model shows it in its own title)
        desc = self.r.spec.description if len(names) > 1 else None
        if self.o.legend or desc:
            top.attr(label=footer(desc, self.used if self.o.legend else None))
        name = self.r.spec.name
        return "".join([f"digraph {quote(name)} {{\n" if name else "digraph {\n", *body, "}\n"])

    def _edges(self, body: list[str]) -> None:
        """The edges found, once the ids they name are followed to what is drawn (`via`)."""
        for tail, head, label, attrs in self.edges:
            self._edge(body, self._follow(tail), self._follow(head), label, attrs)

    def _edge(self, body: list[str], tail: str, head: str, label: str | None, attrs: str) -> None:
        key = (tail, head, label)
        if key not in self.drawn:  # two selected outputs of one layer: two edges
            self.drawn.add(key)
            body.append(f"\t{quote_edge(tail)} -> {quote_edge(head)}{attrs}\n")

    def _follow(self, ref: str) -> str:
        seen = set()
        while ref in self.via and ref not in seen:
            seen.add(ref)
            ref = self.via[ref]
        return ref

    def _cluster_id(self, natural: str) -> str:
        """`natural` (a model, block instance or nested model path), or with `~N` when a cluster has it already: no
        spec name holds `~`, so the ids stay distinct and clusters without a namesake keep their natural ids."""
        cid, n = natural, 1
        while cid in self.cluster_ids:
            n += 1
            cid = f"{natural}~{n}"
        self.cluster_ids.add(cid)
        return cid

    def _title(self, model: str) -> str:
        text = f"<B>{escape(model)}</B>"
        params, frozen = self.labels.model_params(model)
        if self.o.show_params and params is not None:
            text += f"  {format_count(params)} params" + (f" ({format_count(frozen)} non-trainable)" if frozen else "")
        desc = self.r.models[model].description or (self.r.spec.description if len(self.r.models) == 1 else None)
        return html_table([text] + ([small(escape(desc))] if desc else []))

    # -- one model --------------------------------------------------------------------------------------------
    def _model(
        self,
        g: Writer,
        name: str,
        prefix: str,
        frozen: bool,
        stack: tuple[str, ...],
        outputs: bool = True,
        header: tuple[str, str] | None = None,
    ) -> Collapsed:
        """Draw model `name`, its node ids starting with `prefix`; `header`: (id, label) of a nested model's header.
        Returns what a collapse hides of it."""
        graph = self.r.models[name]
        col = collapse_runs(graph) if self.o.collapse else Collapsed()
        order = graph.order()
        visible = [n for n in order if n.name not in col.alias and not (stack and n.kind == "input")]
        kinds = block_types(graph)
        items = block_tree(visible)  # one pass: each cluster lists its own nodes and sub-clusters
        members = block_members(graph, col)
        totals: dict[int, str] = {}  # a parameter count -> its line under a cluster's name

        def emit(container: Writer, blk: tuple[str, ...]) -> None:
            for item in items.get(blk, ()):
                if isinstance(item, Node):
                    self._node(container, graph, item, prefix, frozen, col, stack, outputs)
                    continue
                child = item
                last, times = col.clusters.get(child, ("", 1))
                label = f"<B>{escape(child[-1] + (f' to {last}' if times > 1 else ''))}</B>: "
                label += escape(kinds.get(child, "?")) + (f" ×{times}" if times > 1 else "")
                total = ""
                if self.o.show_params:
                    params = self.labels.params_of(name, members.get(child, []))
                    total = totals.get(params, "")
                    if params and not total:
                        total = totals[params] = small(f"{format_count(params)} params")
                cid = self._cluster_id(f"{prefix}{'/'.join(child)}")
                sub = container.cluster(f"cluster_{cid}")
                sub.line(_cluster_attrs(len(child) % 2, times > 1))
                first = None
                for n in items[child]:
                    if isinstance(n, Node) and not (n.kind == "model" and self._expands(n, stack)):
                        first = prefix + n.name
                        break
                self._header(sub, cid + "/", html_table([label, total], "LEFT"), first)
                if times > 1:
                    self.used["repeat"] = None
                emit(sub, child)
                sub.close()

        skips = skip_edges(graph, order)
        self.skip_from.update({prefix + v: skip_source(graph.nodes[u], graph.nodes[v]) for u, v in skips})
        if header is not None:
            first = next((n.name for n in visible if not n.block and not self._expands(n, stack)), None)
            self._header(g, header[0], header[1], first and prefix + first)
        emit(g, ())
        find = col.find if col.alias else None
        lines, drawn = self.edge_lines, self.drawn
        for node in visible:
            if node.kind == "model" and f"{prefix}{node.name}" in self.via:
                continue  # expanded: its inner layers take the edges
            head = prefix + node.name
            for i, dep in enumerate(node.inputs):
                chosen = node.selects[i] if i < len(node.selects) else None
                label = None if chosen is None else self._selection(graph, node, i)
                skip = (dep, node.name) in skips
                if skip:
                    self.used["skip"] = None
                if label is not None:  # one output of several: the edge says which
                    attrs: dict[str, str] = {"color": SKIP_COLOR, "penwidth": "1.6"} if skip else {}
                    attrs.update(label=label, fontsize="9", fontcolor="#4d4d4d")
                    text = attr_list(None, attrs)
                else:
                    text = _SKIP_ATTRS if skip else ""
                tail = prefix + (find(dep) if find else dep)
                if chosen is not None and tail in self.opened:
                    tail = self._inner_output(tail, chosen)
                if lines is None:
                    self.edges.append((tail, head, label, text))
                elif (tail, head, label) not in drawn:  # as `_edge`, inline: one per edge of a deep stack
                    drawn.add((tail, head, label))
                    lines.append(f"\t{quote_edge(tail)} -> {quote_edge(head)}{text}\n")
        return col

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

    def _inner_output(self, tail: str, chosen: int | str) -> str:
        """The layer inside opened nested model `tail` that makes its output `chosen` (by position or name)."""
        names, drawn = self.opened[tail]
        i = chosen if isinstance(chosen, int) else names.index(chosen) if chosen in names else -1
        return drawn[i] if 0 <= i < len(drawn) else tail

    def _expands(self, node: Node, stack: tuple[str, ...]) -> bool:
        """Whether `node` is a nested model drawn as its own layers (a cluster) rather than one box."""
        return node.kind == "model" and self.o.expand_nested and node.type in self.r.models and node.type not in stack

    def _header(self, g: Writer, hid: str, html: str, first: str | None) -> None:
        """Label a cluster with a node beside its first layer: edges are routed around nodes, across labels."""
        if first is None:
            g.attr(label=html, labeljust="l", fontsize="11")
            return
        at, name = g.indent, quote(hid)
        g.body.append(f'{at}label=""\n{at}{name} [label={html} shape=plaintext style=""]\n')
        g.body.append(f"{at}{{rank=same; {name}; {quote(first)}}}\n")

    def _node(
        self,
        g: Writer,
        graph: ModelGraph,
        node: Node,
        prefix: str,
        inherited: bool,
        col: Collapsed,
        stack: tuple[str, ...],
        outputs: bool,
    ) -> None:
        if node.kind == "model" and self._expands(node, stack):
            self._nested(g, graph, node, prefix, inherited or not node.trainable, col, stack, outputs)
            return
        name = prefix + node.name
        skip = self.skip_from.get(name)
        label, look = self.labels.node(graph, node, inherited, col, outputs and node.name in graph.outputs, skip)
        tooltip = f"{node.name} ({node.type})"  # never an ID (a space), so quoted unless graphviz must escape it
        tooltip = quote_once(tooltip.replace("\\", "\\\\")) if '"' in tooltip or "\\" in tooltip else f'"{tooltip}"'

        g.body.append(
            f"{g.indent}{quote(name)} [label={label}{self.labels.look(look, prefix + graph.name)} tooltip={tooltip}]\n"
        )

    def _nested(
        self,
        g: Writer,
        graph: ModelGraph,
        node: Node,
        prefix: str,
        frozen: bool,
        col: Collapsed,
        stack: tuple[str, ...],
        outputs: bool,
    ) -> None:
        """A nested model drawn as its own layers, inside a cluster of its own."""
        inner, sub_prefix = self.r.models[node.type], f"{prefix}{node.name}/"
        cid = self._cluster_id(f"{prefix}{node.name}")
        sub = g.cluster(f"cluster_{cid}")
        title = f"<B>{escape(node.name)}</B>" + ("" if node.name == node.type else f": {escape(node.type)}")
        title += " (nested model" + (", frozen)" if frozen else ")")
        sub.attr(style="rounded,filled" + (",dashed" if frozen else ""), fillcolor="#f0f0f8", color="#7f7f7f")
        for inner_input, dep in zip(inner.inputs, node.inputs, strict=False):
            self.via[sub_prefix + inner_input] = prefix + col.find(dep)
        shown = self._model(
            sub,
            node.type,
            sub_prefix,
            frozen,
            (*stack, node.type),
            outputs and node.name in graph.outputs,
            (f"{cid}/", html_table([title], "LEFT")),
        )
        sub.close()
        # an edge from the nested model starts at the node drawn for its output (one of a collapsed run stands for
        # the run): the first output, or the one the edge selects
        drawn = [sub_prefix + shown.find(out) for out in inner.outputs]
        self.via[prefix + node.name] = drawn[0] if drawn else sub_prefix
        self.opened[prefix + node.name] = (inner.output_names(), drawn)


@lru_cache(maxsize=4)
def _cluster_attrs(depth: int, repeated: bool) -> str:
    """The attribute statement of a block instance's cluster: grey by nesting depth, a thicker border for ×N."""
    return attr_statement(
        {
            "style": "rounded,filled",
            "fillcolor": CLUSTER_GREYS[depth],
            "color": "#b0b0b0",
            "penwidth": "2" if repeated else "1",
        }
    )
