"""Stage 2, parse: the `train:` section (recipe, compile and fit settings, speed switches), and its validate-time
checks (`check_train`). Pydantic and pure Python only: no numpy, no keras.

Field names follow `Model.compile` and `Model.fit` so a spec reads like the book's code. Optimizers, losses,
metrics, callbacks and schedules are a Keras identifier or `{type: ClassName, ...arguments}`, as everywhere in kspec.
"""

import math
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from kspec import paths as data_paths
from kspec.errors import Path, SpecError, did_you_mean
from kspec.lang.base import StrictModel, dict_or_list

KerasObject = str | dict[str, Any]
#: One weight per output: a list in output order, or a mapping by output name (only that branch's errors are shown).
LossWeights = Annotated[Annotated[list[float], Tag("list")] | Annotated[dict[str, float], Tag("dict")],
                        Discriminator(dict_or_list)]  # fmt: skip

PlotName = Literal["history", "confusion_matrix", "regression", "reconstructions", "image_pairs", "samples"]
PLOTS: tuple[str, ...] = get_args(PlotName)


class GanSpec(StrictModel):
    """How the `gan` recipe alternates discriminator and generator updates.

    Example:
        ```yaml
        gan: {generator: generator, discriminator: discriminator, d_steps: 1, g_steps: 5, sample_every: 10}
        ```
    """

    generator: str = Field("generator", description="name of the generator model (noise -> sample)")
    discriminator: str = Field("discriminator", description="name of the discriminator model (sample -> P(real))")
    combined: str | None = Field(None, description="name of the stacked G->D model, if the spec defines one")
    d_steps: int = Field(1, ge=1, description="discriminator updates per round")
    g_steps: int = Field(1, ge=1, description="generator updates per round")
    real_label: float = Field(1.0, description="discriminator target for real samples (e.g. 0.9 for smoothing)")
    fake_label: float = Field(0.0, description="discriminator target for generated samples")
    noise: Literal["uniform", "normal"] = Field("uniform", description="distribution of the generator's input noise")
    noise_range: list[float] = Field([-1.0, 1.0], min_length=2, max_length=2, description="for uniform noise")
    sample_every: int = Field(10, ge=1, description="save a grid of generated samples every N epochs")
    d_optimizer: KerasObject | None = Field(None, description="default: a fresh copy of `optimizer`")
    g_optimizer: KerasObject | None = Field(None, description="default: a fresh copy of `optimizer`")


class TrainSpec(StrictModel):
    """The `train:` section.

    Example:
        ```yaml
        train:
          optimizer: adam
          loss: categorical_crossentropy
          metrics: [accuracy]
          epochs: 5
          batch_size: 100
          validation_split: 0.2
        ```
    """

    recipe: Literal["fit", "autoencoder", "gan", "tape"] = Field(
        "fit",
        description="fit (supervised, incl. image-to-image), autoencoder (input is the target), "
        "gan (alternating D/G updates), tape (a GradientTape loop equivalent to fit)",
    )
    model: str | None = Field(None, description="which model to train (default: the single or last model)")
    optimizer: KerasObject = Field("adam", description="e.g. adam or {type: SGD, learning_rate: 0.01, momentum: 0.9}")
    loss: KerasObject | None = Field(
        None,
        description="e.g. categorical_crossentropy, or one per output by output name: {decoded: mse, label: "
        "categorical_crossentropy}; required except for gan",
    )
    metrics: list[KerasObject] = Field(default_factory=list, description="e.g. [accuracy]; names or {type: ...}")
    loss_weights: LossWeights | None = Field(None, description="per output, in order, or by name: {decoded: 1.0}")
    epochs: int = Field(1, ge=1, description="passes over the training split")
    batch_size: int = Field(32, ge=1, description="samples per gradient update")
    steps_per_epoch: int | None = Field(None, ge=1, description="default: the whole training split")
    shuffle: bool = Field(True, description="shuffle the training split every epoch")
    validation_split: float = Field(0.0, ge=0, lt=1, description="last fraction of the training split, as in fit")
    validation_data: Literal["validation", "test", "none"] = Field(
        "validation", description="validation: a `split` step's or validation_split's; test: the test split (book ch5)"
    )
    class_weight: dict[int, float] | None = Field(None, description="class index -> loss weight, as in fit")
    schedule: KerasObject | None = Field(
        None,
        description="learning-rate schedule, e.g. {type: ExponentialDecay,"
        " initial_learning_rate: 0.01, decay_steps: 1000,"
        " decay_rate: 0.9}",
    )
    lr_table: dict[Annotated[int, Field(ge=0)], Annotated[float, Field(gt=0, allow_inf_nan=False)]] | None = Field(
        None, description="learning rate from each epoch (0-based) on, e.g. {0: 0.001, 10: 0.0001}"
    )
    clipnorm: float | None = Field(None, gt=0, description="clip each gradient to this norm (optimizer argument)")
    clipvalue: float | None = Field(None, gt=0, description="clip each gradient element to [-v, v]")
    global_clipnorm: float | None = Field(None, gt=0, description="clip all gradients together to this norm")
    callbacks: list[KerasObject] = Field(default_factory=list, description="EarlyStopping, ReduceLROnPlateau, ...")
    gan: GanSpec | None = Field(None, description="settings of the `gan` recipe")
    seed: int | None = Field(0, description="Python/NumPy/Keras seeds; null: not seeded")
    deterministic: bool = Field(False, description="TensorFlow op determinism (slower, bit-identical reruns)")
    mixed_precision: bool = Field(False, description="mixed_float16 compute (faster on GPUs, not on CPUs)")
    jit_compile: Literal["auto"] | bool = Field("auto", description="XLA; auto: on where supported, else off")
    steps_per_execution: Literal["auto"] | int = Field("auto", description="batches per compiled call")
    feed: Literal["auto", "resident", "tf.data"] = Field(
        "auto",
        description="how batches reach the model: resident (the split held as tensors, each batch gathered inside the"
        " compiled loop) or tf.data (a pipeline into Model.fit); auto: resident unless steps_per_epoch, augmentation,"
        " tf.distribute or a custom loop need tf.data",
    )
    distribute: Literal["none", "mirrored", "multi_worker"] = Field("none", description="tf.distribute strategy")
    distribute_timeout: float | None = Field(None, gt=0, le=86400, description="multi_worker: seconds to await peers")
    logical_devices: int | None = Field(None, ge=1, le=64, description="split the CPU in N devices (mirrored)")
    verbose: Literal["auto", 0, 1, 2] = Field(
        "auto", description="progress: auto (a live line in a terminal, one per epoch elsewhere), 2 plain lines, 0 none"
    )
    evaluate: bool = Field(True, description="evaluate on the test split at the end (metrics.json)")
    plots: Literal["auto", "none"] | list[PlotName] = Field("auto", description="PNG plots written to the run folder")
    tensorboard: bool = Field(
        False, description="TensorBoard logs in the run folder (pip install 'kspec[tensorboard]')"
    )

    @model_validator(mode="after")
    def _consistent(self) -> "TrainSpec":
        if self.recipe != "gan" and self.loss is None:
            raise PydanticCustomError(
                "missing_field",
                f"recipe `{self.recipe}` needs a `loss`",
                {"hint": "add e.g. `loss: categorical_crossentropy` (or `loss: mse` for regression)"},
            )
        if self.gan is not None and self.recipe != "gan":
            raise PydanticCustomError(
                "wrong_type",
                "`gan:` settings apply to `recipe: gan` only",
                {"at": ("gan",), "hint": f"remove `gan:` or set `recipe: gan` (the recipe is `{self.recipe}`)"},
            )
        if self.lr_table is not None and self.schedule is not None:
            raise PydanticCustomError("wrong_type", "give either `schedule` (per step) or `lr_table` (per epoch), "
                                      "not both", {"at": ("lr_table",)})  # fmt: skip
        for key in ("callbacks", "class_weight", "lr_table"):
            if getattr(self, key) and self.recipe in ("tape", "gan"):
                raise PydanticCustomError(
                    "wrong_type",
                    f"`{key}` applies to the fit and autoencoder recipes; recipe `{self.recipe}` is kspec's own loop",
                    {"at": (key,), "hint": f"remove `{key}`, or train with `recipe: fit`"},
                )
        if self.validation_split and self.validation_data == "test":
            raise PydanticCustomError(
                "wrong_type",
                "give either `validation_split` or `validation_data: test`, not both",
                {"at": ("validation_data",), "hint": "validation_split carves the validation examples from training"},
            )
        if self.feed == "resident":
            needs = [
                name
                for name, used in (
                    ("`steps_per_epoch`", bool(self.steps_per_epoch)),
                    ("`distribute`", self.distribute != "none"),
                    (f"`recipe: {self.recipe}`", self.recipe in ("gan", "tape")),
                )
                if used
            ]
            if needs:
                raise PydanticCustomError(
                    "wrong_type",
                    f"`feed: resident` cannot serve {needs[0]}: it needs a tf.data pipeline",
                    {"at": ("feed",), "hint": "remove `feed` (auto picks tf.data here) or set `feed: tf.data`"},
                )
        return self

    @property
    def gan_settings(self) -> GanSpec:
        """The GAN settings, defaults filled in."""
        return self.gan or GanSpec.model_validate({})


# ---------------------------------------------------------------------------------------------------------- checks

#: callbacks a spec may name, and the argument of each that names a file or folder (kept inside the run folder)
CALLBACK_PATHS: dict[str, str | None] = {
    "EarlyStopping": None,
    "ReduceLROnPlateau": None,
    "TerminateOnNaN": None,
    "ModelCheckpoint": "filepath",
    "CSVLogger": "filename",
    "TensorBoard": "log_dir",
    "BackupAndRestore": "backup_dir",
}


class Range:
    """The numbers an argument may take: `low`/`high` bounds (None: unbounded), each included unless `open`."""

    __slots__ = ("low", "high", "low_open", "high_open")

    def __init__(
        self, low: float | None = None, high: float | None = None, low_open: bool = False, high_open: bool = False
    ) -> None:
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"above {self.low:g}" if self.low_open else f"at least {self.low:g}")
        if self.high is not None:
            parts.append(f"below {self.high:g}" if self.high_open else f"at most {self.high:g}")
        return " and ".join(parts)


_POSITIVE = Range(0, low_open=True)
_NON_NEGATIVE = Range(0)
_FRACTION = Range(0, 1)
_DECAY = Range(0, 1, high_open=True)

#: Arguments of optimizers and learning-rate schedules (by name; the same name means the same thing in every class)
#: and the values Keras can train with. Checked wherever an optimizer or schedule is written, nested ones included.
ARGUMENT_RANGES: dict[str, Range] = {
    "learning_rate": _POSITIVE,
    "initial_learning_rate": _NON_NEGATIVE,  # 0 is how a warmup starts (CosineDecay with warmup_target)
    "end_learning_rate": _NON_NEGATIVE,
    "warmup_target": _NON_NEGATIVE,
    "momentum": _FRACTION,
    "ema_momentum": _FRACTION,
    "rho": _DECAY,
    "beta_1": _DECAY,
    "beta_2": _DECAY,
    "epsilon": _POSITIVE,
    "weight_decay": _NON_NEGATIVE,
    "clipnorm": _POSITIVE,
    "clipvalue": _POSITIVE,
    "global_clipnorm": _POSITIVE,
    "initial_accumulator_value": _NON_NEGATIVE,
    "l1_regularization_strength": _NON_NEGATIVE,
    "l2_regularization_strength": _NON_NEGATIVE,
    "learning_rate_power": Range(high=0),
    "decay_steps": _POSITIVE,
    "first_decay_steps": _POSITIVE,
    "warmup_steps": _NON_NEGATIVE,
    "decay_rate": _NON_NEGATIVE,
    "alpha": _FRACTION,  # CosineDecay: the floor as a fraction of the initial rate
}


def check_train(train: TrainSpec | None, outputs: Mapping[str, int]) -> Iterator[SpecError]:
    """Checks of the `train:` section against the spec's models. Pure Python.

    Args:
        train: the parsed `train:` section (None: nothing to check).
        outputs: model name -> number of outputs, for every model of the spec in document order; without
            `train.model`, the last one is the model trained (as `graph._main_model` chooses it).

    Yields:
        Errors at document paths: `bad-value` for an optimizer or schedule argument out of range, `unknown-model`
        for a model name (or a `gan` recipe's default names) the spec lacks, `train-error` for loss weights that do
        not match the model's outputs and for callback files outside the run folder.
    """
    if train is None:
        return
    yield from _check_ranges(train)
    yield from _check_models(train, outputs)
    yield from _check_loss_weights(train, outputs)
    yield from _check_callback_paths(train)


def _check_ranges(train: TrainSpec) -> Iterator[SpecError]:
    objects: list[tuple[Any, Path]] = [
        (train.optimizer, ("train", "optimizer")),
        (train.schedule, ("train", "schedule")),
    ]
    if train.gan is not None:
        objects += [(train.gan.d_optimizer, ("train", "gan", "d_optimizer"))]
        objects += [(train.gan.g_optimizer, ("train", "gan", "g_optimizer"))]
    for value, path in objects:
        yield from check_arguments(value, path)


def check_arguments(value: Any, path: Path) -> Iterator[SpecError]:
    """Numbers in an optimizer or schedule mapping (and in mappings nested in it) against `ARGUMENT_RANGES`."""
    if not isinstance(value, Mapping):
        return
    for key, arg in value.items():
        at = (*path, key)
        if isinstance(arg, Mapping):
            yield from check_arguments(arg, at)
            continue
        allowed = ARGUMENT_RANGES.get(key) if isinstance(key, str) else None
        if allowed is None or isinstance(arg, bool) or not isinstance(arg, int | float):
            continue
        if not math.isfinite(arg):
            yield SpecError(
                f"`{key}` must be a finite number", at, "bad-value", hint=f"it must be {allowed.describe()}"
            )
        elif arg not in allowed:
            yield SpecError(f"`{key}` must be {allowed.describe()} (got {arg:g})", at, "bad-value")


def _trained_model(train: TrainSpec, outputs: Mapping[str, int]) -> str | None:
    if train.model is not None:
        return train.model
    return list(outputs)[-1] if outputs else None


def _check_models(train: TrainSpec, outputs: Mapping[str, int]) -> Iterator[SpecError]:
    if train.model is not None and train.model not in outputs:
        yield _no_model(train.model, ("train", "model"), outputs)
    if train.recipe != "gan":
        return
    gan = train.gan_settings
    defaults: list[str] = []
    for key in ("generator", "discriminator", "combined"):
        name = getattr(gan, key)
        if name is None or name in outputs:
            continue
        if train.gan is not None and key in train.gan.model_fields_set:
            yield _no_model(name, ("train", "gan", key), outputs)
        else:
            defaults.append(name)
    if defaults:
        missing = " or ".join(f"'{n}'" for n in defaults)
        yield SpecError(
            f"recipe `gan` trains a generator and a discriminator model; the spec has no model named {missing}",
            ("train", "gan") if train.gan is not None else ("train", "recipe"),
            "unknown-model",
            hint=f"the spec's models: {', '.join(outputs) or 'none'}; name the two under "
            "`models:` or say which they are in `gan: {generator: ..., discriminator: ...}`",
        )
    if gan.generator == gan.discriminator and gan.generator in outputs:
        yield SpecError(
            "the generator and the discriminator must be different models",
            ("train", "gan", "discriminator") if train.gan is not None else ("train", "recipe"),
            "train-error",
        )


def _no_model(name: str, path: Path, outputs: Mapping[str, int]) -> SpecError:
    return SpecError(f"no model named '{name}'", path, "unknown-model", hint=did_you_mean(name, outputs))


def per_output(loss: Any) -> bool:  # a `loss:` mapping without `type:`: one loss per output name
    return isinstance(loss, Mapping) and "type" not in loss


def _check_loss_weights(train: TrainSpec, outputs: Mapping[str, int]) -> Iterator[SpecError]:
    if train.loss_weights is None or train.recipe == "gan" or isinstance(train.loss_weights, dict):
        return
    model = _trained_model(train, outputs)
    if model not in outputs:
        return
    assert model is not None
    want, got = outputs[model], len(train.loss_weights)
    if want != got:
        yield SpecError(
            f"{got} loss weight{'s' if got != 1 else ''} for model '{model}', which has "
            f"{want} output{'s' if want != 1 else ''}",
            ("train", "loss_weights"),
            "train-error",
            hint="give one weight per output, in the order of the model's `outputs:`",
        )


def callback_path_keys(kind: str) -> list[str]:
    """The arguments of callback `kind` that Keras opens as paths: its output (`CALLBACK_PATHS`) and every other
    argument the catalogue marks as a path (from the Keras docs, e.g. TensorBoard's `embeddings_metadata`). All of
    them must stay inside the run folder."""
    from kspec.catalog import object_info

    main = CALLBACK_PATHS.get(kind)
    info = object_info("callback", kind)
    derived = [n for n, p in (info.params.items() if info else ()) if p.path is not None]
    return ([main] if main else []) + [n for n in derived if n != main]


def _check_callback_paths(train: TrainSpec) -> Iterator[SpecError]:
    for i, entry in enumerate(train.callbacks):
        if not isinstance(entry, Mapping):
            continue
        for key in callback_path_keys(str(entry.get("type"))):
            if key in entry:
                yield from _check_callback_path(entry[key], ("train", "callbacks", i, key), key)


def _check_callback_path(value: Any, at: Path, key: str) -> Iterator[SpecError]:
    if not isinstance(value, str):
        yield SpecError(f"`{key}` must be a path relative to the run folder", at, "train-error")
        return
    problem = data_paths.syntax_problem(value, allow_parent=False, where="the run folder")
    if problem is not None:
        yield SpecError(
            f"{problem.message}; `{key}` must stay inside the run folder", at, "train-error", hint=problem.hint
        )
