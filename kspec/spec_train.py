"""Stage 2, parse: the `train:` section (recipe, compile and fit settings, speed switches). Pydantic only.

Field names follow `Model.compile` and `Model.fit` so a spec reads like the book's code. Optimizers, losses,
metrics, callbacks and schedules are a Keras identifier or `{type: ClassName, ...arguments}`, as everywhere in kspec.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, model_validator

from .base import StrictModel

KerasObject = str | dict[str, Any]

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
    real_label: float = 1.0
    fake_label: float = 0.0
    noise: Literal["uniform", "normal"] = "uniform"
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
    loss: KerasObject | None = Field(None, description="e.g. categorical_crossentropy; required except for gan")
    metrics: list[KerasObject] = Field(default_factory=list)
    loss_weights: list[float] | None = None
    epochs: int = Field(1, ge=1)
    batch_size: int = Field(32, ge=1)
    steps_per_epoch: int | None = Field(None, ge=1, description="default: the whole training split")
    shuffle: bool = True
    validation_split: float = Field(0.0, ge=0, lt=1, description="last fraction of the training split, as in fit")
    validation_data: Literal["validation", "test", "none"] = Field(
        "validation", description="validation: a `split` step's or validation_split's; test: the test split (book ch5)"
    )
    class_weight: dict[int, float] | None = None
    schedule: KerasObject | None = Field(
        None,
        description="learning-rate schedule, e.g. {type: ExponentialDecay,"
        " initial_learning_rate: 0.01, decay_steps: 1000,"
        " decay_rate: 0.9}",
    )
    clipnorm: float | None = Field(None, gt=0)
    clipvalue: float | None = Field(None, gt=0)
    global_clipnorm: float | None = Field(None, gt=0)
    callbacks: list[KerasObject] = Field(default_factory=list, description="EarlyStopping, ReduceLROnPlateau, ...")
    gan: GanSpec | None = None
    seed: int | None = Field(0, description="Python/NumPy/Keras seeds; null: not seeded")
    deterministic: bool = Field(False, description="TensorFlow op determinism (slower, bit-identical reruns)")
    mixed_precision: bool = False
    jit_compile: Literal["auto"] | bool = Field("auto", description="XLA; auto: on where supported, else off")
    steps_per_execution: Literal["auto"] | int = Field("auto", description="batches per compiled call")
    distribute: Literal["none", "mirrored", "multi_worker"] = "none"
    verbose: Literal["auto", 0, 1, 2] = "auto"
    evaluate: bool = Field(True, description="evaluate on the test split at the end (metrics.json)")
    plots: Literal["auto", "none"] | list[PlotName] = "auto"
    tensorboard: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> TrainSpec:
        if self.recipe != "gan" and self.loss is None:
            raise ValueError(f"recipe `{self.recipe}` needs a `loss`, e.g. loss: categorical_crossentropy")
        if self.gan is not None and self.recipe != "gan":
            raise ValueError("`gan:` settings apply to `recipe: gan` only")
        if self.validation_split and self.validation_data == "test":
            raise ValueError("give either `validation_split` or `validation_data: test`, not both")
        return self

    @property
    def gan_settings(self) -> GanSpec:
        """The GAN settings, defaults filled in."""
        return self.gan or GanSpec.model_validate({})
