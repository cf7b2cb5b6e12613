"""Stage 2, parse: Pydantic models of the spec document; Pydantic errors become located `SpecError`s.

Imports pydantic and kspec; never keras.
"""

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from kspec.errors import CODES, Path, SpecError, did_you_mean, name_problem, shorten
from kspec.lang.base import StrictModel
from kspec.lang.data_spec import DataSpec, explain_error
from kspec.lang.init_spec import InitSpec
from kspec.lang.loss_spec import LossSpec
from kspec.lang.search_spec import PrunerSpec, SamplerSpec, SearchSpec, SpaceSpec
from kspec.lang.train_spec import TrainSpec

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"
#: Keys of a layer entry that are kspec's own; every other key is a keyword argument of the layer.
RESERVED_KEYS = ("type", "name", "inputs", "call", "repeat", "block", "use", "model", "op")
#: Exactly one of these says what a layer entry is.
ENTRY_KINDS = ("type", "block", "use", "model", "op")

Name = str


class InputSpec(StrictModel):
    """A model input, `keras.Input(shape, dtype, name)` without the batch axis."""

    shape: list[int | None] = Field(description="shape without the batch axis, e.g. [28, 28, 1]; null for any size")
    dtype: str = Field("float32", description="dtype of the input tensor, e.g. float32 or int32")
    description: str | None = Field(None, description="free text for readers; ignored by kspec")

    @model_validator(mode="after")
    def _positive(self) -> "InputSpec":
        for i, d in enumerate(self.shape):
            if d is not None and not 0 < d <= 1_000_000:
                raise PydanticCustomError(
                    "wrong_type",
                    "every input dimension must be a positive integer (at most 1,000,000) or null",
                    {"at": ("shape", i)},
                )
        return self


class LayerEntry(StrictModel):
    """One entry of `layers:`. Exactly one of `type`, `block`, `use`, `model`, `op` says what it is.

    Every key that is not reserved is a keyword argument of the layer (or a parameter of the block, or an argument of
    the op).
    """

    model_config = ConfigDict(extra="allow")

    type: str | None = Field(None, description="Keras layer class name (e.g. Dense, Conv2D) or `package>Name` plugin")
    name: str | None = Field(None, pattern=NAME_PATTERN, description="layer name; defaults to a snake_case auto name")
    inputs: list[str] | str | dict[str, str | list[str]] | None = Field(
        None,
        description="names this layer takes as input (default: the previous layer); `name[i]` or `name.output` picks "
        "one output of a multi-output layer or model; a mapping passes tensors by call argument, e.g. "
        "{query: x, value: x, attention_mask: mask}",
    )
    call: dict[str, Any] | None = Field(
        None, description="constant call options of the layer, e.g. {use_causal_mask: true, training: false}"
    )
    repeat: (
        Annotated[int, Field(ge=1, le=1000)]
        | dict[str, Annotated[list[Any], Field(min_length=1, max_length=1000)]]
        | None
    ) = Field(
        None,
        description="stack this entry N times in sequence, or once per value: {filters: [64, 128, 256]} sets the "
        "argument (or block parameter) `filters` to 64, 128, 256 in turn",
    )
    block: str | None = Field(None, description="instantiate a block of `blocks:`; other keys are its parameters")
    use: str | None = Field(None, description="call an existing layer again (shared weights)")
    model: str | None = Field(None, description="call another model of this spec as a layer")
    op: str | None = Field(None, description="a keras.ops function from the allow-list, e.g. mean, square, subtract")

    @model_validator(mode="after")
    def _one_kind(self) -> "LayerEntry":
        given = [k for k in ENTRY_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a layer entry needs exactly one of {', '.join(ENTRY_KINDS)} (found: {found})")
        return self

    @model_validator(mode="after")
    def _same_lengths(self) -> "LayerEntry":
        if isinstance(self.repeat, dict):
            lengths = {len(v) for v in self.repeat.values()}
            if len(lengths) > 1:
                raise PydanticCustomError("wrong_type", "every list under `repeat:` needs the same length",
                                          {"at": ("repeat",)})  # fmt: skip
            if not self.repeat:
                raise PydanticCustomError(
                    "wrong_type", "`repeat:` needs a count or argument lists", {"at": ("repeat",)}
                )
        return self

    @property
    def times(self) -> int:
        """How many times the entry is stacked."""
        if isinstance(self.repeat, dict):
            return len(next(iter(self.repeat.values())))
        return self.repeat or 1

    def repetition(self, rep: int) -> dict[str, Any]:
        """The argument values of repetition `rep` (0-based) given by `repeat: {arg: [values]}`."""
        return {k: v[rep] for k, v in self.repeat.items()} if isinstance(self.repeat, dict) else {}

    @property
    def kind(self) -> str:
        return next(k for k in ENTRY_KINDS if getattr(self, k) is not None)

    @property
    def args(self) -> dict[str, Any]:
        """The layer's keyword arguments (everything that is not a reserved key)."""
        return dict(self.model_extra or {})

    @property
    def input_names(self) -> list[str] | None:
        """The referenced names in order (a mapping's values, lists flattened)."""
        if isinstance(self.inputs, dict):
            return [n for v in self.inputs.values() for n in ([v] if isinstance(v, str) else v)]
        return [self.inputs] if isinstance(self.inputs, str) else self.inputs

    @property
    def input_keys(self) -> list[tuple[str | int, ...]] | None:
        """For each referenced name, its place under `inputs:` (`("query",)`, `("initial_state", 1)`, `(2,)`)."""
        if isinstance(self.inputs, dict):
            return [
                (k,) if isinstance(v, str) else (k, j)
                for k, v in self.inputs.items()
                for j in ([0] if isinstance(v, str) else range(len(v)))
            ]
        return None


#: A block's layer is named `<instance>_<name>`, so `name` may start with a digit (`1_conv`: `conv2_block1_1_conv`).
BLOCK_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"


class BlockLayerEntry(LayerEntry):
    """An entry of a block's `layers:`; the layer is named `<instance>_<name>`."""

    name: str | None = Field(None, pattern=BLOCK_NAME_PATTERN, description="the layer is named <instance>_<name>")


def _input_only() -> list[str]:
    return ["input"]


class BlockSpec(StrictModel):
    """A reusable group of layers with parameters, instantiated by `{block: NAME, ...params}`."""

    description: str | None = Field(None, description="free text for readers; ignored by kspec")
    params: dict[str, Any] = Field(default_factory=dict, description="parameter -> default (null: required)")
    inputs: list[str] = Field(default_factory=_input_only, description="names of the block's inputs")
    layers: list[BlockLayerEntry] = Field(min_length=1, description="the block's layers, in order")
    output: str | None = Field(None, description="the layer whose output is the block's; default: the last")


class ModelSpec(StrictModel):
    """A functional model: named inputs, a graph of layers, outputs."""

    description: str | None = Field(None, description="free text for readers; ignored by kspec")
    inputs: dict[str, InputSpec] = Field(
        default_factory=dict, description="input name -> shape; may be omitted when the first entry is `model:`"
    )
    layers: list[LayerEntry] = Field(
        min_length=1, description="the model's layers; each takes the previous one's output unless it names `inputs:`"
    )
    outputs: list[str] | str | None = Field(None, description="output layer names; default: the last layer")

    @property
    def output_names(self) -> list[str] | None:
        return [self.outputs] if isinstance(self.outputs, str) else self.outputs


class Spec(StrictModel):
    """A kspec document: one or several models, their data and how to train them."""

    kspec: Literal[1] = Field(description="format version of the spec language")
    name: str = Field(pattern=NAME_PATTERN, description="spec name; also the run folder's name")
    description: str = Field("", description="what the spec is, in a sentence")
    vars: dict[str, Any] = Field(default_factory=dict, description="variables usable as ${name} anywhere below")
    defaults: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="layer type -> default keyword arguments for every layer of that type"
    )
    blocks: dict[str, BlockSpec] = Field(default_factory=dict, description="reusable parameterised groups of layers")
    plugins: list[str] = Field(default_factory=list, description="registered plugin packages whose layers are used")
    init: InitSpec | None = Field(None, description="starting weights of the main model, e.g. {weights: m.weights.h5}")
    model: ModelSpec | None = Field(None, description="the model (use `models:` for several)")
    models: dict[str, ModelSpec] | None = Field(
        None, min_length=1, description="several named models, e.g. generator, gan"
    )
    data: DataSpec | None = Field(None, description="where training data comes from and how it is prepared")
    train: TrainSpec | None = Field(None, description="how the model is compiled and trained")
    losses: dict[str, LossSpec] = Field(default_factory=dict, description="losses written as formulas of ops")
    search: SearchSpec | None = Field(None, description="the hyperparameter search `kspec tune` runs")

    @model_validator(mode="after")
    def _one_model_section(self) -> "Spec":
        if self.model is not None and self.models is not None:
            raise PydanticCustomError(
                "wrong_type",
                "give either `model:` (one model) or `models:` (several named models), not both",
                {"at": ("models",)},
            )
        if self.model is None and self.models is None:
            raise PydanticCustomError(
                "missing_field", "missing field 'model' (or `models:` for several)", {"hint": "add `model:`"}
            )
        return self

    def all_models(self) -> dict[str, ModelSpec]:
        """Models by name; a single `model:` is named after the spec."""
        if self.models is not None:
            return dict(self.models)
        assert self.model is not None
        return {self.name: self.model}

    def model_path(self, name: str) -> Path:
        """Document path of model `name`."""
        return ("model",) if self.model is not None else ("models", name)


_BOUNDS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}

_TYPE_NAMES = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "literal_error": "one of the allowed values",
}


def _real_path(loc: Any, data: Any) -> Path:
    """Pydantic's `loc` without its union branch labels (`str`, `dict[str,any]`, `function-after[...]`), which are
    not keys of the document: only items that exist in the data along the way are kept (plus a final missing key)."""
    out: list[str | int] = []
    node = data
    for i, item in enumerate(loc):
        if isinstance(node, dict) and item in node:
            out.append(item)
            node = node[item]
        elif isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node):
            out.append(item)
            node = node[item]
        elif i == len(loc) - 1 and isinstance(node, dict) and isinstance(item, str) and "[" not in item:
            out.append(item)  # a missing or unknown key
    return tuple(out)


def _value_at(data: Any, path: Path) -> Any:
    for item in path:
        try:
            data = data[item]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _convert(err: Any, data: Any, model_fields: dict[str, list[str]]) -> SpecError:
    if err["loc"] and err["loc"][0] == "data":
        explained = explain_error(err, data)
        if explained is not None:
            path, message, code, hint = explained
            return SpecError(message, path, code, hint=hint)
    loc = _real_path(err["loc"], data)
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind.replace("_", "-") in CODES and kind not in ("missing",):
        at = tuple(ctx.get("at", ()))
        return SpecError(err["msg"], (*loc, *at), kind.replace("_", "-"), hint=ctx.get("hint"))
    if kind == "extra_forbidden":
        parent = loc[:-1]
        choices = model_fields.get(_model_at(parent), [])
        return SpecError(f"unknown field '{loc[-1]}'", loc, "unknown-field", hint=did_you_mean(str(loc[-1]), choices))
    if kind == "missing":
        name = err["loc"][-1]
        return SpecError(
            f"missing field '{name}'", loc[:-1] if loc[-1:] == (name,) else loc, "missing-field", hint=f"add `{name}:`"
        )
    if kind == "string_pattern_mismatch":
        return SpecError(
            name_problem(_value_at(data, loc)),
            loc,
            "bad-name",
            hint="a name starts with an ASCII letter or _ and holds at most 64 ASCII letters, digits, _ . or -; "
            "names become Keras layer names and file names (e.g. conv_1)",
        )
    if kind == "value_error":
        msg = str(ctx.get("error", err["msg"]))
        return SpecError(msg, loc, "wrong-type")
    if kind == "literal_error" and loc == ("kspec",):
        return SpecError("unsupported spec format version", loc, "bad-version", hint="this kspec reads `kspec: 1`")
    if kind == "literal_error":
        choices = [c.strip(" '") for c in str(ctx.get("expected", "")).replace(" or ", ",").split(",") if c.strip()]
        value = _value_at(data, loc)
        hint = did_you_mean(str(value), choices) if isinstance(value, str) else None
        return SpecError(f"expected one of: {', '.join(choices)}", loc, "wrong-type", hint=hint)
    if kind in ("too_short", "too_long"):
        n = ctx.get("min_length" if kind == "too_short" else "max_length")
        return SpecError(f"expected {'at least' if kind == 'too_short' else 'at most'} {n} item(s)", loc, "wrong-type")
    bound = _BOUNDS.get(kind)
    if bound is not None:
        op, key = bound
        return SpecError(
            f"expected a value {op} {ctx.get(key)}, received {shorten(_value_at(data, loc), 40)}", loc, "wrong-type"
        )
    expected = _TYPE_NAMES.get(kind)
    msg = f"expected {expected}" if expected else err["msg"][0].lower() + err["msg"][1:]
    return SpecError(msg, loc, "wrong-type")


def _model_at(path: Path) -> str:
    """Name of the Pydantic model at a document path (for did-you-mean over its fields)."""
    keys = [p for p in path if isinstance(p, str)]
    if not keys:
        return "Spec"
    head = keys[0]
    if head in ("model", "models"):
        depth = len(keys) - (1 if head == "model" else 2)
        tail = keys[-1] if depth else ""
        return {"": "ModelSpec", "inputs": "InputSpec"}.get(tail, "InputSpec" if "inputs" in keys else "ModelSpec")
    if head == "blocks":
        return "BlockSpec"
    if head == "search":
        if len(path) >= 3 and path[1] == "space":
            return "SpaceSpec"
        return {"pruner": "PrunerSpec", "sampler": "SamplerSpec"}.get(str(path[1:2] and path[1]), "SearchSpec")
    if head == "losses":
        return "LossSpec"
    return {"data": "DataSpec", "train": "TrainSpec", "init": "InitSpec"}.get(head, "Spec")


def _fields() -> dict[str, list[str]]:
    models = (Spec, ModelSpec, InputSpec, BlockSpec, DataSpec, TrainSpec, SearchSpec, SpaceSpec, PrunerSpec,
              SamplerSpec, InitSpec, LossSpec)  # fmt: skip
    return {m.__name__: [f.alias or name for name, f in m.model_fields.items()] for m in models}


def parse(data: Any) -> Spec:
    """Validate plain data as a `Spec`; raises `SpecErrors` with every problem at its document path."""
    from kspec.errors import SpecErrors

    if not isinstance(data, dict):
        raise SpecErrors(
            [
                SpecError(
                    "the file is empty (or holds only comments); a spec is a mapping"
                    if data is None
                    else "a spec must be a mapping at the top level",
                    (),
                    "wrong-type",
                    hint="start with `kspec: 1` and `name: ...`",
                )
            ]
        )
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        fields = _fields()
        raise SpecErrors(_merge_alternatives([_convert(e, data, fields) for e in exc.errors()])) from None


def _merge_alternatives(errors: list[SpecError]) -> list[SpecError]:
    """A value that fits no branch of a union gives one error per branch; say it once ("a string or a mapping")."""
    merged: dict[tuple[Path, str], SpecError] = {}
    out: list[SpecError] = []
    for err in errors:
        key = (err.path, err.code)
        first = merged.get(key)
        if err.code == "wrong-type" and first is not None and first.message.startswith("expected "):
            if err.message.startswith("expected ") and err.message[9:] not in first.message:
                first.message = f"{first.message} or {err.message[9:]}"
            continue
        merged[key] = err
        out.append(err)
    return out
