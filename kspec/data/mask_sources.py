"""Stage data: images paired with segmentation masks from two folders (the `image_mask_folder` source).

Imports keras (its image loading) inside the loader.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kspec.data.file_sources import resolve_path
from kspec.data.registry import SOURCE_PATH, Context, Splits, holdout, loader
from kspec.errors import SpecError, SpecErrors
from kspec.lang import data_sources as sd

_IMAGES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@loader("image_mask_folder")
def _image_mask_folder(src: sd.ImageMaskFolder, ctx: Context) -> Splits:
    import keras

    images = resolve_path(ctx, src.path, kind="folder")
    masks = resolve_path(ctx, src.masks, (*SOURCE_PATH, "masks"), kind="folder")
    pictures = {p.stem: p for p in sorted(images.iterdir()) if p.suffix.lower() in _IMAGES and p.is_file()}
    labels = {p.stem: p for p in sorted(masks.iterdir()) if p.suffix.lower() in _IMAGES and p.is_file()}
    unpaired = sorted(set(pictures) ^ set(labels))
    if unpaired or not pictures:
        where = "masks" if unpaired and unpaired[0] in pictures else "path"
        what = f"'{unpaired[0]}' has no partner in the other folder" if unpaired else "the folder holds no images"
        hint = f"{len(unpaired)} unpaired file(s)" if unpaired else None
        message = f"images and masks must pair up by file name: {what}"
        raise SpecErrors([SpecError(message, (*SOURCE_PATH, where), "data-error", hint=hint)])
    size = tuple(src.image_size)

    def load(path: Any, mode: str, interpolation: str) -> Any:
        img = keras.utils.load_img(path, color_mode=mode, target_size=size, interpolation=interpolation)
        return keras.utils.img_to_array(img)

    names = sorted(pictures)
    x = np.stack([load(pictures[n], src.color_mode, "bilinear") for n in names]).astype(np.float32)
    y = np.stack([load(labels[n], "grayscale", "nearest") for n in names]).astype(np.int32) + src.mask_offset
    return holdout(x, y, src.test_split, src.seed)
