"""Stage data: sources read from files inside the spec's folder: NumPy (`npz`, `npy`), CSV, image and text
folders. Paths resolve (after symlinks) inside the spec's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kspec import paths as data_paths
from kspec.data import named
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


def _npz_member(archive: Any, key: str | dict[str, str] | None, field_name: str) -> Any:
    """The array `key` of the archive, or for `{name: key, ...}` the named arrays (one per model input or output)."""
    if key is None:
        return None
    if isinstance(key, dict):
        out = {name: _npz_member(archive, member, field_name) for name, member in key.items()}
        lengths = {name: len(a) for name, a in out.items()}
        if len(set(lengths.values())) > 1:
            raise SpecErrors(
                [
                    SpecError(
                        "the named arrays have different numbers of examples: "
                        + ", ".join(f"{k} {n}" for k, n in lengths.items()),
                        (*SOURCE_PATH, field_name),
                        "data-mismatch",
                        hint="every named array holds one row per example, in the same order",
                    )
                ]
            )
        return out
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


def _present(archive: Any, key: str | dict[str, str] | None, default: str) -> bool:
    """Whether the optional member `key` is there: an explicit name must be; Keras's default name may be missing."""
    return key is not None and (isinstance(key, dict) or key in archive.files or key != default)


@loader("npz")
def _npz(src: sd.Npz, ctx: Context) -> Splits:
    with np.load(resolve_path(ctx, src.path), allow_pickle=False) as archive:
        x = _npz_member(archive, src.x, "x")
        y = _npz_member(archive, src.y, "y") if _present(archive, src.y, "y_train") else None
        has_test = _present(archive, src.x_test, "x_test")
        xt = _npz_member(archive, src.x_test, "x_test") if has_test else None
        yt = _npz_member(archive, src.y_test, "y_test") if has_test and y is not None else None
    splits = Splits(Arrays(x, y), test=Arrays(xt, yt) if xt is not None else None)
    for name, part in splits.named().items():
        if part.y is not None and len(part) != named.length(part.y):
            raise SpecErrors(
                [
                    SpecError(
                        f"the {name} inputs have {len(part)} examples but the targets {named.length(part.y)}",
                        (*SOURCE_PATH, "y" if name == "train" else "y_test"),
                        "data-mismatch",
                        hint="inputs and targets hold one row per example, in the same order",
                    )
                ]
            )
    return splits


@loader("npy_folder")
def _npy_folder(src: sd.NpyFolder, ctx: Context) -> Splits:
    shapes = ctx.shapes
    inputs, outputs = (shapes.input_names, shapes.output_names) if shapes else ((), ())
    train = _named_files(ctx, src.path, "path", inputs, outputs)
    test = _named_files(ctx, src.test, "test", inputs, outputs) if src.test else None
    return Splits(train, test=test)


def _named_files(ctx: Context, rel: str, key: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> Arrays:
    """`<name>.npy` of folder `rel` for each model input (the inputs) and output (the targets)."""
    from kspec.errors import did_you_mean

    at = (*SOURCE_PATH, key)
    folder = resolve_path(ctx, rel, at, kind="folder")
    found = sorted(p.stem for p in folder.iterdir() if p.suffix == ".npy")
    names = [*inputs, *outputs]
    for stem in found:
        if stem not in names:
            raise SpecErrors(
                [
                    SpecError(
                        f"the folder {shorten(rel)} has {stem}.npy, but the model has no input or output '{stem}'",
                        at,
                        "data-mismatch",
                        hint=did_you_mean(stem, names)
                        or f"name each file after an input or output: {', '.join(names)}",
                    )
                ]
            )

    def load(names: tuple[str, ...]) -> dict[str, Any] | None:
        out = {n: np.load(resolve_path(ctx, f"{rel}/{n}.npy", at), allow_pickle=False) for n in names if n in found}
        return out or None

    x = load(inputs)
    problem = None
    if x is None:
        problem = f"the folder {shorten(rel)} has no .npy file named after an input of the model"
        hint = "write " + ", ".join(f"{n}.npy" for n in inputs)
    y = load(outputs)
    lengths = {f"{n}.npy": len(a) for n, a in {**(x or {}), **(y or {})}.items()}
    if problem is None and len(set(lengths.values())) > 1:
        problem = "the files hold different numbers of examples: " + ", ".join(f"{k} {v}" for k, v in lengths.items())
        hint = "every file holds one row per example, in the same order"
    if problem is not None:
        raise SpecErrors([SpecError(problem, at, "data-mismatch", hint=hint)])
    return Arrays(x, y)


@loader("npy")
def _npy(src: sd.Npy, ctx: Context) -> Splits:
    x = np.load(resolve_path(ctx, src.path), allow_pickle=False)
    y = np.load(resolve_path(ctx, src.targets, (*SOURCE_PATH, "targets")), allow_pickle=False) if src.targets else None
    return Splits(Arrays(x, y))


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
