"""Stage data: sources read from files inside the spec's folder: NumPy (`npz`, `npy`), CSV, image and text
folders. Paths resolve (after symlinks) inside the spec's folder."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from kspec import paths as data_paths
from kspec.data.registry import SOURCE_PATH, Arrays, Context, Splits, holdout, loader
from kspec.errors import SpecError, SpecErrors, shorten
from kspec.lang import data_sources as sd

# ------------------------------------------------------------------------------------------------- files


def resolve_path(
    ctx: Context, rel: str, path: tuple[str | int, ...] = (*SOURCE_PATH, "path"), kind: data_paths.Kind = "file"
) -> Path:
    """`rel` against the spec's folder: not a URL nor absolute, inside the folder (symlinks followed), and an
    existing regular file (or folder, for `kind="folder"`); the same rules as `spec_data.check_data`."""
    try:
        full = data_paths.resolve_inside(ctx.folder, rel)
    except data_paths.PathProblem as problem:
        raise SpecErrors([SpecError(problem.message, path, "data-error", hint=problem.hint)]) from None
    wrong = data_paths.kind_problem(full, rel, kind)
    if wrong is not None:
        raise SpecErrors([SpecError(wrong.message, path, "data-error", hint=wrong.hint)])
    if not full.exists():
        raise SpecErrors(
            [
                SpecError(
                    f"no {kind} {shorten(rel)} next to the spec (looked for {full})",
                    path,
                    "data-error",
                    hint="paths are relative to the spec file's folder",
                )
            ]
        )
    return full


def _npz_member(archive: Any, key: str | None, field_name: str) -> Any:
    if key is None:
        return None
    if key not in archive.files:
        from kspec.errors import did_you_mean

        raise SpecErrors(
            [
                SpecError(
                    f"the archive has no array '{key}'",
                    (*SOURCE_PATH, field_name),
                    "data-error",
                    hint=did_you_mean(key, archive.files) or f"it has: {', '.join(archive.files)}",
                )
            ]
        )
    return archive[key]


@loader("npz")
def _npz(src: sd.Npz, ctx: Context) -> Splits:
    with np.load(resolve_path(ctx, src.path), allow_pickle=False) as archive:
        x = _npz_member(archive, src.x, "x")
        y = _npz_member(archive, src.y, "y") if src.y in archive.files or src.y != "y_train" else None
        has_test = src.x_test is not None and (src.x_test in archive.files or src.x_test != "x_test")
        xt = _npz_member(archive, src.x_test, "x_test") if has_test else None
        yt = _npz_member(archive, src.y_test, "y_test") if has_test and y is not None else None
    return Splits(Arrays(x, y), test=Arrays(xt, yt) if xt is not None else None)


@loader("npy")
def _npy(src: sd.Npy, ctx: Context) -> Splits:
    x = np.load(resolve_path(ctx, src.path), allow_pickle=False)
    y = np.load(resolve_path(ctx, src.targets, (*SOURCE_PATH, "targets")), allow_pickle=False) if src.targets else None
    return Splits(Arrays(x, y))


@loader("csv")
def _csv(src: sd.Csv, ctx: Context) -> Splits:
    from kspec.errors import did_you_mean

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
    errors = []
    for key in ("features", "targets"):
        for i, name in enumerate(getattr(src, key)):
            if _column(name, header, src.header) not in range(len(header)):
                errors.append(
                    SpecError(
                        f"the CSV file has no column '{name}'",
                        (*SOURCE_PATH, key, i),
                        "data-error",
                        hint=did_you_mean(str(name), header) or f"its columns: {', '.join(header)}",
                    )
                )
    if errors:
        raise SpecErrors(errors)

    def columns(names: list[str | int], labels: dict[str, int] | None = None) -> Any:
        idx = [_column(n, header, src.header) for n in names]
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

    targets = columns(src.targets, src.label_map) if src.targets else None
    return Splits(Arrays(columns(src.features), targets))


def _column(name: str | int, header: list[str], named: bool) -> int:
    """A column's position: a name in the header row, or a position (`header: false`, or an integer); -1 if none."""
    if isinstance(name, int) or not named:
        pos = int(name) if str(name).lstrip("-").isdigit() else -1
        return pos if 0 <= pos < len(header) else -1
    return header.index(name) if name in header else -1


@loader("image_folder")
def _image_folder(src: sd.ImageFolder, ctx: Context) -> Splits:
    import keras

    ds = keras.utils.image_dataset_from_directory(
        str(resolve_path(ctx, src.path, kind="folder")),
        image_size=tuple(src.image_size),
        color_mode=src.color_mode,
        batch_size=None,
        shuffle=False,
        label_mode="int",
        verbose=False,
    )
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in ds), strict=True) if ds.cardinality() else ((), ())
    return holdout(np.stack(xs).astype(np.float32), np.array(ys, dtype=np.int32), src.test_split, src.seed)


@loader("text_folder")
def _text_folder(src: sd.TextFolder, ctx: Context) -> Splits:
    import keras

    ds = keras.utils.text_dataset_from_directory(
        str(resolve_path(ctx, src.path, kind="folder")), batch_size=None, shuffle=False, verbose=False
    )
    texts, labels = zip(*((t.numpy().decode("utf-8", "replace"), int(y)) for t, y in ds), strict=True)
    split = holdout(np.array(texts, dtype=object), np.array(labels, dtype=np.int32), src.test_split, src.seed)
    vectorize = keras.layers.TextVectorization(max_tokens=src.max_tokens, output_sequence_length=src.sequence_length)
    vectorize.adapt(list(split.train.x))
    for part in split.named().values():
        part.x = np.asarray(vectorize(list(part.x)), dtype=np.int32)
    return split
