"""Stage data: the `pairs` step, pairs for a Siamese network from labelled single examples. NumPy only."""

from __future__ import annotations

from typing import Any

import numpy as np

from kspec.data.registry import Arrays, Splits
from kspec.data.step_registry import labels, single
from kspec.data.step_registry import step as _step
from kspec.errors import SpecError, SpecErrors
from kspec.lang import data_steps as sd


@_step("pairs")
def _pairs(step: sd.Pairs, splits: Splits, path: Any) -> Splits:
    if step.inputs is None:
        raise SpecErrors(
            [
                SpecError(
                    "`pairs` needs the names of the two inputs it feeds",
                    path,
                    "data-mismatch",
                    hint="write e.g. {type: pairs, inputs: [left, right]} with the model's input names",
                )
            ]
        )
    single(splits, path, "x", "pairs are made from one array of single examples and their class labels")
    single(splits, path, "y", "pairs are made from one array of single examples and their class labels")
    labels(splits, path)
    first, second = step.inputs
    for k, (name, part) in enumerate(splits.named().items()):
        rng = np.random.default_rng([step.seed or 0, k])  # each split its own draws, all from the one seed
        a, b, same = _pair_indices(_class_ids(part.y, name), step.per_example, rng)
        targets = np.where(same, step.same, step.different).astype(np.float32)
        setattr(splits, name, Arrays({first: part.x[a], second: part.x[b]}, targets))
    splits.one_hot = None
    return splits


def _class_ids(y: Any, split: str) -> Any:
    """Integer class ids `(n,)` from labels `(n,)`, `(n, 1)` or one-hot rows."""
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] > 1:
        y = y.reshape(len(y), -1).argmax(-1)
    y = y.reshape(len(y))
    if y.dtype.kind not in "iu" and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError(f"the {split} targets are not class labels (pairs need one class id per example)")
    return y.astype(np.int64)


def _pair_indices(labels: Any, per_example: int, rng: np.random.Generator) -> tuple[Any, Any, Any]:
    """For every example, `per_example` times: a partner of its own class, then one of another class (uniform over
    the other classes, then over that class's examples), as keras.io's `make_pairs` draws them."""
    classes, ids = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"pairs need at least two classes; the split has {len(classes)}")
    order = np.argsort(ids, kind="stable")
    counts = np.bincount(ids, minlength=len(classes))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n, k = len(labels), len(classes)

    def member(of_class: Any) -> Any:
        return order[starts[of_class] + (rng.random(len(of_class)) * counts[of_class]).astype(np.int64)]

    anchors, partners, same = [], [], []
    for _ in range(per_example):
        other = (ids + rng.integers(1, k, n)) % k  # any class but its own, each equally likely
        pos, neg = member(ids), member(other)
        anchors.append(np.stack([np.arange(n), np.arange(n)], 1).reshape(-1))
        partners.append(np.stack([pos, neg], 1).reshape(-1))
        same.append(np.tile([True, False], n))
    return np.concatenate(anchors), np.concatenate(partners), np.concatenate(same)
