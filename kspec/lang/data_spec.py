"""Stage 2, parse: the `data:` section (sources and preprocessing steps as registries of small models), and its
validate-time checks (`check_data`). Pydantic and pure Python only: no numpy, no keras.

A source or a step is written like every other object in kspec: a bare name (`mnist`, `flatten`) or a mapping
`{type: name, ...arguments}`. Each kind is one small model registered by name; the unions the document is validated
against are built from the registries, so adding a source or a step is one decorated class and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeVar, Union

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from kspec import catalog
from kspec import paths as data_paths
from kspec.errors import CODES, SpecError, did_you_mean, shorten
from kspec.lang.base import StrictModel

SOURCES: dict[str, type[SourceBase]] = {}
STEPS: dict[str, type[StepBase]] = {}

_M = TypeVar("_M", bound=StrictModel)


def _register(table: dict[str, Any]) -> Callable[[type[_M]], type[_M]]:
    def deco(cls: type[_M]) -> type[_M]:
        tag = cls.model_fields["type"].default
        table[tag] = cls
        return cls

    return deco


def _bare_name(value: Any) -> Any:
    """`mnist` is short for `{type: mnist}`."""
    return {"type": value} if isinstance(value, str) else value


# --------------------------------------------------------------------------------------------------------- sources


class SourceBase(StrictModel):
    """Where the examples come from."""

    type: str
    keras_dataset: ClassVar[bool] = False


class _KerasImages(SourceBase):
    keras_dataset: ClassVar[bool] = True


@_register(SOURCES)
class Mnist(_KerasImages):
    """`keras.datasets.mnist`: 60,000 + 10,000 grey 28x28 digits (uint8), integer labels."""

    type: Literal["mnist"] = "mnist"


@_register(SOURCES)
class FashionMnist(_KerasImages):
    """`keras.datasets.fashion_mnist`: 28x28 grey clothing images, 10 classes."""

    type: Literal["fashion_mnist"] = "fashion_mnist"


@_register(SOURCES)
class Cifar10(_KerasImages):
    """`keras.datasets.cifar10`: 50,000 + 10,000 colour 32x32 images, labels of shape (n, 1)."""

    type: Literal["cifar10"] = "cifar10"


@_register(SOURCES)
class Cifar100(_KerasImages):
    """`keras.datasets.cifar100`: 100 fine or 20 coarse classes."""

    type: Literal["cifar100"] = "cifar100"
    label_mode: Literal["fine", "coarse"] = "fine"


class _KerasSequences(SourceBase):
    keras_dataset: ClassVar[bool] = True
    num_words: int | None = Field(None, ge=1, description="keep the most frequent words only")
    skip_top: int = Field(0, ge=0)
    maxlen: int | None = Field(None, ge=1, description="drop reviews longer than this (use pad_sequences to cut)")
    seed: int = 113
    start_char: int | None = 1
    oov_char: int | None = 2
    index_from: int = 3


@_register(SOURCES)
class Imdb(_KerasSequences):
    """`keras.datasets.imdb`: 25,000 + 25,000 movie reviews as word-index sequences, labels 0/1."""

    type: Literal["imdb"] = "imdb"


@_register(SOURCES)
class Reuters(_KerasSequences):
    """`keras.datasets.reuters`: newswires as word-index sequences, 46 topics."""

    type: Literal["reuters"] = "reuters"
    test_split: float = Field(0.2, gt=0, lt=1)


@_register(SOURCES)
class BostonHousing(SourceBase):
    """`keras.datasets.boston_housing`: 13 features, price target (regression)."""

    keras_dataset: ClassVar[bool] = True
    type: Literal["boston_housing"] = "boston_housing"
    test_split: float = Field(0.2, gt=0, lt=1)
    seed: int = 113


class _Sklearn(SourceBase):
    """A scikit-learn toy dataset (ships with the package, needs no download); split into train/test here."""

    test_split: float = Field(0.2, ge=0, lt=1, description="fraction held out as the test split")
    seed: int = 0


@_register(SOURCES)
class Digits(_Sklearn):
    """`sklearn.datasets.load_digits`: 1,797 8x8 digit images as 64 features (values 0..16), 10 classes."""

    type: Literal["digits"] = "digits"


@_register(SOURCES)
class Iris(_Sklearn):
    type: Literal["iris"] = "iris"


@_register(SOURCES)
class Wine(_Sklearn):
    type: Literal["wine"] = "wine"


@_register(SOURCES)
class BreastCancer(_Sklearn):
    type: Literal["breast_cancer"] = "breast_cancer"


@_register(SOURCES)
class Diabetes(_Sklearn):
    type: Literal["diabetes"] = "diabetes"


class _File(SourceBase):
    path: str = Field(min_length=1, description="relative to the spec's folder, and inside it")
    #: fields holding paths relative to the spec's folder, and whether each names a file or a folder
    path_fields: ClassVar[dict[str, data_paths.Kind]] = {"path": "file"}


@_register(SOURCES)
class Npz(_File):
    """A NumPy `.npz` archive; the array names default to Keras's own (`x_train`, `y_train`, `x_test`, `y_test`)."""

    type: Literal["npz"] = "npz"
    x: str = "x_train"
    y: str | None = "y_train"
    x_test: str | None = "x_test"
    y_test: str | None = "y_test"


@_register(SOURCES)
class Npy(_File):
    """`.npy` files: `path` holds the inputs, `targets` (optional) the targets."""

    type: Literal["npy"] = "npy"
    targets: str | None = None
    path_fields: ClassVar[dict[str, data_paths.Kind]] = {"path": "file", "targets": "file"}


@_register(SOURCES)
class Csv(_File):
    """A CSV file with a header row; columns are chosen by name."""

    type: Literal["csv"] = "csv"
    features: list[str] = Field(min_length=1)
    targets: list[str] = Field(default_factory=list, description="empty: no targets (e.g. for a `window` step)")
    delimiter: str = Field(",", min_length=1, max_length=1)
    skip_footer: int = Field(0, ge=0, description="lines to ignore at the end (the book's airline file has 3)")


@_register(SOURCES)
class ImageFolder(_File):
    """One sub-folder per class (`keras.utils.image_dataset_from_directory`)."""

    type: Literal["image_folder"] = "image_folder"
    path_fields: ClassVar[dict[str, data_paths.Kind]] = {"path": "folder"}
    image_size: list[int] = Field([256, 256], min_length=2, max_length=2)
    color_mode: Literal["grayscale", "rgb", "rgba"] = "rgb"
    test_split: float = Field(0.0, ge=0, lt=1)
    seed: int = 0


@_register(SOURCES)
class TextFolder(_File):
    """One sub-folder per class of `.txt` files; texts become integer sequences (`TextVectorization`)."""

    type: Literal["text_folder"] = "text_folder"
    path_fields: ClassVar[dict[str, data_paths.Kind]] = {"path": "folder"}
    max_tokens: int = Field(20000, ge=2)
    sequence_length: int = Field(200, ge=1)
    test_split: float = Field(0.0, ge=0, lt=1)
    seed: int = 0


@_register(SOURCES)
class Synthetic(SourceBase):
    """Random inputs shaped like the model's inputs, with targets from a fixed random rule a model can learn."""

    type: Literal["synthetic"] = "synthetic"
    samples: int = Field(1000, ge=1)
    test_samples: int = Field(200, ge=0)
    task: Literal["auto", "classification", "regression", "normal"] = Field(
        "auto",
        description="auto: classification when the output has more than one unit; "
        "normal: samples of N(mean, std) with no targets (the ch7 GAN's real data)",
    )
    input_shape: list[int] | None = Field(None, description="default: the main model's input shape")
    output_shape: list[int] | None = Field(None, description="default: the main model's output shape")
    vocab: int | None = Field(None, ge=2, description="integer inputs in [0, vocab) (for Embedding models)")
    mean: float = 0.0
    std: float = Field(1.0, gt=0)
    seed: int = 0


# ---------------------------------------------------------------------------------------------------------- steps

Part = Literal["x", "y", "both"]


class StepBase(StrictModel):
    """One preprocessing step; steps run in the order written."""

    type: str
    #: whether the step runs inside the tf.data pipeline on every batch (augmentation) rather than once up front
    on_the_fly: ClassVar[bool] = False


class _XStep(StepBase):
    on: Part = Field("x", description="which arrays the step changes: x (inputs), y (targets) or both")


@_register(STEPS)
class Scale(_XStep):
    """`x / divide * multiply + offset`; `{type: scale, divide: 255}` or `range: [-1, 1]` for uint8 images."""

    type: Literal["scale"] = "scale"
    divide: float = Field(1.0, description="divide by this first (e.g. 255)")
    multiply: float = 1.0
    offset: float = 0.0
    range: list[float] | None = Field(
        None, min_length=2, max_length=2, description="map [0, 255] to this range, e.g. [-1, 1] (overrides the rest)"
    )

    @model_validator(mode="after")
    def _nonzero(self) -> Scale:
        if self.divide == 0:
            raise PydanticCustomError(
                "wrong_type", "`divide` must not be 0", {"at": ("divide",), "hint": "e.g. divide: 255 for uint8 images"}
            )
        return self


@_register(STEPS)
class Standardize(_XStep):
    """`(x - mean) / std`, statistics fitted on the training split only (per feature unless `axis: all`)."""

    type: Literal["standardize"] = "standardize"
    axis: Literal["feature", "all"] = "feature"


@_register(STEPS)
class MinMax(_XStep):
    """Min-max scaling to [0, 1] (scikit-learn's MinMaxScaler), fitted on the training split only."""

    type: Literal["minmax"] = "minmax"
    axis: Literal["feature", "all"] = "feature"


@_register(STEPS)
class Reshape(_XStep):
    """Reshape every example (batch axis excluded); one entry may be -1."""

    type: Literal["reshape"] = "reshape"
    shape: list[int] = Field(min_length=1)


@_register(STEPS)
class Flatten(_XStep):
    """`(n, 28, 28) -> (n, 784)`."""

    type: Literal["flatten"] = "flatten"


@_register(STEPS)
class AddChannel(_XStep):
    """`(n, 28, 28) -> (n, 28, 28, 1)` (channels last)."""

    type: Literal["add_channel"] = "add_channel"


@_register(STEPS)
class Cast(_XStep):
    type: Literal["cast"] = "cast"
    dtype: Literal["float32", "float16", "int32", "int64", "uint8"] = "float32"


@_register(STEPS)
class OneHot(StepBase):
    """Integer labels -> one-hot rows (done on the fly per batch in the pipeline, not as a stored copy)."""

    type: Literal["one_hot"] = "one_hot"
    classes: int | None = Field(None, ge=2, description="default: largest label + 1")


@_register(STEPS)
class Sparse(StepBase):
    """One-hot rows (or `(n, 1)` labels) -> integer labels `(n,)`."""

    type: Literal["sparse"] = "sparse"


@_register(STEPS)
class PadSequences(StepBase):
    """`keras.utils.pad_sequences` on the inputs (integer sequences)."""

    type: Literal["pad_sequences"] = "pad_sequences"
    maxlen: int = Field(ge=1)
    padding: Literal["pre", "post"] = "pre"
    truncating: Literal["pre", "post"] = "pre"
    value: int = 0


@_register(STEPS)
class InputAsTarget(StepBase):
    """The targets become a copy of the inputs as they are now (autoencoders; image-to-image pairs)."""

    type: Literal["input_as_target"] = "input_as_target"


@_register(STEPS)
class RgbToGray(_XStep):
    """Luma `0.299 R + 0.587 G + 0.114 B`, keeping a channel axis of 1 (the ch8 colourisation input)."""

    type: Literal["rgb_to_gray"] = "rgb_to_gray"


@_register(STEPS)
class Channels(_XStep):
    """Keep some channels of images, e.g. `keep: [0, 1]` for the R and G planes."""

    type: Literal["channels"] = "channels"
    keep: list[int] = Field(min_length=1)


@_register(STEPS)
class PreprocessInput(_XStep):
    """`keras.applications.imagenet_utils.preprocess_input` for pretrained ImageNet models (book ch9.2): `caffe`
    (RGB->BGR, minus the ImageNet channel means; VGG16/19, ResNet50), `tf` (to [-1, 1]) or `torch` (ImageNet z-score).
    Inputs are 0..255 pixel values."""

    type: Literal["preprocess_input"] = "preprocess_input"
    mode: Literal["caffe", "tf", "torch"] = "caffe"


@_register(STEPS)
class Window(StepBase):
    """Sliding windows over a series: `x[i:i+size]` -> `x[i+size+horizon-1, column]`."""

    type: Literal["window"] = "window"
    size: int = Field(ge=1)
    horizon: int = Field(1, ge=1)
    column: int = Field(0, ge=0, description="which feature is predicted")


@_register(STEPS)
class Take(StepBase):
    """Keep a subset of one split: the first `count` examples or a `fraction` (randomly when `seed` is given)."""

    type: Literal["take"] = "take"
    count: int | None = Field(None, ge=1)
    fraction: float | None = Field(None, gt=0, le=1)
    split: Literal["train", "validation", "test", "all"] = "train"
    seed: int | None = None

    @model_validator(mode="after")
    def _one(self) -> Take:
        if (self.count is None) == (self.fraction is None):
            raise ValueError("give exactly one of `count` or `fraction`")
        return self


@_register(STEPS)
class Split(StepBase):
    """Hold out validation and/or test examples from the training split (shuffled with `seed`)."""

    type: Literal["split"] = "split"
    validation: float = Field(0.0, ge=0, lt=1)
    test: float = Field(0.0, ge=0, lt=1)
    seed: int = 0
    replace_test: bool = Field(False, description="drop the source's own test split (as ch4's cifar10 does)")

    @model_validator(mode="after")
    def _some(self) -> Split:
        if self.validation + self.test >= 1 or self.validation + self.test == 0:
            raise ValueError("`validation` + `test` must be above 0 and below 1")
        return self


#: layer types an `augment` step accepts besides every `Random*` layer
AUGMENTATION_LAYERS = ("RandAugment", "AugMix", "MixUp", "CutMix")


def is_augmentation_layer(type_name: str) -> bool:
    return type_name.startswith("Random") or type_name in AUGMENTATION_LAYERS


@_register(STEPS)
class Augment(StepBase):
    """Keras augmentation layers applied to training batches only, e.g. `layers: [{type: RandomRotation, ...}]`."""

    type: Literal["augment"] = "augment"
    on_the_fly: ClassVar[bool] = True
    layers: list[dict[str, Any]] = Field(min_length=1, description="`{type: RandomFlip, mode: horizontal}` ...")


def _union(table: dict[str, Any]) -> Any:
    return Annotated[Union[tuple(table.values())], Field(discriminator="type")]  # noqa: UP007


if TYPE_CHECKING:
    Source = SourceBase
    Step = StepBase
else:
    # Editors see the short form too: a bare name is as good as `{type: name}`.
    _SourceInput = Union[Literal[tuple(SOURCES)], _union(SOURCES)]  # noqa: UP007
    _StepInput = Union[Literal[tuple(STEPS)], _union(STEPS)]  # noqa: UP007
    Source = Annotated[_union(SOURCES), BeforeValidator(_bare_name, json_schema_input_type=_SourceInput)]
    Step = Annotated[_union(STEPS), BeforeValidator(_bare_name, json_schema_input_type=_StepInput)]


class DataSpec(StrictModel):
    """The `data:` section: a source, then preprocessing steps in order.

    Example:
        ```yaml
        data:
          source: mnist
          preprocess: [flatten, {type: scale, divide: 255}, one_hot]
        ```
    """

    source: Source = Field(description="a dataset name (mnist, digits, ...) or {type: csv, path: ...}")
    preprocess: list[Step] = Field(default_factory=list, description="steps applied in order")
    cache: Literal["auto"] | bool = Field("auto", description="cache the prepared examples in memory (auto: yes)")
    shuffle_buffer: int | None = Field(None, ge=1, description="default: the whole training split")


def _value_at(data: Any, path: tuple[Any, ...]) -> Any:
    for item in path:
        try:
            data = data[item]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _tag_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return str(value["type"])
    return None


def _registry_for(path: tuple[Any, ...]) -> dict[str, Any] | None:
    keys = [p for p in path if isinstance(p, str)]
    if keys[-1:] == ["source"]:
        return SOURCES
    if keys[-1:] == ["preprocess"]:
        return STEPS
    return None


def explain_error(err: dict[str, Any], data: Any) -> tuple[tuple[Any, ...], str, str, str | None] | None:
    """Translate a Pydantic error under `data:` into `(document path, message, code, hint)`, or None if generic.

    Pydantic puts a discriminated union's tag into `loc` (`data.preprocess[0].scale.divide`); this drops it so the
    path is a real document path, names unknown sources and steps with a did-you-mean, and suggests field names of
    the source or step the entry really is. `data` is the whole document.
    """
    loc: list[Any] = []
    for item in err["loc"]:
        if isinstance(item, str) and (
            item.startswith(("function-", "tagged-union"))
            or _tag_of(_value_at(data, tuple(loc))) == item
            and _registry_for(tuple(loc))
        ):
            continue
        loc.append(item)
    path = tuple(loc)
    kind = str(err["type"])
    ctx = err.get("ctx") or {}
    if kind.replace("_", "-") in CODES:  # raised by a validator here, as PydanticCustomError(code, message, ctx)
        return (*path, *ctx.get("at", ())), str(err["msg"]), kind.replace("_", "-"), ctx.get("hint")
    if kind == "missing" and path != tuple(err["loc"]) and len(path) >= 2:
        owner, name = path[:-1], str(path[-1])
        tag = _tag_of(_value_at(data, owner))
        add = f"write it as `{{type: {tag}, {name}: ...}}`" if tag else f"add `{name}:`"
        return owner, f"missing field '{name}'" + (f" for `{tag}`" if tag else ""), "missing-field", add
    if err["type"] == "union_tag_invalid":
        table = _registry_for(path)
        if table is None:
            return None
        tag = _tag_of(_value_at(data, path)) or "?"
        what = "source" if table is SOURCES else "preprocessing step"
        return path, f"unknown {what} '{tag}'", "bad-value", did_you_mean(tag, table) or f"one of: {', '.join(table)}"
    if err["type"] == "extra_forbidden" and len(path) >= 2:
        owner = path[:-1]
        table = _registry_for(owner[:-1]) if isinstance(owner[-1], int) else _registry_for(owner)
        owner_tag = _tag_of(_value_at(data, owner))
        if table is not None and owner_tag in table:
            tag = str(owner_tag)
            fields = [f for f in table[tag].model_fields if f != "type"]
            hint = did_you_mean(str(path[-1]), fields) or (f"`{tag}` takes: {', '.join(fields)}" if fields else None)
            return path, f"unknown field '{path[-1]}' for `{tag}`", "unknown-field", hint
    if path != tuple(err["loc"]):
        msg = str(err.get("ctx", {}).get("error", err["msg"])) if err["type"] == "value_error" else err["msg"]
        return path, msg[0].lower() + msg[1:], "wrong-type", None
    return None


# ---------------------------------------------------------------------------------------------------------- checks


def check_data(data: DataSpec | None, folder: Path, *, allow_unsafe: bool = False) -> Iterator[SpecError]:
    """Checks of the `data:` section that need no data: file paths and augmentation layers. Pure Python.

    Args:
        data: the parsed `data:` section (None: nothing to check).
        folder: the spec file's folder; file paths are relative to it and must stay inside it.
        allow_unsafe: accept augmentation layers that run code from outside the spec (as for model layers).

    Yields:
        Errors at document paths: `data-error` for a URL, an absolute path, a path that resolves outside `folder`
        or is not a regular file/folder; a `data-error` warning for a file that does not exist (yet); the layer
        checks' codes (`unsafe-layer`, `unknown-argument`, ...) for augmentation layers.
    """
    if data is None:
        return
    yield from _check_paths(data.source, folder)
    for i, step in enumerate(data.preprocess):
        if isinstance(step, Augment):
            yield from _check_augment(step, ("data", "preprocess", i), allow_unsafe)


def _check_paths(source: SourceBase, folder: Path) -> Iterator[SpecError]:
    for name, kind in getattr(source, "path_fields", {}).items():
        rel = getattr(source, name)
        if rel is None:
            continue
        path = ("data", "source", name)
        try:
            full = data_paths.resolve_inside(folder, rel)
        except data_paths.PathProblem as problem:
            yield SpecError(problem.message, path, "data-error", hint=problem.hint)
            continue
        wrong = data_paths.kind_problem(full, rel, kind)
        if wrong is not None:
            yield SpecError(wrong.message, path, "data-error", hint=wrong.hint)
        elif not full.exists():
            yield SpecError(
                f"no {kind} {shorten(rel)} next to the spec (looked for {full})",
                path,
                "data-error",
                severity="warning",
                hint="paths are relative to the spec file's folder; `kspec train` needs it there",
            )


def _check_augment(step: Augment, path: tuple[str | int, ...], allow_unsafe: bool) -> Iterator[SpecError]:
    for j, layer in enumerate(step.layers):
        at = (*path, "layers", j)
        type_name = layer.get("type")
        if not isinstance(type_name, str):
            yield SpecError("an augmentation layer needs `type:`", at, "missing-field", hint="e.g. {type: RandomFlip}")
            continue
        args = {k: v for k, v in layer.items() if k != "type"}
        found = [e.prefixed(at) for e in catalog.check_layer(type_name, args, allow_unsafe=allow_unsafe)]
        yield from found
        if not any(e.severity == "error" for e in found) and not is_augmentation_layer(type_name):
            yield SpecError(
                f"'{type_name}' is not an augmentation layer",
                (*at, "type"),
                "data-error",
                hint=did_you_mean(type_name, _augmentation_names())
                or "augment takes Random* layers (RandomFlip, RandomRotation, ...), RandAugment, AugMix, MixUp, CutMix",
            )


def _augmentation_names() -> list[str]:
    return [n for n in catalog.layer_names() if is_augmentation_layer(n)]
