"""Random inputs shaped like a model's, for exporting (a first call) and checking an export."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras
    import numpy as np


def sample_inputs(model: keras.Model, batch: int = 4, seed: int = 0) -> list[np.ndarray]:
    """Random inputs for `model` (unknown dimensions: 8; integer inputs: 0 or 1)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for tensor in model.inputs:
        shape = [batch, *(d if d is not None else 8 for d in tensor.shape[1:])]
        dtype = np.dtype(str(tensor.dtype))
        if dtype.kind in "iu":
            out.append(rng.integers(0, 2, size=shape).astype(dtype))
        else:
            out.append(rng.random(shape, dtype=np.float32).astype(dtype))
    return out
