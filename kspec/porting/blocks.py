"""Stage: find repeated sub-structures in a model's entries and turn them into parameterised `blocks:`.

Pure Python. A block instance is a contiguous run of entries whose names share a prefix (`conv2_block1_` in
`conv2_block1_1_conv`, ...), so the block's layers keep their Keras names (`<instance>_<layer>`). Runs with the same
layers, types and wiring are instances of one block; arguments that differ between instances become parameters
(arguments that always vary together share one), each defaulting to its most common value.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kspec.porting.model import Entry
from kspec.porting.shaping import _MISSING, effective

_LOCAL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Instance:
    prefix: str
    start: int
    end: int
    externals: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Block:
    name: str
    params: dict[str, Any]
    inputs: list[str]
    layers: list[dict[str, Any]]
    instances: list[Instance]

    @property
    def size(self) -> int:
        return len(self.layers)


def _prefixes(name: str) -> list[str]:
    return [name[: m.start()] for m in re.finditer("_", name) if 0 < m.start() < len(name) - 1]


def _plain_entry(entry: Entry) -> bool:
    """A layer or op a block can hold: no tensors by call argument, no selected outputs."""
    return entry.kind in ("type", "op") and entry.named is None and not entry.call and "[" not in "".join(entry.inputs)


def _runs(entries: list[Entry]) -> dict[tuple[Any, ...], list[Instance]]:
    """Candidate instances by structure key."""
    found: dict[tuple[Any, ...], list[Instance]] = {}
    n = len(entries)
    for i, entry in enumerate(entries):
        for prefix in _prefixes(entry.name):
            head = prefix + "_"
            if i > 0 and entries[i - 1].name.startswith(head):
                continue
            j = i
            while j < n and entries[j].name.startswith(head) and _plain_entry(entries[j]):
                j += 1
            if j - i < 2:
                continue
            inst = Instance(prefix, i, j)
            key = _structure(entries, inst)
            if key is not None:
                found.setdefault(key, []).append(inst)
    return found


def _structure(entries: list[Entry], inst: Instance) -> tuple[Any, ...] | None:
    head = len(inst.prefix) + 1
    local: dict[str, str] = {}
    externals: list[str] = []
    key: list[Any] = []
    for entry in entries[inst.start : inst.end]:
        rel: list[tuple[str, str | int]] = []
        for name in entry.inputs:
            if name in local:
                rel.append(("L", local[name]))
            else:
                if name not in externals:
                    externals.append(name)
                rel.append(("X", externals.index(name)))
        short = entry.name[head:]
        if not _LOCAL.match(short):
            return None
        local[entry.name] = short
        key.append((short, entry.kind, entry.type, tuple(rel)))
    inst.externals = externals
    return tuple(key)


def _block(name: str, entries: list[Entry], insts: list[Instance], defaults: dict[str, dict[str, Any]]) -> Block | None:
    first = entries[insts[0].start : insts[0].end]
    slots: dict[tuple[int, str], list[Any]] = {}
    literal: list[dict[str, Any]] = [{} for _ in first]
    for j in range(len(first)):
        keys: list[str] = []
        for inst in insts:
            for k in entries[inst.start + j].args:
                if k not in keys:
                    keys.append(k)
        for k in keys:
            values = [effective(entries[inst.start + j], k, defaults) for inst in insts]
            if any(v is _MISSING for v in values):
                return None
            if len({json.dumps(v, sort_keys=True) for v in values}) == 1:
                literal[j][k] = values[0]
            else:
                slots[(j, k)] = values
    params: dict[str, Any] = {}
    slot_param: dict[tuple[int, str], str] = {}
    by_vector: dict[str, str] = {}
    for (j, k), values in slots.items():
        vec = json.dumps(values, sort_keys=True)
        if vec not in by_vector:
            pname = k
            n = 2
            while pname in params:
                pname = f"{k}_{n}"
                n += 1
            counts = Counter(json.dumps(v, sort_keys=True) for v in values)
            top = counts.most_common(1)[0][0]
            params[pname] = next(v for v in values if json.dumps(v, sort_keys=True) == top)
            by_vector[vec] = pname
            for inst, v in zip(insts, values, strict=True):
                if json.dumps(v, sort_keys=True) != json.dumps(params[pname], sort_keys=True):
                    inst.params[pname] = v
        slot_param[(j, k)] = by_vector[vec]
    n_in = max(len(inst.externals) for inst in insts)
    inputs = ["x"] + [f"x{i + 1}" for i in range(1, n_in)]
    head = len(insts[0].prefix) + 1
    local = {e.name: e.name[head:] for e in first}
    if set(inputs) & set(local.values()):
        inputs = [f"in_{i}" for i in range(n_in)]
    layers: list[dict[str, Any]] = []
    prev = inputs[0]
    for j, entry in enumerate(first):
        ins = [local.get(i) or inputs[insts[0].externals.index(i)] for i in entry.inputs]
        item: dict[str, Any] = {"op" if entry.kind == "op" else "type": entry.type, "name": local[entry.name]}
        if ins != [prev]:
            item["inputs"] = ins
        for k in list(literal[j]) + [k for (jj, k) in slot_param if jj == j]:
            item[k] = "${" + slot_param[(j, k)] + "}" if (j, k) in slot_param else literal[j][k]
        layers.append(item)
        prev = local[entry.name]
    return Block(name, params, inputs, layers, insts)


def _block_name(prefix: str, taken: set[str]) -> str:
    base = re.sub(r"_+", "_", re.sub(r"\d+", "", prefix)).strip("_") or "block"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def find_blocks(entries: list[Entry], defaults: dict[str, dict[str, Any]], taken: set[str]) -> list[Block]:
    """Blocks over `entries`: repeatedly the candidate covering most layers not yet in a block."""
    candidates = [insts for insts in _runs(entries).values() if len(insts) >= 2]
    used = [False] * len(entries)
    blocks: list[Block] = []
    while candidates:
        scored = []
        for insts in candidates:
            free = [i for i in insts if not any(used[i.start : i.end])]
            size = free[0].end - free[0].start if free else 0
            # worth a block: the instances' lines shrink to one each, at the cost of the block's own lines
            if (
                len(free) >= 2
                and len({len(i.externals) for i in free}) == 1
                and len(free) * size >= 1.2 * (size + 3 + len(free))
            ):
                scored.append((sum(i.end - i.start for i in free), free))
        if not scored:
            break
        _score, free = max(scored, key=lambda s: s[0])
        candidates = [
            c for c in candidates if c is not free and [i for i in c if not any(used[i.start : i.end])] != free
        ]
        fresh = [Instance(i.prefix, i.start, i.end, list(i.externals)) for i in free]
        name = _block_name(fresh[0].prefix, taken)
        block = _block(name, entries, fresh, defaults)
        if block is None:
            continue
        taken.add(name)
        blocks.append(block)
        for inst in fresh:
            used[inst.start : inst.end] = [True] * (inst.end - inst.start)
    return blocks
