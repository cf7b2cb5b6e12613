"""Stage train: the state of the Keras callbacks kspec creates, saved in each epoch checkpoint so `--resume` keeps
their decisions (EarlyStopping's patience counter, best value and stop decision; ReduceLROnPlateau's wait and
cooldown counters; ModelCheckpoint's best value). Standard library only; the callbacks are passed in.

A callback kind missing from `STATE` has state kspec cannot save: `--resume` names it in a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: The attributes that decide what each callback kind does next (numbers, or None before the first epoch). Keras
#: resets them in `on_train_begin`; kspec sets them back right after, from the checkpoint.
STATE: dict[str, tuple[str, ...]] = {
    "EarlyStopping": ("wait", "stopped_epoch", "best", "best_epoch"),
    "ReduceLROnPlateau": ("wait", "cooldown_counter", "best"),
    "ModelCheckpoint": ("best",),
    "CSVLogger": (),  # its rows are in the file, which a resumed run appends to
    "TerminateOnNaN": (),
    "TensorBoard": (),  # epoch summaries are numbered by epoch
    "LearningRateScheduler": (),  # a function of the epoch number (`train.lr_table`)
}
#: Attributes holding lists of arrays (saved in the checkpoint's archive, not its JSON record).
ARRAYS: dict[str, tuple[str, ...]] = {"EarlyStopping": ("best_weights",)}


def kind(callback: Any) -> str:
    """The Keras class name a callback was made from (kspec's atomic-writing subclasses keep their base's name)."""
    return str(getattr(callback, "kspec_kind", type(callback).__name__))


def unsaved(callbacks: Sequence[Any]) -> list[str]:
    """The kinds of `callbacks` whose state kspec cannot save (a resumed run starts them afresh)."""
    return [kind(c) for c in callbacks if kind(c) not in STATE]


def _number(value: Any) -> Any:
    """A JSON-safe number: floats as text, so `inf` (a callback's initial best) and NaN survive the round trip."""
    if value is None or isinstance(value, bool):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return {"float": repr(value)}
    raise TypeError(f"cannot save a {type(value).__name__}")


def _from_number(value: Any) -> Any:
    if isinstance(value, dict):
        number = float(value["float"])
        return number if not math.isnan(number) else float("nan")
    return value


def save(callbacks: Sequence[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The callbacks' state: one JSON-safe record per callback, and their array lists by archive key."""
    records: list[dict[str, Any]] = []
    arrays: dict[str, Any] = {}
    for i, cb in enumerate(callbacks):
        name = kind(cb)
        record: dict[str, Any] = {"kind": name}
        for attr in STATE.get(name, ()):
            record[attr] = _number(getattr(cb, attr, None))
        for attr in ARRAYS.get(name, ()):
            values = getattr(cb, attr, None)
            record[attr] = None if values is None else len(values)
            for j, value in enumerate(values or ()):
                arrays[f"callback.{i}.{attr}.{j}"] = value
        records.append(record)
    return records, arrays


def matches(callbacks: Sequence[Any], records: Any) -> bool:
    """Whether saved `records` were made for these callbacks (same kinds in the same order)."""
    return isinstance(records, list) and [r.get("kind") for r in records if isinstance(r, dict)] == [
        kind(c) for c in callbacks
    ]


def restore(callbacks: Sequence[Any], records: list[dict[str, Any]], arrays: dict[str, Any]) -> None:
    """Set the callbacks' state back from `save`'s output (call after Keras's `on_train_begin` has reset it)."""
    for i, (cb, record) in enumerate(zip(callbacks, records, strict=True)):
        name = kind(cb)
        for attr in STATE.get(name, ()):
            if attr in record:
                setattr(cb, attr, _from_number(record[attr]))
        for attr in ARRAYS.get(name, ()):
            count = record.get(attr)
            if isinstance(count, int):
                setattr(cb, attr, [arrays[f"callback.{i}.{attr}.{j}"] for j in range(count)])
