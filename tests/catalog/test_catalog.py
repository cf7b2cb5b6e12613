"""The Keras catalogue and the argument checks built on it; no Keras needed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kspec import catalog
from kspec.catalog import checking, docstrings, introspect
from kspec.errors import SpecError

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = {"dense", "conv", "pooling", "recurrent", "merge", "normalization", "regularization", "reshaping",
            "preprocessing", "attention", "activation", "embedding", "wrapper", "core", "other"}  # fmt: skip


def found(errors: Iterable[SpecError]) -> list[tuple[str, tuple[str | int, ...]]]:
    return [(e.code, e.path) for e in errors]


def one(errors: Iterable[SpecError]) -> SpecError:
    errs = list(errors)
    assert len(errs) == 1, [str(e) for e in errs]
    return errs[0]


def layer(type_name: str, **args: Any) -> list[SpecError]:
    return list(catalog.check_layer(type_name, args))


# -- the catalogue itself --------------------------------------------------------------------------------------
def test_load_imports_no_keras() -> None:
    """The catalogue is read without Keras (its speed is measured in benchmarks/bench_validate.py, not here)."""
    code = textwrap.dedent("""
        import sys
        import kspec.catalog as c
        c.load(); c.layer_info("Conv2D"); list(c.check_layer("Dense", {"units": 3}))
        print(sorted(m for m in ("keras", "tensorflow") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sizes_and_structure() -> None:
    cat = catalog.load()
    assert len(cat.layers) > 120 and len(cat.applications) > 30 and len(catalog.op_names()) > 100
    assert cat.aliases["Convolution2D"] == "Conv2D" and cat.aliases["MaxPool2D"] == "MaxPooling2D"
    for name in catalog.layer_names():
        info = catalog.layer_info(name)
        assert info is not None
        assert info.family in FAMILIES | {"application"}, name
        assert not set(info.params) & set(introspect.RESERVED), name
        assert "input_shape" not in info.params, name
    assert {"Lambda", "TFSMLayer"} <= cat.unsafe_layers and {"LambdaCallback", "RemoteMonitor"} <= cat.unsafe_callbacks


def test_conv2d_parameters_follow_the_first_init_rule() -> None:
    info = catalog.layer_info("Convolution2D")
    assert info is not None and info.name == "Conv2D" and info.family == "conv" and not info.is_application
    assert sorted(n for n, p in info.params.items() if p.required) == ["filters", "kernel_size"]
    assert "rank" not in info.params  # BaseConv's parameter must not leak
    assert {"name", "dtype", "trainable", "activity_regularizer"} <= set(info.params)
    assert info.params["padding"].choices == ("same", "valid")
    assert info.params["kernel_initializer"].kind == "initializer"
    assert info.params["filters"].doc.startswith("int, the dimension of the output space")


def test_applications_are_layers() -> None:
    info = catalog.layer_info("VGG16")
    assert info is not None and info.is_application and catalog.canonical_layer("VGG16") == "VGG16"
    assert "input_tensor" not in info.params and info.params["include_top"].kind == "bool"
    assert not layer("VGG16", include_top=False, weights=None, pooling="avg", trainable=False)
    assert found(layer("VGG16", weights="w/vgg.h5")) == []  # a weights file path: confined by `check_layer_paths`
    assert found(layer("VGG16", weights="imagent")) == [("bad-value", ("weights",))]
    assert found(layer("VGG16", weights=3)) == [("bad-value", ("weights",))]


def test_canonical_and_unknown_names() -> None:
    assert catalog.canonical_layer("Dense") == "Dense"
    assert catalog.canonical_layer("Conv2d") is None and catalog.layer_info("Conv2d") is None
    assert "Convolution2D" in catalog.layer_names(aliases=True) and "Convolution2D" not in catalog.layer_names()


def test_ops_allow_list() -> None:
    names = set(catalog.op_names())
    assert {"mean", "sum", "concatenate", "stack", "reshape", "matmul", "square", "stop_gradient"} <= names
    assert not names & {"map", "scan", "while_loop", "fori_loop", "cond", "switch", "vectorized_map", "custom_gradient"}
    info = catalog.op_info("concatenate")
    assert info is not None and info.variadic and info.tensors == ("xs",) and "axis" in info.params
    sub = catalog.op_info("subtract")
    assert sub is not None and sub.tensors == ("x1", "x2") and not sub.variadic
    assert catalog.op_info("map") is None


# -- layers ----------------------------------------------------------------------------------------------------
def test_valid_layers_pass() -> None:
    assert not layer("Conv2D", filters=32, kernel_size=3, activation="relu", padding="SAME",
                     kernel_initializer={"type": "HeNormal", "seed": 1}, strides=[2, 2])  # fmt: skip
    assert not layer("Dense", units=10, activation=None, use_bias=False, name="probs", dtype="float32")
    assert not layer("Conv1D", filters=4, kernel_size=3, padding="causal")
    assert not layer("ZeroPadding2D", padding=[[1, 1], [2, 2]])
    assert not layer("Dense", units="${width}", activation="${act}")  # variables are checked once substituted


def test_unknown_layer_suggests() -> None:
    err = one(layer("Conv2d", filters=3))
    assert (err.code, err.path, err.message) == ("unknown-layer", ("type",), "no Keras layer named 'Conv2d'")
    assert err.hint == "did you mean 'Conv2D'?"


def test_unknown_argument_suggests() -> None:
    err = one(layer("Dense", units=3, activaton="relu"))
    assert (err.code, err.path, err.hint) == ("unknown-argument", ("activaton",), "did you mean 'activation'?")
    assert "Dense" in err.message and "'activaton'" in err.message
    assert "inputs:" in str(one(layer("Dense", units=3, input_shape=[4])).hint)
    assert "accepts" in str(one(layer("Flatten", zzz=1)).hint)
    assert found(layer("Dense", untis=8)) == [("unknown-argument", ("untis",))]  # not also a missing `units`


def test_missing_argument() -> None:
    err = one(layer("Dense", activation="relu"))
    assert (err.code, err.path) == ("missing-argument", ("type",)) and "'units'" in err.message
    assert not list(catalog.check_layer("Dense", {"activation": "relu"}, partial=True))


def test_reserved_keys_are_not_arguments() -> None:
    assert not layer("Dense", units=3, inputs=["a"], repeat=2, type="Dense")


def test_bad_enum_value_suggests() -> None:
    err = one(layer("Conv2D", filters=3, kernel_size=3, padding="sme"))
    assert (err.code, err.path, err.hint) == ("bad-value", ("padding",), "did you mean 'same'?")
    assert "expected one of 'same', 'valid'" in err.message and "received 'sme'" in err.message
    assert found(layer("Conv2D", filters=3, kernel_size=3, padding="causal")) == [("bad-value", ("padding",))]
    assert found(layer("Flatten", data_format="channel_last")) == [("bad-value", ("data_format",))]


@pytest.mark.parametrize(
    ("type_name", "args", "path"),
    [
        ("Dense", {"units": "abc"}, "units"),
        ("Dense", {"units": 0}, "units"),
        ("Conv2D", {"filters": -1, "kernel_size": 3}, "filters"),
        ("Dropout", {"rate": 1.5}, "rate"),
        ("Dense", {"units": 3, "use_bias": "no"}, "use_bias"),
        ("Conv2D", {"filters": 2, "kernel_size": "3"}, "kernel_size"),
        ("Dense", {"units": None}, "units"),
        ("Dense", {"units": 2, "dtype": "float33"}, "dtype"),
    ],
)
def test_bad_values(type_name: str, args: dict[str, Any], path: str) -> None:
    err = one(layer(type_name, **args))
    assert (err.code, err.path) == ("bad-value", (path,))
    assert err.message.startswith("expected ") and ", received " in err.message


def test_bools_are_never_numbers() -> None:
    err = one(layer("Dense", units=True))
    assert err.code == "bad-value" and "booleans" in str(err.hint)
    assert found(layer("Dropout", rate=False)) == [("bad-value", ("rate",))]
    assert not layer("Dropout", rate=0)  # an int is a fine float


def test_long_values_are_shortened() -> None:
    err = one(layer("Dense", units="x" * 500))
    assert len(err.message) < 200


def test_nested_objects() -> None:
    err = one(layer("Dense", units=3, activation="relux"))
    assert (err.code, err.path, err.hint) == ("unknown-object", ("activation",), "did you mean 'relu'?")
    err = one(layer("Dense", units=3, kernel_initializer={"type": "HeNormal", "sed": 1}))
    assert (err.code, err.path, err.hint) == ("unknown-argument", ("kernel_initializer", "sed"), "did you mean 'seed'?")
    assert found(layer("Dense", units=3, kernel_initializer={"type": "HeNormal", "seed": "x"})) == [
        ("bad-value", ("kernel_initializer", "seed"))
    ]
    assert found(layer("Dense", units=3, kernel_regularizer={"type": "L3"})) == [
        ("unknown-object", ("kernel_regularizer", "type"))
    ]
    assert not layer("Dense", units=3, kernel_initializer={"type": "glorot_uniform", "seed": 1})
    assert not layer("Dense", units=3, kernel_regularizer={"type": "L2", "l2": 0.01}, kernel_constraint="max_norm")


def test_wrappers_check_the_inner_layer() -> None:
    errs = layer("TimeDistributed", layer={"type": "LSTM", "unit": 8})
    assert found(errs) == [("unknown-argument", ("layer", "unit"))]
    assert found(layer("TimeDistributed", layer={"type": "LSTM"})) == [("missing-argument", ("layer", "type"))]
    assert found(layer("Bidirectional", layer="LSTMM")) == [("unknown-layer", ("layer", "type"))]
    assert found(layer("Bidirectional", layer=3)) == [("bad-value", ("layer",))]
    assert found(layer("TimeDistributed")) == [("missing-argument", ("type",))]
    backward = {"type": "GRU", "units": 8, "go_backwards": True}
    assert not layer("Bidirectional", layer={"type": "LSTM", "units": 8}, backward_layer=backward)
    assert found(layer("StackedRNNCells", cells=[{"type": "LSTMCell", "units": 2}, {"type": "LSTMCell"}])) == [
        ("missing-argument", ("cells", 1, "type"))
    ]


def test_unsafe_layers_are_refused() -> None:
    err = one(layer("Lambda", function="lambda x: x"))
    assert (err.code, err.path) == ("unsafe-layer", ("type",)) and "op:" in str(err.hint)
    assert found(layer("TimeDistributed", layer={"type": "Lambda"})) == [("unsafe-layer", ("layer", "type"))]
    assert not list(catalog.check_layer("Lambda", {"function": "f"}, allow_unsafe=True))


def test_plugin_layers() -> None:
    err = one(catalog.check_layer("my_pkg>Residual", {"units": 3}, plugins=["my_pkg"]))
    assert (err.code, err.severity, err.path) == ("unchecked-layer", "note", ("type",))
    err = one(catalog.check_layer("my_pkg>Residual", {"units": 3}))
    assert (err.code, err.severity) == ("unknown-layer", "error") and "kspec.plugins" in str(err.hint)


# -- objects ---------------------------------------------------------------------------------------------------
def objects(kind: str, value: Any) -> list[tuple[str, tuple[str | int, ...]]]:
    return found(catalog.check_object(kind, value))


def test_valid_objects_pass() -> None:
    assert not objects("optimizer", "adam")
    assert not objects("optimizer", {"type": "Adam", "learning_rate": 1e-3, "beta_1": 0.8})
    assert not objects("optimizer", {"type": "SGD", "learning_rate": {"type": "ExponentialDecay",
                                     "initial_learning_rate": 0.1, "decay_steps": 100, "decay_rate": 0.9}})  # fmt: skip
    assert not objects("loss", "sparse_categorical_crossentropy")
    assert not objects("loss", {"type": "BinaryCrossentropy", "from_logits": True})
    assert not objects("metric", "acc") and not objects("metric", "accuracy")
    assert not objects("callback", {"type": "EarlyStopping", "patience": 3, "min_delta": 0.001})
    assert not objects("callback", "TerminateOnNaN")
    assert not objects("activation", "relu") and not objects("initializer", "he_normal")


def test_unknown_object_suggests() -> None:
    err = one(catalog.check_object("optimizer", "adm"))
    assert (err.code, err.path, err.hint) == ("unknown-object", (), "did you mean 'adam'?")
    err = one(catalog.check_object("loss", {"type": "MeanSquaredErorr"}))
    assert (err.code, err.path, err.hint) == ("unknown-object", ("type",), "did you mean 'MeanSquaredError'?")


def test_object_arguments() -> None:
    err = one(catalog.check_object("optimizer", {"type": "Adam", "lr": 0.1}))
    assert (err.code, err.path) == ("unknown-argument", ("lr",)) and "learning_rate" in str(err.hint)
    assert objects("optimizer", {"type": "Adam", "learning_rate": "fast"}) == [("bad-value", ("learning_rate",))]
    assert (
        objects("optimizer", {"type": "Adam", "learning_rate": {"type": "ExponentialDecay"}})
        == [("missing-argument", ("learning_rate", "type"))] * 3
    )
    assert objects("loss", {"type": "mse", "x": 1}) == [("unknown-argument", ("x",))]
    assert objects("callback", "ModelCheckpoint") == [("missing-argument", ())]
    assert objects("initializer", {"seed": 1}) == [("missing-argument", ())]
    assert objects("metric", 3) == [("bad-value", ())]


def test_unsafe_callbacks_are_refused() -> None:
    assert objects("callback", "LambdaCallback") == [("unsafe-layer", ())]
    assert objects("callback", {"type": "RemoteMonitor"}) == [("unsafe-layer", ("type",))]
    assert not list(catalog.check_object("callback", {"type": "RemoteMonitor"}, allow_unsafe=True))


def test_object_kinds_and_names() -> None:
    with pytest.raises(ValueError, match="unknown object kind"):
        list(catalog.check_object("optimiser", "adam"))
    assert {"adam", "Adam", "SGD"} <= set(catalog.object_names("optimizer"))
    assert "glorot_uniform" in catalog.object_names("initializer")
    info = catalog.object_info("initializer", "glorot_uniform")
    assert info is not None and info.name == "GlorotUniform" and "seed" in info.params


def test_hint_examples_are_valid() -> None:
    for kind, text in checking._EXAMPLES.items():
        assert not objects(kind, yaml.safe_load(text.strip("`"))), kind


# -- ops -------------------------------------------------------------------------------------------------------
def test_check_op() -> None:
    assert not list(catalog.check_op("mean", {"axis": [1, 2], "keepdims": True, "name": "m"}, n_inputs=1))
    err = one(catalog.check_op("man", {}))
    assert (err.code, err.path, err.hint) == ("unknown-op", ("op",), "did you mean 'mean'?")
    assert found(catalog.check_op("map", {})) == [("unknown-op", ("op",))]
    assert found(catalog.check_op("add", {}, n_inputs=3)) == [("bad-value", ("inputs",))]
    assert not list(catalog.check_op("add", {"x2": 1.0}, n_inputs=1))
    assert not list(catalog.check_op("concatenate", {"axis": -1}, n_inputs=5))
    assert found(catalog.check_op("reshape", {}, n_inputs=1)) == [("missing-argument", ("op",))]
    assert found(catalog.check_op("mean", {"axes": 1})) == [("unknown-argument", ("axes",))]


# -- generation helpers (pure functions of introspect.py; no Keras) --------------------------------------------
def test_doc_args_reads_google_style_args() -> None:
    doc = """Summary line.

    Args:
        units: Positive integer, dimensionality of the output space. More text.
        activation: Activation function to use.
            If you don't specify anything, no activation is applied
            (e.g. "linear" activation).

    Input shape:
        N-D tensor.
    """
    assert docstrings.doc_args(doc) == {
        "units": "Positive integer, dimensionality of the output space.",
        "activation": "Activation function to use.",
    }
    assert docstrings.first_sentence("Use it, e.g. for images. Then more.") == "Use it, e.g. for images."


def test_path_typed_arguments_come_from_the_keras_docs() -> None:
    from kspec.catalog.docstrings import path_args

    doc = """Layer.

    Args:
        vocabulary: Optional. Either an array of strings or a string path to a
            text file. If passing a file path, the file should contain one line per term.
        mask_token: A token that represents masked inputs. If `filepath` is given, ...
        backup_dir: String, path of directory where to store the data.
        units: Positive integer.
    """
    assert path_args(doc) == {"vocabulary": "file", "backup_dir": "folder"}


def test_the_catalogue_marks_vocabularies_weights_and_callback_outputs_as_paths() -> None:
    from kspec.catalog import layer_info, object_info
    from kspec.lang.train_spec import CALLBACK_PATHS, callback_path_keys

    for layer in ("StringLookup", "IntegerLookup", "TextVectorization"):
        info = layer_info(layer)
        assert info is not None and info.params["vocabulary"].path == "file"
    for app in ("VGG16", "ResNet50", "MobileNetV2"):
        info = layer_info(app)
        assert info is not None and info.params["weights"].path == "file"
    info = layer_info("Dense")
    assert info is not None and not any(p.path for p in info.params.values())
    for kind, key in CALLBACK_PATHS.items():  # the hand-kept outputs agree with what the docs say
        obj = object_info("callback", kind)
        assert obj is not None
        assert key is None or obj.params[key].path is not None
        assert set(callback_path_keys(kind)) == {n for n, p in obj.params.items() if p.path} | ({key} - {None})
