"""Stage parse: the preprocessing steps of the `data:` section, one small Pydantic model each, registered by name
in `STEPS`. Pure Python and Pydantic; no numpy, no keras."""

from typing import Any, ClassVar, Literal, NamedTuple

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from kspec.lang.base import StrictModel
from kspec.lang.data_sources import register

STEPS: dict[str, type["StepBase"]] = {}


# ---------------------------------------------------------------------------------------------------------- steps

Part = Literal["x", "y", "both"]


class StepEnv(NamedTuple):
    """What a step may take its defaults from besides the data: the spec's `train.seed` and the trained model's
    input names (in order)."""

    seed: int | None = None
    input_names: tuple[str, ...] = ()


class StepBase(StrictModel):
    """One preprocessing step; steps run in the order written."""

    type: str
    #: whether the step runs inside the tf.data pipeline on every batch (augmentation) rather than once up front
    on_the_fly: ClassVar[bool] = False

    def resolved(self, env: StepEnv) -> "StepBase":
        """The step with the defaults it takes from `env` filled in (most steps take none)."""
        return self


class _XStep(StepBase):
    on: Part | list[str] = Field(
        "x",
        description="which arrays the step changes: x (inputs), y (targets), both, or named arrays by model input "
        "or output name, e.g. [title, body]",
    )

    @model_validator(mode="after")
    def _names(self) -> "_XStep":
        if isinstance(self.on, list) and not self.on:
            raise PydanticCustomError(
                "wrong_type", "`on` names no array", {"at": ("on",), "hint": "e.g. on: [title], or on: x"}
            )
        return self


@register(STEPS)
class Scale(_XStep):
    """`x / divide * multiply + offset`; `{type: scale, divide: 255}` or `range: [-1, 1]` for uint8 images."""

    type: Literal["scale"] = "scale"
    divide: float = Field(1.0, description="divide by this first (e.g. 255)")
    multiply: float = Field(1.0, description="multiply the values by this (after dividing)")
    offset: float = Field(0.0, description="then add this")
    range: list[float] | None = Field(
        None, min_length=2, max_length=2, description="map [0, 255] to this range, e.g. [-1, 1] (overrides the rest)"
    )

    @model_validator(mode="after")
    def _nonzero(self) -> "Scale":
        if self.divide == 0:
            raise PydanticCustomError(
                "wrong_type", "`divide` must not be 0", {"at": ("divide",), "hint": "e.g. divide: 255 for uint8 images"}
            )
        return self


@register(STEPS)
class Standardize(_XStep):
    """`(x - mean) / std`, statistics fitted on the training split only (per feature unless `axis: all`)."""

    type: Literal["standardize"] = "standardize"
    axis: Literal["feature", "all"] = Field(
        "feature", description="feature: per feature (column); all: over all values"
    )


@register(STEPS)
class MinMax(_XStep):
    """Min-max scaling to [0, 1] (scikit-learn's MinMaxScaler), fitted on the training split only."""

    type: Literal["minmax"] = "minmax"
    axis: Literal["feature", "all"] = Field(
        "feature", description="feature: per feature (column); all: over all values"
    )


@register(STEPS)
class Reshape(_XStep):
    """Reshape every example (batch axis excluded); one entry may be -1."""

    type: Literal["reshape"] = "reshape"
    shape: list[int] = Field(min_length=1, description="the new shape of each sample (without the batch axis)")


@register(STEPS)
class Flatten(_XStep):
    """`(n, 28, 28) -> (n, 784)`."""

    type: Literal["flatten"] = "flatten"


@register(STEPS)
class AddChannel(_XStep):
    """`(n, 28, 28) -> (n, 28, 28, 1)` (channels last)."""

    type: Literal["add_channel"] = "add_channel"


@register(STEPS)
class Cast(_XStep):
    type: Literal["cast"] = "cast"
    dtype: Literal["float32", "float16", "int32", "int64", "uint8"] = Field(
        "float32", description="the dtype to cast to"
    )


@register(STEPS)
class OneHot(StepBase):
    """Integer labels -> one-hot rows (done on the fly per batch in the pipeline, not as a stored copy)."""

    type: Literal["one_hot"] = "one_hot"
    classes: int | None = Field(None, ge=2, description="default: largest label + 1")


@register(STEPS)
class Sparse(StepBase):
    """One-hot rows (or `(n, 1)` labels) -> integer labels `(n,)`."""

    type: Literal["sparse"] = "sparse"


@register(STEPS)
class PadSequences(StepBase):
    """`keras.utils.pad_sequences` on the inputs (integer sequences)."""

    type: Literal["pad_sequences"] = "pad_sequences"
    maxlen: int = Field(ge=1, description="length every sequence is padded or cut to")
    padding: Literal["pre", "post"] = Field("pre", description="pad at the start (pre) or the end (post)")
    truncating: Literal["pre", "post"] = Field("pre", description="cut at the start (pre) or the end (post)")
    value: int = Field(0, description="the padding value")


@register(STEPS)
class InputAsTarget(StepBase):
    """The targets become a copy of the inputs as they are now (autoencoders; image-to-image pairs)."""

    type: Literal["input_as_target"] = "input_as_target"


@register(STEPS)
class RgbToGray(_XStep):
    """Luma `0.299 R + 0.587 G + 0.114 B`, keeping a channel axis of 1 (the ch8 colourisation input)."""

    type: Literal["rgb_to_gray"] = "rgb_to_gray"


@register(STEPS)
class Noise(_XStep):
    """Gaussian noise added once to every split (a denoising autoencoder's noisy inputs; targets copied from the
    inputs by an earlier `input_as_target` stay clean)."""

    type: Literal["noise"] = "noise"
    stddev: float = Field(gt=0, allow_inf_nan=False, description="standard deviation, e.g. 0.4 for images in [0, 1]")
    mean: float = Field(0.0, allow_inf_nan=False, description="mean of the noise")
    clip: list[float] | None = Field(None, min_length=2, max_length=2, description="clip the result, e.g. [0, 1]")
    seed: int = Field(0, description="seed of the noise (each split draws its own from it)")


@register(STEPS)
class Channels(_XStep):
    """Keep some channels of images, e.g. `keep: [0, 1]` for the R and G planes."""

    type: Literal["channels"] = "channels"
    keep: list[int] = Field(min_length=1, description="indices of the channels to keep")


@register(STEPS)
class PreprocessInput(_XStep):
    """`keras.applications.imagenet_utils.preprocess_input` for pretrained ImageNet models (book ch9.2): `caffe`
    (RGB->BGR, minus the ImageNet channel means; VGG16/19, ResNet50), `tf` (to [-1, 1]) or `torch` (ImageNet z-score).
    Inputs are 0..255 pixel values."""

    type: Literal["preprocess_input"] = "preprocess_input"
    mode: Literal["caffe", "tf", "torch"] = Field(
        "caffe", description="the keras.applications preprocessing convention"
    )


@register(STEPS)
class Window(StepBase):
    """Sliding windows over a series: `x[i:i+size]` -> `x[i+size+horizon-1, column]`."""

    type: Literal["window"] = "window"
    size: int = Field(ge=1, description="time steps per input window")
    horizon: int = Field(1, ge=1, description="steps ahead the target is")
    column: int = Field(0, ge=0, description="which feature is predicted")


@register(STEPS)
class Take(StepBase):
    """Keep a subset of one split: the first `count` examples or a `fraction` (randomly when `seed` is given)."""

    type: Literal["take"] = "take"
    count: int | None = Field(None, ge=1, description="keep this many samples")
    fraction: float | None = Field(None, gt=0, le=1, description="or keep this fraction of the samples")
    split: Literal["train", "validation", "test", "all"] = Field("train", description="which split to shrink")
    seed: int | None = Field(None, description="shuffle before taking (null: take the first ones)")

    @model_validator(mode="after")
    def _one(self) -> "Take":
        if (self.count is None) == (self.fraction is None):
            raise ValueError("give exactly one of `count` or `fraction`")
        return self


@register(STEPS)
class Split(StepBase):
    """Hold out validation and/or test examples from the training split (shuffled with `seed`)."""

    type: Literal["split"] = "split"
    validation: float = Field(0.0, ge=0, lt=1, description="fraction of the training split held out for validation")
    test: float = Field(0.0, ge=0, lt=1, description="fraction of the training split held out as the test split")
    seed: int = Field(0, description="seed of the shuffle before splitting")
    replace_test: bool = Field(False, description="drop the source's own test split (as ch4's cifar10 does)")

    @model_validator(mode="after")
    def _some(self) -> "Split":
        if self.validation + self.test >= 1 or self.validation + self.test == 0:
            raise ValueError("`validation` + `test` must be above 0 and below 1")
        return self


#: layer types an `augment` step accepts besides every `Random*` layer
AUGMENTATION_LAYERS = ("RandAugment", "AugMix", "MixUp", "CutMix")


def is_augmentation_layer(type_name: str) -> bool:
    return type_name.startswith("Random") or type_name in AUGMENTATION_LAYERS


@register(STEPS)
class Augment(StepBase):
    """Keras augmentation layers applied to training batches only, e.g. `layers: [{type: RandomRotation, ...}]`."""

    type: Literal["augment"] = "augment"
    on_the_fly: ClassVar[bool] = True
    layers: list[dict[str, Any]] = Field(min_length=1, description="`{type: RandomFlip, mode: horizontal}` ...")


@register(STEPS)
class Pairs(StepBase):
    """Pairs for a Siamese network from labelled single examples (keras.io's "Image similarity estimation using a
    Siamese Network with a contrastive loss"): every example is paired once with a random example of its own class
    (target `same`) and once with a random example of another class (target `different`), so the pairs are balanced.
    Each split is paired within itself; the inputs become two named arrays, the targets the pair labels."""

    type: Literal["pairs"] = "pairs"
    inputs: list[str] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="the two model inputs the pair feeds, e.g. [left, right] (default: the model's two inputs)",
    )
    same: float = Field(1.0, allow_inf_nan=False, description="target of a pair of one class (keras.io: 1)")
    different: float = Field(0.0, allow_inf_nan=False, description="target of a pair of two classes (keras.io: 0)")
    per_example: int = Field(1, ge=1, le=100, description="same-class and other-class pairs made per example")
    seed: int | None = Field(None, description="seed of the pairing (default: train.seed, else 0)")

    def resolved(self, env: StepEnv) -> "Pairs":
        inputs = self.inputs or (list(env.input_names) if len(env.input_names) == 2 else None)
        return self.model_copy(update={"inputs": inputs, "seed": self.seed if self.seed is not None else env.seed or 0})
