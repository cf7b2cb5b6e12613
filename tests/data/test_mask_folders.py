"""The `image_mask_folder` source: images and segmentation masks paired by file name, masks as class ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kspec.data.steps import prepare
from kspec.errors import SpecErrors
from kspec.lang.data_spec import DataSpec

pytestmark = pytest.mark.keras  # Keras loads the images


def _folders(tmp_path: Path, n: int = 3) -> None:
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    (tmp_path / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / "imgs" / f"p{i}.jpg")
        Image.fromarray(np.full((20, 20), i + 1, np.uint8)).save(tmp_path / "masks" / f"p{i}.png")


SOURCE = {"type": "image_mask_folder", "path": "imgs", "masks": "masks", "image_size": [8, 8], "mask_offset": -1}


def test_images_and_masks_pair_by_name(tmp_path: Path) -> None:
    _folders(tmp_path)
    splits = prepare(DataSpec.model_validate({"source": SOURCE}), tmp_path)
    assert splits.train.x.shape == (3, 8, 8, 3) and splits.train.y.shape == (3, 8, 8, 1)
    assert splits.train.y.dtype == np.int32
    np.testing.assert_array_equal([np.unique(m) for m in splits.train.y], [[0], [1], [2]])  # nearest: ids stay ids


def test_an_unpaired_image_is_a_located_error(tmp_path: Path) -> None:
    _folders(tmp_path)
    (tmp_path / "imgs" / "extra.jpg").write_bytes((tmp_path / "imgs" / "p0.jpg").read_bytes())
    with pytest.raises(SpecErrors) as info:
        prepare(DataSpec.model_validate({"source": SOURCE}), tmp_path)
    (err,) = info.value.errors
    assert err.path == ("data", "source", "masks") and "'extra'" in err.message
