"""Stage data: the `csv` source. Columns by header name or position, ranges `first..last`, and column groups per
model input or output name (`features: {title: [...], tags: [...]}`), each group one named array."""

from __future__ import annotations

import csv
from typing import Any

import numpy as np

from kspec.data.file_sources import resolve_path
from kspec.data.registry import SOURCE_PATH, Arrays, Context, Splits, loader
from kspec.errors import SpecError, SpecErrors, did_you_mean, shorten
from kspec.lang import data_sources as sd


def _read(src: sd.Csv, ctx: Context) -> tuple[list[str], list[list[str]]]:
    """The header (column names, or positions as text with `header: false`) and the non-empty data rows."""
    with resolve_path(ctx, src.path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter=src.delimiter))
    empty = not rows
    if not src.header:
        rows.insert(0, [str(i) for i in range(max((len(r) for r in rows), default=0))])
    header, body = (rows[0] if rows else []), [r for r in rows[1 : len(rows) - src.skip_footer] if r]
    if empty or not header or not body:
        what = "is empty" if empty else "has no data rows" if header else "starts with a blank line"
        raise SpecErrors(
            [
                SpecError(
                    f"the CSV file {shorten(src.path)} {what}",
                    (*SOURCE_PATH, "path"),
                    "data-error",
                    hint="a CSV source needs "
                    + ("a header row naming the columns, then " if src.header else "")
                    + "one row per example",
                )
            ]
        )
    return header, body


def _positions(
    entries: list[str | int], header: list[str], named: bool, at: tuple[str | int, ...], errors: list[SpecError]
) -> list[int]:
    """Column positions of `entries` (names, positions, `first..last` ranges); problems go to `errors`."""
    out: list[int] = []
    for i, entry in enumerate(entries):
        ends = str(entry).split("..") if isinstance(entry, str) and ".." in entry else [entry]
        found = [_column(e.strip() if isinstance(e, str) else e, header, named) for e in ends]
        bad = [e for e, pos in zip(ends, found, strict=True) if pos < 0]
        if len(ends) > 2 or (len(ends) == 2 and not bad and found[0] > found[1]):
            errors.append(
                SpecError(
                    f"'{entry}' is not a column range",
                    (*at, i),
                    "data-error",
                    hint="write a range as `first..last`, first before last in the file (both included)",
                )
            )
            continue
        for name in bad:
            errors.append(
                SpecError(
                    f"the CSV file has no column '{name}'",
                    (*at, i),
                    "data-error",
                    hint=did_you_mean(str(name), header) or f"its columns: {', '.join(header)}",
                )
            )
        if not bad:
            out.extend(range(found[0], found[-1] + 1))
    return out


@loader("csv")
def _csv(src: sd.Csv, ctx: Context) -> Splits:
    header, body = _read(src, ctx)
    errors: list[SpecError] = []

    def groups(key: str) -> dict[str | None, list[int]]:
        value = getattr(src, key)
        if isinstance(value, dict):
            return {n: _positions(c, header, src.header, (*SOURCE_PATH, key, n), errors) for n, c in value.items()}
        return {None: _positions(value, header, src.header, (*SOURCE_PATH, key), errors)} if value else {}

    features, targets = groups("features"), groups("targets")
    if errors:
        raise SpecErrors(errors)

    def columns(idx: list[int], labels: dict[str, int] | None = None) -> Any:
        try:
            if labels is not None:
                return np.array([[labels[r[i].strip()] for i in idx] for r in body], dtype=np.int32)
            return np.array([[float(r[i]) for i in idx] for r in body], dtype=np.float32)
        except KeyError as exc:
            raise SpecErrors([SpecError(f"the target label {exc} is not in `label_map`", (*SOURCE_PATH, "label_map"),
                                        "data-error", hint="add it with its class id")]) from None  # fmt: skip
        except (ValueError, IndexError) as exc:
            raise SpecErrors(
                [
                    SpecError(
                        f"the CSV file has a non-numeric or missing value ({exc})", (*SOURCE_PATH, "path"), "data-error"
                    )
                ]
            ) from None

    def arrays(found: dict[str | None, list[int]], labels: Any = None) -> Any:
        if list(found) == [None]:
            return columns(found[None], labels)
        return {n: columns(idx, _labels_for(labels, n)) for n, idx in found.items()}

    y = arrays(targets, src.label_map) if targets else None
    return Splits(Arrays(arrays(features), y))


def _labels_for(label_map: Any, name: str | None) -> dict[str, int] | None:
    """The label map of one named target array: per output (`{department: {sales: 0, ...}}`) or shared."""
    if not label_map:
        return None
    if all(isinstance(v, dict) for v in label_map.values()):
        found = label_map.get(name)
        return dict(found) if isinstance(found, dict) else None
    return dict(label_map)


def _column(name: str | int, header: list[str], named: bool) -> int:
    """A column's position: a name in the header row, or a position (`header: false`, or an integer); -1 if none."""
    if isinstance(name, int) or not named:
        pos = int(name) if str(name).lstrip("-").isdigit() else -1
        return pos if 0 <= pos < len(header) else -1
    return header.index(name) if name in header else -1
