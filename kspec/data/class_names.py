"""Stage data: the class names of the datasets that have them, for labelling plots (a confusion matrix shows
`Sneaker`, not `7`). Standard library only."""

from __future__ import annotations

from typing import Any

#: source type -> the name of each class index, in the order of the dataset's integer labels
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    "iris": ("setosa", "versicolor", "virginica"),
    "breast_cancer": ("malignant", "benign"),
}


def class_names(source: Any) -> tuple[str, ...] | None:
    """The class names of a data source (its spec), or None where its labels are plain numbers."""
    return CLASS_NAMES.get(str(getattr(source, "type", "")))
