"""Stage: the import IR -> spec text: defaults, blocks, repeats, implicit inputs and names Keras would give anyway.

Pure Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kspec.porting import writer
from kspec.porting.blocks import Block, find_blocks
from kspec.porting.model import Entry, Imported, ImportedModel
from kspec.porting.shaping import find_defaults

PLACEHOLDER = "NOT-IMPORTED:"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Composed:
    text: str
    blocks: dict[str, int] = field(default_factory=dict)  # block name -> instances
    block_layers: int = 0  # layers inside block instances
    lines: int = 0


def _snake(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _entry_dict(entry: Entry, inputs: list[str] | None) -> dict[str, Any]:
    kind = "type" if entry.kind == "unsupported" else entry.kind
    item: dict[str, Any] = {
        kind: PLACEHOLDER + entry.type if entry.kind == "unsupported" else entry.type,
        "name": entry.name,
    }
    if entry.named is not None:
        item["inputs"] = dict(entry.named)
    elif inputs is not None:
        item["inputs"] = list(inputs)
    if entry.call:
        item["call"] = dict(entry.call)
    return item if entry.kind == "unsupported" else {**item, **entry.args}


def _layers(
    model: ImportedModel, blocks: list[Block], problems: dict[str, str]
) -> list[tuple[dict[str, Any], str | None]]:
    starts = {inst.start: (block, inst) for block in blocks for inst in block.instances}
    out: list[tuple[dict[str, Any], str | None]] = []
    prev = next(iter(model.inputs)) if len(model.inputs) == 1 else None
    i = 0
    entries = model.entries
    while i < len(entries):
        if i in starts:
            block, inst = starts[i]
            item: dict[str, Any] = {"block": block.name, "name": inst.prefix}
            if inst.externals != [prev]:
                item["inputs"] = list(inst.externals)
            item.update(inst.params)
            out.append((item, None))
            prev = entries[inst.end - 1].name
            i = inst.end
            continue
        entry = entries[i]
        implicit = entry.inputs == [prev] and entry.kind != "use" and entry.named is None
        item = _entry_dict(entry, None if implicit else entry.inputs)
        out.append((item, problems.get(entry.name)))
        prev = entry.name
        i += 1
    return _repeats(out)


def _repeats(items: list[tuple[dict[str, Any], str | None]]) -> list[tuple[dict[str, Any], str | None]]:
    """Runs of identical chained layers named `x_1, x_2, ...` become one entry with `repeat:`."""

    def body(item: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if k not in ("name", "inputs")}

    out: list[tuple[dict[str, Any], str | None]] = []
    i = 0
    while i < len(items):
        item, comment = items[i]
        m = re.fullmatch(r"(.+)_1", str(item.get("name", ""))) if "type" in item and not comment else None
        j = i + 1
        while m and j < len(items):
            nxt, c2 = items[j]
            if c2 or "inputs" in nxt or nxt.get("name") != f"{m.group(1)}_{j - i + 1}" or body(nxt) != body(item):
                break
            j += 1
        if m and j - i >= 2:
            head = {k: v for k, v in item.items() if k != "name"}
            out.append(({**head, "name": m.group(1), "repeat": j - i}, comment))
            i = j
        else:
            out.append((item, comment))
            i += 1
    return out


def _omit_auto_names(models: dict[str, dict[str, Any]]) -> None:
    """Leave out `name:` where the resolver's auto name (`dense`, `dense_1`, ...) gives the same name."""
    items = [it for m in models.values() for it, _c in m["layers"]]
    candidates = {id(it) for it in items if ("type" in it or "op" in it) and "repeat" not in it and "name" in it}
    keep: set[int] = set()
    while True:
        explicit = {it["name"] for it in items if "name" in it and (id(it) not in candidates or id(it) in keep)}
        explicit |= set(models)
        counters: dict[str, int] = {}
        claimed: set[str] = set()
        mismatch = None
        for model in models.values():
            nodes = set(model["inputs"])
            for it, _c in model["layers"]:
                names = [it.get("name", "")]
                if id(it) in candidates and id(it) not in keep:
                    base = it["op"] if "op" in it else _snake(str(it["type"]).split(">")[-1])
                    while True:
                        k = counters.get(base, 0)
                        counters[base] = k + 1
                        auto = base if k == 0 else f"{base}_{k}"
                        if auto not in explicit and auto not in claimed and auto not in nodes:
                            break
                    if auto != it["name"]:
                        mismatch = it
                        break
                elif "repeat" in it:
                    names = [f"{it['name']}_{k + 1}" for k in range(it["repeat"])]
                claimed.update(names)
                nodes.update(names)
            if mismatch is not None:
                break
        if mismatch is None:
            break
        keep.add(id(mismatch))
    for it in items:
        if id(it) in candidates and id(it) not in keep:
            del it["name"]


def compose(imp: Imported, header: list[str], init: dict[str, Any] | None, omit_names: bool = True) -> Composed:
    models = list(imp.models.values())
    defaults = find_defaults(models)
    taken: set[str] = set()
    problems = {p.layer: f"{p.message} [{p.code}]" for p in imp.problems}
    found: dict[str, int] = {}
    block_layers = 0
    sections: dict[str, dict[str, Any]] = {}
    block_defs: dict[str, dict[str, Any]] = {}
    for model in models:
        blocks = find_blocks(model.entries, defaults, taken)
        for b in blocks:
            block_defs[b.name] = {"params": b.params, "inputs": b.inputs, "layers": b.layers}
            found[b.name] = len(b.instances)
            block_layers += b.size * len(b.instances)
        layers = _layers(model, blocks, problems)
        last = layers[-1][0] if layers else {}
        outputs: list[str] | None = list(model.outputs)
        if (
            len(model.outputs) == 1
            and last.get("name", model.outputs[0]) == model.outputs[0]
            and "repeat" not in last
            and "block" not in last
        ):
            outputs = None
        sections[model.name] = {"inputs": model.inputs, "layers": layers, "outputs": outputs}
    if omit_names:
        _omit_auto_names(sections)
    name = imp.main if _NAME.match(imp.main) else "imported"
    top: dict[str, Any] = {"kspec": 1, "name": name, "description": f"Imported from {imp.source}"}
    if imp.plugins:
        top["plugins"] = imp.plugins
    if defaults:
        top["defaults"] = defaults
    if init:
        top["init"] = init
    text = writer.render(header, top, block_defs, sections)
    return Composed(text, found, block_layers, text.count("\n"))
