"""Stage parse: the data sources of the `data:` section, one small Pydantic model each, registered by name in
`SOURCES`. Pure Python and Pydantic; no numpy, no keras."""

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import Field

from kspec import paths as data_paths
from kspec.lang.base import StrictModel

SOURCES: dict[str, type["SourceBase"]] = {}

_M = TypeVar("_M", bound=StrictModel)


def register(table: dict[str, Any]) -> Callable[[type[_M]], type[_M]]:
    """Register a source or step model in `table` under its `type` tag."""

    def deco(cls: type[_M]) -> type[_M]:
        tag = cls.model_fields["type"].default
        table[tag] = cls
        return cls

    return deco


# --------------------------------------------------------------------------------------------------------- sources


class SourceBase(StrictModel):
    """Where the examples come from."""

    type: str
    keras_dataset: ClassVar[bool] = False


class _KerasImages(SourceBase):
    keras_dataset: ClassVar[bool] = True


@register(SOURCES)
class Mnist(_KerasImages):
    """`keras.datasets.mnist`: 60,000 + 10,000 grey 28x28 digits (uint8), integer labels."""

    type: Literal["mnist"] = "mnist"


@register(SOURCES)
class FashionMnist(_KerasImages):
    """`keras.datasets.fashion_mnist`: 28x28 grey clothing images, 10 classes."""

    type: Literal["fashion_mnist"] = "fashion_mnist"


@register(SOURCES)
class Cifar10(_KerasImages):
    """`keras.datasets.cifar10`: 50,000 + 10,000 colour 32x32 images, labels of shape (n, 1)."""

    type: Literal["cifar10"] = "cifar10"


@register(SOURCES)
class Cifar100(_KerasImages):
    """`keras.datasets.cifar100`: 100 fine or 20 coarse classes."""

    type: Literal["cifar100"] = "cifar100"
    label_mode: Literal["fine", "coarse"] = Field("fine", description="fine: 100 classes; coarse: 20 superclasses")


class _KerasSequences(SourceBase):
    keras_dataset: ClassVar[bool] = True
    num_words: int | None = Field(None, ge=1, description="keep the most frequent words only")
    skip_top: int = Field(0, ge=0, description="skip the N most frequent words (keras.datasets argument)")
    maxlen: int | None = Field(None, ge=1, description="drop reviews longer than this (use pad_sequences to cut)")
    seed: int = Field(113, description="seed of the Keras loader's shuffling")
    start_char: int | None = Field(1, description="index marking the start of a sequence")
    oov_char: int | None = Field(2, description="index that replaces words cut by num_words or skip_top")
    index_from: int = Field(3, description="word indices start at this number")


@register(SOURCES)
class Imdb(_KerasSequences):
    """`keras.datasets.imdb`: 25,000 + 25,000 movie reviews as word-index sequences, labels 0/1."""

    type: Literal["imdb"] = "imdb"


@register(SOURCES)
class Reuters(_KerasSequences):
    """`keras.datasets.reuters`: newswires as word-index sequences, 46 topics."""

    type: Literal["reuters"] = "reuters"
    test_split: float = Field(0.2, gt=0, lt=1, description="fraction held out as the test split")


@register(SOURCES)
class BostonHousing(SourceBase):
    """`keras.datasets.boston_housing`: 13 features, price target (regression)."""

    keras_dataset: ClassVar[bool] = True
    type: Literal["boston_housing"] = "boston_housing"
    test_split: float = Field(0.2, gt=0, lt=1, description="fraction held out as the test split")
    seed: int = Field(113, description="seed of the Keras loader's shuffling")


class _Sklearn(SourceBase):
    """A scikit-learn toy dataset (ships with the package, needs no download); split into train/test here."""

    test_split: float = Field(0.2, ge=0, lt=1, description="fraction held out as the test split")
    seed: int = Field(0, description="seed of the train/test split")


@register(SOURCES)
class Digits(_Sklearn):
    """`sklearn.datasets.load_digits`: 1,797 8x8 digit images as 64 features (values 0..16), 10 classes."""

    type: Literal["digits"] = "digits"


@register(SOURCES)
class Iris(_Sklearn):
    type: Literal["iris"] = "iris"


@register(SOURCES)
class Wine(_Sklearn):
    type: Literal["wine"] = "wine"


@register(SOURCES)
class BreastCancer(_Sklearn):
    type: Literal["breast_cancer"] = "breast_cancer"


@register(SOURCES)
class Diabetes(_Sklearn):
    type: Literal["diabetes"] = "diabetes"


class _File(SourceBase):
    path: str = Field(min_length=1, description="relative to the spec's folder, and inside it")
    #: fields holding paths relative to the spec's folder, and whether each names a file or a folder
    path_fields: ClassVar[dict[str, data_paths.Kind]] = {"path": "file"}


@register(SOURCES)
class Npz(_File):
    """A NumPy `.npz` archive; the array names default to Keras's own (`x_train`, `y_train`, `x_test`, `y_test`)."""

    type: Literal["npz"] = "npz"
    x: str | dict[str, str] = Field(
        "x_train",
        description="array name of the training inputs in the .npz file, or one per model input: "
        "{title: title_ids, body: body_ids}",
    )
    y: str | dict[str, str] | None = Field(
        "y_train", description="array name of the training targets (null: none), or one per model output"
    )
    x_test: str | dict[str, str] | None = Field(
        "x_test", description="array name(s) of the test inputs, as `x` (null: no test split)"
    )
    y_test: str | dict[str, str] | None = Field("y_test", description="array name(s) of the test targets, as `y`")


@register(SOURCES)
class Npy(_File):
    """`.npy` files: `path` holds the inputs, `targets` (optional) the targets."""

    type: Literal["npy"] = "npy"
    targets: str | None = Field(None, description="a .npy file of targets, in the spec's folder (null: none)")
    path_fields: ClassVar[dict[str, data_paths.Kind]] = {"path": "file", "targets": "file"}


#: CSV columns: names (header row) or positions from 0; an entry `first..last` is that run of columns, both included
Columns = Annotated[list[str | int], Field(min_length=1)]


@register(SOURCES)
class NpyFolder(_File):
    """A folder of `.npy` files named after the trained model's inputs and outputs (`title.npy`, `body.npy`,
    `priority.npy`): each file feeds the input or output of its name."""

    type: Literal["npy_folder"] = "npy_folder"
    path_fields: ClassVar[dict[str, data_paths.Kind]] = {"path": "folder", "test": "folder"}
    test: str | None = Field(None, description="a folder of the same files for the test split (null: none)")


@register(SOURCES)
class Csv(_File):
    """A CSV file; columns are chosen by name (header row) or by position from 0 (`header: false`)."""

    type: Literal["csv"] = "csv"
    features: Columns | dict[str, Columns] = Field(
        description="CSV columns used as inputs (names, positions, or a range `first..last`), or columns per model "
        "input: {title: [t0..t11], tags: [tag_a, tag_b]}"
    )
    targets: list[str | int] | dict[str, Columns] = Field(
        default_factory=list, description="empty: no targets (e.g. for a `window` step); or columns per model output"
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description='the CSV field separator, e.g. "\\t"')
    header: bool = Field(True, description="false: the first row is data; columns are chosen by position")
    label_map: dict[str, int] | dict[str, dict[str, int]] | None = Field(
        None,
        description="text labels of the target columns -> class ids, e.g. {cat: 0, dog: 1}; with targets per "
        "output, one map per output name: {department: {sales: 0, support: 1}}",
    )
    skip_footer: int = Field(0, ge=0, description="lines to ignore at the end (the book's airline file has 3)")


@register(SOURCES)
class ImageFolder(_File):
    """One sub-folder per class (`keras.utils.image_dataset_from_directory`)."""

    type: Literal["image_folder"] = "image_folder"
    path_fields: ClassVar[dict[str, data_paths.Kind]] = {"path": "folder"}
    image_size: list[int] = Field(
        [256, 256], min_length=2, max_length=2, description="[height, width] every image is resized to"
    )
    color_mode: Literal["grayscale", "rgb", "rgba"] = Field("rgb", description="channels of the loaded images")
    test_split: float = Field(0.0, ge=0, lt=1, description="fraction held out as the test split")
    seed: int = Field(0, description="seed of the train/test split")


@register(SOURCES)
class ImageMaskFolder(_File):
    """Images and their segmentation masks in two folders, paired by file name without extension."""

    type: Literal["image_mask_folder"] = "image_mask_folder"
    path_fields: ClassVar[dict[str, data_paths.Kind]] = {"path": "folder", "masks": "folder"}
    masks: str = Field(min_length=1, description="folder of the masks (one grayscale image of class ids per image)")
    image_size: list[int] = Field([160, 160], min_length=2, max_length=2, description="[height, width] of both")
    color_mode: Literal["grayscale", "rgb", "rgba"] = Field("rgb", description="channels of the loaded images")
    mask_offset: int = Field(0, description="added to every mask value, e.g. -1 for masks labelled 1, 2, 3")
    test_split: float = Field(0.0, ge=0, lt=1, description="fraction held out as the test split")
    seed: int = Field(0, description="seed of the train/test split")


@register(SOURCES)
class TextFolder(_File):
    """One sub-folder per class of `.txt` files; texts become integer sequences (`TextVectorization`)."""

    type: Literal["text_folder"] = "text_folder"
    path_fields: ClassVar[dict[str, data_paths.Kind]] = {"path": "folder"}
    max_tokens: int = Field(20000, ge=2, description="vocabulary size of the text vectorisation")
    sequence_length: int = Field(200, ge=1, description="tokens per text (padded or cut)")
    test_split: float = Field(0.0, ge=0, lt=1, description="fraction held out as the test split")
    seed: int = Field(0, description="seed of the train/test split")


@register(SOURCES)
class Synthetic(SourceBase):
    """Random inputs shaped like the model's inputs, with targets from a fixed random rule a model can learn."""

    type: Literal["synthetic"] = "synthetic"
    samples: int = Field(1000, ge=1, description="training samples generated")
    test_samples: int = Field(200, ge=0, description="test samples generated")
    task: Literal["auto", "classification", "regression", "normal"] = Field(
        "auto",
        description="auto: classification when the output has more than one unit; "
        "normal: samples of N(mean, std) with no targets (the ch7 GAN's real data)",
    )
    input_shape: list[int] | None = Field(None, description="default: the main model's input shape")
    output_shape: list[int] | None = Field(None, description="default: the main model's output shape")
    vocab: int | None = Field(None, ge=2, description="integer inputs in [0, vocab) (for Embedding models)")
    mean: float = Field(0.0, description="mean of the normal distribution")
    std: float = Field(1.0, gt=0, description="standard deviation of the normal distribution")
    seed: int = Field(0, description="seed of the generated values")
