"""Static shape and parameter inference (`kspec.analysis.shapes`), without Keras.

`CASES` is also run against Keras itself by `tests/keras/test_shapes_parity.py`, so every expected shape and
parameter count below is one Keras agrees with.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

import pytest

from kspec.analysis.graph import Resolved, resolve
from kspec.analysis.shape_rules import ALIASES, OP_RULES, RULES, fmt, lookup
from kspec.analysis.shapes import ModelShapes, ShapeReport, infer
from kspec.errors import SpecError, format_path
from kspec.lang.loader import parse_text
from kspec.lang.spec import parse


@dataclass
class Case:
    """One model: named inputs (shape, or (shape, dtype)), flow-YAML layer entries, expected output and weights."""

    id: str
    inputs: dict[str, Any]
    layers: list[str]
    shape: Any
    params: int
    non_trainable: int = 0
    keras_only: dict[str, Any] = field(default_factory=dict)


def _case(id: str, shape_in: list[Any], layer: str, shape: Any, params: int = 0, nt: int = 0) -> Case:
    return Case(id, {"x": shape_in}, [layer], shape, params, nt)


# fmt: off
CASES: list[Case] = [
    # core
    _case("dense", [784], "{type: Dense, units: 100}", (None, 100), 78_500),
    _case("dense-rank3", [5, 7], "{type: Dense, units: 3}", (None, 5, 3), 24),
    _case("dense-no-bias", [4], "{type: Dense, units: 2, use_bias: false}", (None, 2), 8),
    _case("dense-frozen", [4], "{type: Dense, units: 2, trainable: false}", (None, 2), 10, 10),
    _case("embedding-scalar", ([], "int32"), "{type: Embedding, input_dim: 10, output_dim: 3}", (None, 3), 30),
    _case("embedding", ([80], "int32"), "{type: Embedding, input_dim: 20000, output_dim: 128}", (None, 80, 128),
          2_560_000),
    _case("activation", [4, 5], "{type: Activation, activation: relu}", (None, 4, 5)),
    _case("relu", [4, 5], "{type: ReLU}", (None, 4, 5)),
    _case("leaky-relu", [4, 5], "{type: LeakyReLU}", (None, 4, 5)),
    _case("elu", [4, 5], "{type: ELU}", (None, 4, 5)),
    _case("softmax", [4, 5], "{type: Softmax}", (None, 4, 5)),
    _case("prelu", [4, 5], "{type: PReLU}", (None, 4, 5), 20),
    _case("prelu-shared", [4, 5], "{type: PReLU, shared_axes: [1]}", (None, 4, 5), 5),
    _case("dropout", [4], "{type: Dropout, rate: 0.5}", (None, 4)),
    _case("spatial-dropout1d", [6, 3], "{type: SpatialDropout1D, rate: 0.5}", (None, 6, 3)),
    _case("spatial-dropout2d", [4, 4, 3], "{type: SpatialDropout2D, rate: 0.5}", (None, 4, 4, 3)),
    _case("spatial-dropout3d", [2, 2, 2, 3], "{type: SpatialDropout3D, rate: 0.5}", (None, 2, 2, 2, 3)),
    _case("gaussian-noise", [4], "{type: GaussianNoise, stddev: 0.1}", (None, 4)),
    _case("gaussian-dropout", [4], "{type: GaussianDropout, rate: 0.1}", (None, 4)),
    _case("alpha-dropout", [4], "{type: AlphaDropout, rate: 0.1}", (None, 4)),
    _case("activity-regularization", [4], "{type: ActivityRegularization, l1: 0.01}", (None, 4)),
    _case("masking", [5, 3], "{type: Masking}", (None, 5, 3)),
    # normalization
    _case("batch-norm", [6272], "{type: BatchNormalization}", (None, 6272), 25_088, 12_544),
    _case("batch-norm-axis1", [8, 8, 3], "{type: BatchNormalization, axis: 1}", (None, 8, 8, 3), 32, 16),
    _case("batch-norm-no-center", [8, 8, 3], "{type: BatchNormalization, center: false}", (None, 8, 8, 3), 9, 6),
    _case("layer-norm", [4, 5], "{type: LayerNormalization}", (None, 4, 5), 10),
    _case("layer-norm-axes", [4, 5], "{type: LayerNormalization, axis: [1, 2]}", (None, 4, 5), 40),
    _case("layer-norm-no-center", [4, 5], "{type: LayerNormalization, center: false}", (None, 4, 5), 5),
    _case("group-norm", [8, 8, 4], "{type: GroupNormalization, groups: 2}", (None, 8, 8, 4), 8),
    _case("unit-norm", [4, 5], "{type: UnitNormalization}", (None, 4, 5)),
    _case("normalization", [4, 5], "{type: Normalization}", (None, 4, 5), 11, 11),
    _case("normalization-axes", [4, 5], "{type: Normalization, axis: [1, 2]}", (None, 4, 5), 41, 41),
    _case("rms-norm", [4, 5], "{type: RMSNormalization}", (None, 4, 5), 5),
    # convolution
    _case("conv2d", [28, 28, 1], "{type: Conv2D, filters: 32, kernel_size: 3}", (None, 26, 26, 32), 320),
    _case("conv2d-alias", [28, 28, 1], "{type: Convolution2D, filters: 32, kernel_size: [3, 3]}",
          (None, 26, 26, 32), 320),
    _case("conv2d-same-strided", [28, 28, 3], "{type: Conv2D, filters: 8, kernel_size: 3, strides: 2, padding: same}",
          (None, 14, 14, 8), 224),
    _case("conv2d-dilated", [10, 10, 1], "{type: Conv2D, filters: 4, kernel_size: 3, dilation_rate: 2}",
          (None, 6, 6, 4), 40),
    _case("conv2d-groups", [7, 7, 4], "{type: Conv2D, filters: 4, kernel_size: 3, groups: 2}", (None, 5, 5, 4), 76),
    _case("conv2d-channels-first", [3, 28, 28],
          "{type: Conv2D, filters: 8, kernel_size: 3, data_format: channels_first}", (None, 8, 26, 26), 224),
    _case("conv2d-unknown-size", [None, None, 3], "{type: Conv2D, filters: 8, kernel_size: 3, strides: 2}",
          (None, None, None, 8), 224),
    _case("conv1d-causal", [7, 2], "{type: Conv1D, filters: 4, kernel_size: 3, padding: causal, dilation_rate: 2}",
          (None, 7, 4), 28),
    _case("conv1d-strided", [10, 3], "{type: Conv1D, filters: 5, kernel_size: 3, strides: 2}", (None, 4, 5), 50),
    _case("conv3d", [8, 8, 8, 2], "{type: Conv3D, filters: 4, kernel_size: 3}", (None, 6, 6, 6, 4), 220),
    _case("separable2d", [8, 8, 3], "{type: SeparableConv2D, filters: 4, kernel_size: 3, depth_multiplier: 2}",
          (None, 6, 6, 4), 82),
    _case("separable1d", [10, 3], "{type: SeparableConv1D, filters: 4, kernel_size: 3}", (None, 8, 4), 25),
    _case("depthwise2d", [8, 8, 3], "{type: DepthwiseConv2D, kernel_size: 3, depth_multiplier: 2}",
          (None, 6, 6, 6), 60),
    _case("depthwise1d", [10, 3], "{type: DepthwiseConv1D, kernel_size: 3}", (None, 8, 3), 12),
    _case("conv2d-transpose-same", [7, 7, 2],
          "{type: Conv2DTranspose, filters: 4, kernel_size: 3, strides: 2, padding: same}", (None, 14, 14, 4), 76),
    _case("conv2d-transpose-valid", [7, 7, 2], "{type: Conv2DTranspose, filters: 4, kernel_size: 3, strides: 2}",
          (None, 15, 15, 4), 76),
    _case("conv2d-transpose-output-padding", [7, 7, 2],
          "{type: Conv2DTranspose, filters: 4, kernel_size: 3, strides: 2, output_padding: 1}", (None, 16, 16, 4), 76),
    _case("conv1d-transpose-dilated", [7, 2], "{type: Conv1DTranspose, filters: 4, kernel_size: 3, dilation_rate: 2}",
          (None, 11, 4), 28),
    _case("conv3d-transpose", [4, 4, 4, 2], "{type: Conv3DTranspose, filters: 3, kernel_size: 2, strides: 2}",
          (None, 8, 8, 8, 3), 51),
    # pooling
    _case("max-pool2d", [28, 28, 1], "{type: MaxPooling2D}", (None, 14, 14, 1)),
    _case("max-pool2d-same", [15, 15, 2], "{type: MaxPool2D, pool_size: 3, strides: 2, padding: same}",
          (None, 8, 8, 2)),
    _case("avg-pool2d-valid", [7, 7, 1], "{type: AveragePooling2D, pool_size: 3}", (None, 2, 2, 1)),
    _case("avg-pool1d", [10, 3], "{type: AveragePooling1D, pool_size: 2}", (None, 5, 3)),
    _case("max-pool3d", [4, 4, 4, 1], "{type: MaxPooling3D}", (None, 2, 2, 2, 1)),
    _case("gap2d", [8, 8, 3], "{type: GlobalAveragePooling2D}", (None, 3)),
    _case("gap2d-keepdims", [8, 8, 3], "{type: GlobalAveragePooling2D, keepdims: true}", (None, 1, 1, 3)),
    _case("gmp1d", [10, 3], "{type: GlobalMaxPooling1D}", (None, 3)),
    _case("gmp2d-keepdims-cf", [3, 8, 8], "{type: GlobalMaxPooling2D, keepdims: true, data_format: channels_first}",
          (None, 3, 1, 1)),
    _case("gap1d", [10, 3], "{type: GlobalAveragePooling1D}", (None, 3)),
    _case("gap3d", [4, 4, 4, 2], "{type: GlobalAvgPool3D}", (None, 2)),
    _case("max-pool1d", [10, 3], "{type: MaxPooling1D, strides: 3}", (None, 3, 3)),
    _case("avg-pool3d", [4, 4, 4, 1], "{type: AveragePooling3D, pool_size: 2, padding: same}", (None, 2, 2, 2, 1)),
    _case("adaptive-max1d", [10, 3], "{type: AdaptiveMaxPooling1D, output_size: 4}", (None, 4, 3)),
    _case("adaptive-max2d", [9, 9, 3], "{type: AdaptiveMaxPooling2D, output_size: [3, 2]}", (None, 3, 2, 3)),
    _case("adaptive-max3d", [4, 4, 4, 1], "{type: AdaptiveMaxPooling3D, output_size: 2}", (None, 2, 2, 2, 1)),
    _case("adaptive-avg1d", [10, 3], "{type: AdaptiveAveragePooling1D, output_size: 5}", (None, 5, 3)),
    _case("adaptive-avg3d", [4, 4, 4, 1], "{type: AdaptiveAveragePooling3D, output_size: 2}", (None, 2, 2, 2, 1)),
    _case("gmp3d", [4, 4, 4, 2], "{type: GlobalMaxPool3D}", (None, 2)),
    _case("adaptive-avg2d", [8, 8, 3], "{type: AdaptiveAveragePooling2D, output_size: 2}", (None, 2, 2, 3)),
    # reshaping
    _case("flatten", [7, 7, 64], "{type: Flatten}", (None, 3136)),
    _case("reshape", [6272], "{type: Reshape, target_shape: [7, 7, 128]}", (None, 7, 7, 128)),
    _case("reshape-minus-one", [4, 3], "{type: Reshape, target_shape: [-1, 2]}", (None, 6, 2)),
    _case("permute", [3, 4], "{type: Permute, dims: [2, 1]}", (None, 4, 3)),
    _case("repeat-vector", [5], "{type: RepeatVector, n: 3}", (None, 3, 5)),
    _case("cropping1d", [10, 3], "{type: Cropping1D, cropping: [2, 3]}", (None, 5, 3)),
    _case("cropping2d", [8, 8, 3], "{type: Cropping2D, cropping: [[1, 1], [2, 2]]}", (None, 6, 4, 3)),
    _case("cropping2d-default", [8, 8, 3], "{type: Cropping2D}", (None, 8, 8, 3)),
    _case("cropping2d-symmetric-cf", [3, 8, 8], "{type: Cropping2D, cropping: [1, 2], data_format: channels_first}",
          (None, 3, 6, 4)),
    _case("cropping3d", [6, 6, 6, 1], "{type: Cropping3D}", (None, 4, 4, 4, 1)),
    _case("zero-padding1d", [10, 3], "{type: ZeroPadding1D}", (None, 12, 3)),
    _case("zero-padding2d", [8, 8, 3], "{type: ZeroPadding2D, padding: 2}", (None, 12, 12, 3)),
    _case("zero-padding3d", [2, 2, 2, 1], "{type: ZeroPadding3D}", (None, 4, 4, 4, 1)),
    _case("up-sampling1d", [5, 3], "{type: UpSampling1D}", (None, 10, 3)),
    _case("up-sampling2d", [7, 7, 1], "{type: UpSampling2D, size: [2, 3]}", (None, 14, 21, 1)),
    _case("up-sampling3d", [2, 2, 2, 1], "{type: UpSampling3D}", (None, 4, 4, 4, 1)),
    # recurrent
    _case("lstm", [80, 128], "{type: LSTM, units: 128}", (None, 128), 131_584),
    _case("lstm-state", [4, 5], "{type: LSTM, units: 3, return_state: true}", [(None, 3)] * 3, 108),
    _case("simple-rnn-seq", [5, 3], "{type: SimpleRNN, units: 4, return_sequences: true}", (None, 5, 4), 32),
    _case("gru", [4, 5], "{type: GRU, units: 3}", (None, 3), 90),
    _case("gru-v1", [4, 5], "{type: GRU, units: 3, reset_after: false}", (None, 3), 81),
    _case("bidirectional", [4, 5], "{type: Bidirectional, layer: {type: LSTM, units: 3}}", (None, 6), 216),
    _case("bidirectional-sum", [4, 5], "{type: Bidirectional, merge_mode: sum, layer: {type: GRU, units: 3}}",
          (None, 3), 180),
    _case("bidirectional-none", [4, 5],
          "{type: Bidirectional, merge_mode: null, layer: {type: SimpleRNN, units: 2, return_sequences: true}}",
          [(None, 4, 2), (None, 4, 2)], 32),
    _case("bidirectional-state", [4, 5],
          "{type: Bidirectional, layer: {type: LSTM, units: 3, return_state: true}}",
          [(None, 6), (None, 3), (None, 3), (None, 3), (None, 3)], 216),
    _case("time-distributed-dense", [5, 3], "{type: TimeDistributed, layer: {type: Dense, units: 4}}", (None, 5, 4),
          16),
    _case("time-distributed-conv", [2, 8, 8, 3],
          "{type: TimeDistributed, layer: {type: Conv2D, filters: 4, kernel_size: 3}}", (None, 2, 6, 6, 4), 112),
    _case("conv-lstm2d", [2, 8, 8, 3], "{type: ConvLSTM2D, filters: 4, kernel_size: 3}", (None, 6, 6, 4), 1024),
    _case("conv-lstm1d-seq", [2, 8, 3], "{type: ConvLSTM1D, filters: 4, kernel_size: 3, return_sequences: true}",
          (None, 2, 6, 4), 352),
    _case("conv-lstm3d-state", [2, 4, 4, 4, 1], "{type: ConvLSTM3D, filters: 2, kernel_size: 3, return_state: true}",
          [(None, 2, 2, 2, 2)] * 3, 656),
    _case("bidirectional-backward", [4, 5], "{type: Bidirectional, layer: {type: LSTM, units: 3}, "
          "backward_layer: {type: GRU, units: 3, go_backwards: true}}", (None, 6), 108 + 90),
    # preprocessing
    _case("rescaling", [8, 8, 3], "{type: Rescaling, scale: 0.5}", (None, 8, 8, 3)),
    _case("resizing", [8, 8, 3], "{type: Resizing, height: 3, width: 4}", (None, 3, 4, 3)),
    _case("center-crop", [8, 8, 3], "{type: CenterCrop, height: 3, width: 3}", (None, 3, 3, 3)),
    _case("random-crop", [8, 8, 3], "{type: RandomCrop, height: 3, width: 3}", (None, 3, 3, 3)),
    _case("random-flip", [8, 8, 3], "{type: RandomFlip}", (None, 8, 8, 3)),
    _case("random-rotation", [8, 8, 3], "{type: RandomRotation, factor: 0.1}", (None, 8, 8, 3)),
    _case("random-zoom", [8, 8, 3], "{type: RandomZoom, height_factor: 0.1}", (None, 8, 8, 3)),
    _case("random-translation", [8, 8, 3], "{type: RandomTranslation, height_factor: 0.1, width_factor: 0.1}",
          (None, 8, 8, 3)),
    _case("random-contrast", [8, 8, 3], "{type: RandomContrast, factor: 0.1}", (None, 8, 8, 3)),
    _case("random-brightness", [8, 8, 3], "{type: RandomBrightness, factor: 0.1}", (None, 8, 8, 3)),
    # applications
    _case("vgg16-notop", [32, 32, 3], "{type: VGG16, include_top: false, weights: null}", (None, 1, 1, 512),
          14_714_688),
    _case("vgg16-notop-avg", [64, 64, 3], "{type: VGG16, include_top: false, weights: null, pooling: avg}",
          (None, 512), 14_714_688),
    _case("vgg19-notop", [32, 32, 3], "{type: VGG19, include_top: false, weights: null}", (None, 1, 1, 512),
          20_024_384),
    # merging (several inputs)
    *[
        Case(f"merge-{m.lower()}", {"a": [4], "b": [4]}, [f"{{type: {m}, inputs: [a, b]}}"], (None, 4), 0)
        for m in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
    ],
    Case("merge-broadcast", {"a": [3, 4], "b": [1, 4]}, ["{type: Add, inputs: [a, b]}"], (None, 3, 4), 0),
    Case("concatenate", {"a": [8, 8, 3], "b": [8, 8, 5]}, ["{type: Concatenate, inputs: [a, b]}"], (None, 8, 8, 8), 0),
    Case("concatenate-axis1", {"a": [2, 3], "b": [4, 3]}, ["{type: Concatenate, axis: 1, inputs: [a, b]}"],
         (None, 6, 3), 0),
    Case("dot", {"a": [4], "b": [4]}, ["{type: Dot, axes: 1, inputs: [a, b]}"], (None, 1), 0),
    Case("dot-3d", {"a": [3, 4], "b": [5, 4]}, ["{type: Dot, axes: [2, 2], inputs: [a, b]}"], (None, 3, 5), 0),
    Case("lstm-state-concat", {"x": [4, 5]},
         ["{type: LSTM, units: 3, return_state: true}", "{type: Concatenate}"], (None, 9), 108),
    # keras.ops
    _case("op-mean", [3, 4], "{op: mean, axis: -1, keepdims: true}", (None, 3, 1)),
    _case("op-sum-axes", [3, 4, 5], "{op: sum, axis: [1, 2]}", (None, 5)),
    _case("op-std-all", [3, 4], "{op: std}", ()),
    _case("op-square", [3, 4], "{op: square}", (None, 3, 4)),
    _case("op-power-constant", [3], "{op: power, x2: 2}", (None, 3)),
    _case("op-reshape", [3, 4], "{op: reshape, newshape: [-1, 12]}", (None, 12)),
    _case("op-transpose", [3, 4], "{op: transpose, axes: [0, 2, 1]}", (None, 4, 3)),
    _case("op-expand-dims", [3, 4], "{op: expand_dims, axis: 1}", (None, 1, 3, 4)),
    _case("op-squeeze", [1, 3], "{op: squeeze, axis: 1}", (None, 3)),
    _case("op-one-hot", ([5], "int32"), "{op: one_hot, num_classes: 7}", (None, 5, 7)),
    Case("op-subtract", {"a": [3, 4], "b": [4]}, ["{op: subtract, inputs: [a, b]}"], (None, 3, 4), 0),
    Case("op-matmul", {"a": [3, 4], "b": [4, 5]}, ["{op: matmul, inputs: [a, b]}"], (None, 3, 5), 0),
    Case("op-concatenate", {"a": [3, 4], "b": [3, 2]}, ["{op: concatenate, axis: -1, inputs: [a, b]}"],
         (None, 3, 6), 0),
    Case("op-stack", {"a": [3], "b": [3]}, ["{op: stack, axis: 1, inputs: [a, b]}"], (None, 2, 3), 0),
    _case("op-max-keepdims", [3, 4], "{op: max, axis: 1, keepdims: true}", (None, 1, 4)),
    _case("op-var", [3, 4], "{op: var, axis: [0, 2]}", (3,)),
    _case("op-argmax", [3, 4], "{op: argmax, axis: -1}", (None, 3)),
    _case("op-clip-constants", [3, 4], "{op: clip, x_min: 0, x_max: 1}", (None, 3, 4)),
    _case("op-ravel", [3, 4], "{op: ravel}", (None,)),
    _case("op-cumsum", [3, 4], "{op: cumsum, axis: 1}", (None, 3, 4)),
    _case("op-swapaxes", [3, 4], "{op: swapaxes, axis1: 1, axis2: 2}", (None, 4, 3)),
    _case("op-moveaxis", [3, 4, 5], "{op: moveaxis, source: 1, destination: -1}", (None, 4, 5, 3)),
    _case("op-tile", [3, 4], "{op: tile, repeats: [1, 2, 3]}", (None, 6, 12)),
    _case("op-repeat", [3, 4], "{op: repeat, repeats: 2, axis: 2}", (None, 3, 8)),
    _case("op-pad", [3, 4], "{op: pad, pad_width: [[0, 0], [1, 2], [0, 1]]}", (None, 6, 5)),
    _case("op-stop-gradient", [3], "{op: stop_gradient}", (None, 3)),
    Case("op-dot", {"a": [3, 4], "b": [4, 5]}, ["{op: dot, inputs: [a, b]}"], (None, 3, None, 5), 0),
    Case("op-outer", {"a": [3], "b": [2]}, ["{op: outer, inputs: [a, b]}"], (None, None), 0),
    Case("op-hstack", {"a": [3, 4], "b": [2, 4]}, ["{op: hstack, inputs: [a, b]}"], (None, 5, 4), 0),
    Case("op-where", {"c": [3, 4], "a": [3, 4], "b": [4]}, ["{op: where, inputs: [c, a, b]}"], (None, 3, 4), 0),
]
# fmt: on


def spec_text(case: Case) -> str:
    """The single-model spec of a case."""
    inputs = []
    for name, value in case.inputs.items():
        shape, dtype = value if isinstance(value, tuple) else (value, "float32")
        dims = ", ".join("null" if d is None else str(d) for d in shape)
        inputs.append(f"{name}: {{shape: [{dims}], dtype: {dtype}}}")
    layers = "\n".join(f"    - {entry}" for entry in case.layers)
    return f"kspec: 1\nname: t\nmodel:\n  inputs: {{{', '.join(inputs)}}}\n  layers:\n{layers}\n"


def resolved(text: str) -> Resolved:
    doc = parse_text(textwrap.dedent(text))
    res, errors = resolve(doc, parse(doc.data))
    assert errors == []
    return res


def report(text: str) -> ShapeReport:
    return infer(resolved(text))


def single(text: str) -> tuple[ModelShapes, list[SpecError]]:
    rep = report(text)
    (model,) = rep.models.values()
    return model, rep.errors


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    model, errors = single(spec_text(case))
    assert errors == []
    last = list(model.nodes.values())[-1]
    assert last.checked and model.checked
    assert last.shape == case.shape
    assert (model.params, model.non_trainable) == (case.params, case.non_trainable)
    assert model.trainable == case.params - case.non_trainable


def test_case_ids_are_unique_and_every_rule_family_is_covered() -> None:
    assert len({c.id for c in CASES}) == len(CASES)
    covered = {entry.split("type: ")[1].split(",")[0].split("}")[0] for c in CASES for entry in c.layers
               if "type: " in entry}  # fmt: skip
    for family in ("Dense", "Conv2D", "LSTM", "Bidirectional", "TimeDistributed", "Concatenate", "VGG16",
                   "BatchNormalization", "Embedding", "Reshape", "UpSampling2D", "GlobalAveragePooling2D"):  # fmt: skip
        assert family in covered


# -- the book's models --------------------------------------------------------------------------------------------
def test_gan_nested_models_and_freezing() -> None:
    rep = report("""
        kspec: 1
        name: gan
        models:
          generator:
            inputs: {z: {shape: [10]}}
            layers:
              - {type: Dense, units: 1024, activation: tanh}
              - {type: Dense, units: 6272, activation: tanh}
              - {type: BatchNormalization}
              - {type: Reshape, target_shape: [7, 7, 128]}
              - {type: UpSampling2D}
              - {type: Conv2D, filters: 64, kernel_size: 5, padding: same, activation: tanh}
              - {type: UpSampling2D}
              - {type: Conv2D, filters: 1, kernel_size: 5, padding: same, activation: tanh}
          discriminator:
            inputs: {image: {shape: [28, 28, 1]}}
            layers:
              - {type: Conv2D, filters: 64, kernel_size: 5, padding: same, activation: tanh}
              - {type: MaxPooling2D}
              - {type: Conv2D, filters: 128, kernel_size: 5, activation: tanh}
              - {type: MaxPooling2D}
              - {type: Flatten}
              - {type: Dense, units: 1024, activation: tanh}
              - {type: Dense, units: 1, activation: sigmoid}
          gan:
            layers:
              - {model: generator}
              - {model: discriminator, trainable: false}
    """)
    assert rep.errors == []
    g, d, gan = rep.models["generator"], rep.models["discriminator"], rep.models["gan"]
    assert (g.params, g.non_trainable) == (6_671_617, 12_544)
    assert (d.params, d.non_trainable) == (3_485_441, 0)
    assert (gan.params, gan.trainable, gan.non_trainable) == (10_157_058, 6_659_073, 3_497_985)
    assert gan.nodes["generator"].shape == (None, 28, 28, 1)
    assert gan.outputs == {"discriminator": (None, 1)}
    assert gan.nodes["discriminator"].non_trainable == 3_485_441


UNET = """
    kspec: 1
    name: unet
    blocks:
      double:
        params: {f: null, drop: 0.05}
        layers:
          - {type: Conv2D, filters: "${f}", kernel_size: 3, padding: same}
          - {type: BatchNormalization}
          - {type: Activation, activation: tanh}
          - {type: Dropout, rate: "${drop}"}
          - {type: Conv2D, filters: "${f}", kernel_size: 3, padding: same}
          - {type: BatchNormalization}
          - {type: Activation, activation: tanh}
      up:
        params: {f: null}
        inputs: [x, skip]
        layers:
          - {type: UpSampling2D, name: u, inputs: [x]}
          - {type: Concatenate, axis: 3, inputs: [u, skip]}
          - {type: Conv2D, filters: "${f}", kernel_size: 3, padding: same}
          - {type: BatchNormalization}
          - {type: Activation, activation: tanh}
          - {type: Conv2D, filters: "${f}", kernel_size: 3, padding: same}
          - {type: BatchNormalization}
          - {type: Activation, activation: tanh}
    model:
      inputs: {gray: {shape: [32, 32, CHANNELS]}}
      layers:
        - {block: double, name: c1, f: 16}
        - {type: MaxPooling2D, padding: same}
        - {block: double, name: c2, f: 32}
        - {type: MaxPooling2D, padding: same}
        - {block: double, name: encoded, f: 64}
        - {block: up, name: d1, inputs: [encoded, c2], f: 32}
        - {block: up, name: d2, inputs: [d1, c1], f: 16}
        - {type: Conv2D, name: rgb, filters: 3, kernel_size: 3, padding: same, activation: sigmoid}
"""


@pytest.mark.parametrize(("channels", "params"), [(1, 119_683), (2, 119_827)])
def test_unet_blocks_with_skip_connections(channels: int, params: int) -> None:
    model, errors = single(UNET.replace("CHANNELS", str(channels)))
    assert errors == []
    assert (model.params, model.non_trainable) == (params, 640)
    assert model.outputs == {"rgb": (None, 32, 32, 3)}
    assert model.nodes["encoded_activation_1"].shape == (None, 8, 8, 64)
    assert model.nodes["d1_concatenate"].shape == (None, 16, 16, 96)


def test_autoencoder_shared_layer_counted_once_per_model() -> None:
    rep = report("""
        kspec: 1
        name: ae
        models:
          ae:
            inputs: {x: {shape: [784]}}
            layers:
              - {type: Dense, name: z, units: 36, activation: relu}
              - {type: Dense, name: y, units: 784, activation: sigmoid}
          encoder:
            inputs: {x: {shape: [784]}}
            layers:
              - {use: z}
          decoder:
            inputs: {code: {shape: [36]}}
            layers:
              - {use: y}
          twice:
            inputs: {x: {shape: [784]}}
            layers:
              - {use: z}
              - {use: y}
              - {use: z, name: again}
    """)
    assert rep.errors == []
    assert rep.models["ae"].params == 57_268
    assert rep.models["encoder"].params == 28_260
    assert rep.models["decoder"].params == 29_008
    assert rep.models["decoder"].outputs == {"y": (None, 784)}
    assert rep.models["twice"].params == 57_268
    again = rep.node("twice", "again")
    assert again is not None and (again.kind, again.shape, again.params) == ("use", (None, 36), 0)


def test_nested_model_with_unknown_sizes_takes_the_callers_shape() -> None:
    rep = report("""
        kspec: 1
        name: fcn
        models:
          body:
            inputs: {x: {shape: [null, null, 3]}}
            layers:
              - {type: Conv2D, filters: 8, kernel_size: 3}
          head:
            inputs: {image: {shape: [32, 32, 3]}}
            layers:
              - {model: body}
              - {type: Flatten}
    """)
    assert rep.errors == []
    assert rep.models["body"].outputs == {"conv2d": (None, None, None, 8)}
    assert rep.node("head", "body") is not None
    assert rep.models["head"].outputs == {"flatten": (None, 30 * 30 * 8)}
    assert rep.models["head"].params == 224


def test_nested_model_with_unknown_weights_still_passes_its_shape_on() -> None:
    rep = report("""
        kspec: 1
        name: n
        models:
          inner:
            inputs: {x: {shape: [4]}}
            layers:
              - {type: Dense, name: out, units: 2}
              - {type: MysteryLayer, name: side, inputs: [x]}
            outputs: [out]
          outer:
            layers:
              - {model: inner}
              - {type: Dense, units: 3}
    """)
    outer = rep.models["outer"]
    assert outer.nodes["inner"].shape == (None, 2) and outer.nodes["inner"].params is None
    assert outer.nodes["dense"].checked and outer.nodes["dense"].params == 9
    assert outer.params is None and [e.code for e in rep.errors] == ["unchecked-layer"]


def test_report_api() -> None:
    model, _ = single(spec_text(CASES[0]))
    node = model.nodes["dense"]
    assert (node.kind, node.type, node.params, node.trainable) == ("layer", "Dense", 78_500, 78_500)
    assert model.inputs == {"x": (None, 784)} and model.unchecked == []


# -- mismatches: code, path and message -----------------------------------------------------------------------------
def mismatch(case: Case) -> SpecError:
    model, errors = single(spec_text(case))
    (err,) = errors
    assert err.code == "shape-mismatch" and err.severity == "error"
    assert not model.checked
    assert model.params is None or all(n.kind in ("input", "op") for n in model.nodes.values())
    return err


@pytest.mark.parametrize(
    ("inputs", "layers", "where", "message"),
    [
        ({"x": [784]}, ["{type: Conv2D, filters: 8, kernel_size: 3}"], "model.layers[0]",
         "Conv2D expects a rank-4 input (batch, height, width, channels); received shape (None, 784)"),
        ({"x": [5, 5, 1]}, ["{type: Conv2D, filters: 8, kernel_size: 7}"], "model.layers[0].kernel_size",
         "kernel_size 7 is larger than the input's 5 along axis 1 with padding 'valid'"),
        ({"x": [9, 9, 1]}, ["{type: Conv2D, filters: 8, kernel_size: 3, dilation_rate: 5}"],
         "model.layers[0].kernel_size", "kernel_size 3 (dilation_rate 5 spans 11) is larger than the input's 9"),
        ({"x": [7, 7, 1]}, ["{type: MaxPooling2D, pool_size: 8}"], "model.layers[0].pool_size",
         "pool_size 8 is larger than the input's 7 along axis 1"),
        ({"x": [6000]}, ["{type: Reshape, target_shape: [7, 7, 128]}"], "model.layers[0].target_shape",
         "Reshape to (7, 7, 128) needs 6272 elements; the input has 6000"),
        ({"x": [10]}, ["{type: Reshape, target_shape: [-1, 3]}"], "model.layers[0].target_shape",
         "cannot split the input's 10 elements into multiples of 3"),
        ({"a": [16, 16, 32], "b": [8, 8, 64]}, ["{type: Concatenate, inputs: [a, b]}"], "model.layers[0]",
         "Concatenate needs matching shapes except on axis -1; received (None, 16, 16, 32) and (None, 8, 8, 64)"),
        ({"a": [16], "b": [8]}, ["{type: Add, inputs: [a, b]}"], "model.layers[0]",
         "Add needs inputs of the same shape; received (None, 16) and (None, 8)"),
        ({"a": [4], "b": [4], "c": [4]}, ["{type: Subtract, inputs: [a, b, c]}"], "model.layers[0]",
         "Subtract needs exactly 2 inputs; received 3"),
        ({"x": [4, None]}, ["{type: Dense, units: 3}"], "model.layers[0]",
         "Dense needs the last axis of its input to be known; received shape (None, 4, None)"),
        ({"x": [80]}, ["{type: LSTM, units: 3}"], "model.layers[0]",
         "LSTM expects a rank-3 input (batch, timesteps, features); received shape (None, 80)"),
        ({"x": [8, 8, 4]}, ["{type: GroupNormalization, groups: 3}"], "model.layers[0].groups",
         "needs a channel count divisible by 3; the input has 4 channels"),
        ({"x": [3, 4]}, ["{type: Permute, dims: [1, 3]}"], "model.layers[0].dims", "Permute dims must order"),
        ({"x": [7, 7, 3]}, ["{type: Conv2D, filters: 4, kernel_size: 3, groups: 2}"], "model.layers[0].groups",
         "divisible by 2"),
        ({"x": [4, 4, 3]}, ["{type: Cropping2D, cropping: [[2, 2], [0, 0]]}"], "model.layers[0].cropping",
         "removes all of the input's 4 along axis 1"),
        ({"x": [4, 5]}, ["{type: BatchNormalization, axis: 3}"], "model.layers[0].axis",
         "axis 3 is out of range for an input of rank 3"),
        ({"x": [4, 5]}, ["{type: Dense, units: 2}", "{type: Conv1D, filters: 2, kernel_size: 2, padding: full}"],
         "model.layers[1].padding", "padding must be one of"),
        ({"x": [4, 5]}, ["{type: Bidirectional, layer: {type: LSTM, units: 3}, backward_layer: {type: LSTM, units: 2, "
                         "go_backwards: true}}"], "model.layers[0].backward_layer",
         "Bidirectional needs the backward layer's output (None, 2) to equal the forward layer's (None, 3)"),
        ({"x": [16, 16, 1]}, ["{type: VGG16, include_top: false}"], "model.layers[0]",
         "VGG16 with weights 'imagenet' needs 3 input channels"),
        ({"a": [3], "b": [4]}, ["{op: add, inputs: [a, b]}"], "model.layers[0]",
         "add cannot broadcast shapes (None, 3) and (None, 4)"),
        ({"x": [3, 4]}, ["{op: squeeze, axis: 1}"], "model.layers[0].axis", "squeeze cannot remove axis 1"),
        ({"a": [3, 4], "b": [5, 6]}, ["{op: matmul, inputs: [a, b]}"], "model.layers[0]",
         "matmul needs the last axis of (None, 3, 4) to match"),
    ],
)  # fmt: skip
def test_mismatch(inputs: dict[str, Any], layers: list[str], where: str, message: str) -> None:
    err = mismatch(Case("m", inputs, layers, None, 0))
    assert format_path(err.path) == where
    assert message in err.message


def test_mismatch_stops_the_cascade_downstream() -> None:
    model, errors = single(spec_text(Case("c", {"x": [784]}, [
        "{type: Dense, units: 10}", "{type: Conv2D, filters: 8, kernel_size: 3}", "{type: Flatten}",
        "{type: Dense, units: 2}"], None, 0)))  # fmt: skip
    assert [e.code for e in errors] == ["shape-mismatch"]
    assert model.nodes["dense"].checked and model.nodes["dense"].params == 7850
    assert [n for n in model.unchecked] == ["conv2d", "flatten", "dense_1"]
    assert model.nodes["dense_1"].shape is None and model.nodes["dense_1"].params is None


def test_error_at_defaults_and_inside_blocks() -> None:
    _, errors = single("""
        kspec: 1
        name: d
        defaults:
          Conv2D: {kernel_size: 7}
        blocks:
          pair:
            params: {f: 4}
            layers:
              - {type: Conv2D, filters: "${f}"}
        model:
          inputs: {x: {shape: [5, 5, 1]}}
          layers:
            - {block: pair, name: p}
    """)
    (err,) = errors
    assert format_path(err.path) == "defaults.Conv2D.kernel_size"
    assert err.notes == ["layer 'p_conv2d' of block p"]


def test_reused_layer_with_other_weights_is_a_mismatch() -> None:
    _, errors = single("""
        kspec: 1
        name: r
        model:
          inputs: {x: {shape: [8]}, y: {shape: [4]}}
          layers:
            - {type: Dense, name: d, units: 2, inputs: [x]}
            - {use: d, inputs: [y]}
    """)
    (err,) = errors
    assert err.code == "shape-mismatch" and format_path(err.path) == "model.layers[1]"
    assert "layer 'd' has weights for input (None, 8) (18 params); this call gives it (None, 4)" in err.message


def test_nested_model_with_the_wrong_input() -> None:
    rep = report("""
        kspec: 1
        name: n
        models:
          inner:
            inputs: {x: {shape: [28, 28, 1]}}
            layers:
              - {type: Flatten}
          outer:
            inputs: {v: {shape: [784]}}
            layers:
              - {model: inner}
    """)
    (err,) = rep.errors
    assert format_path(err.path) == "models.outer.layers[0]"
    assert err.message == "model 'inner' expects input shape (None, 28, 28, 1); received (None, 784)"


def test_nested_model_that_fails_on_the_callers_shape() -> None:
    rep = report("""
        kspec: 1
        name: n
        models:
          inner:
            inputs: {x: {shape: [null, 1]}}
            layers:
              - {type: Conv1D, filters: 2, kernel_size: 5}
          outer:
            inputs: {v: {shape: [3, 1]}}
            layers:
              - {model: inner}
    """)
    (err,) = rep.errors
    assert format_path(err.path) == "models.outer.layers[0]"
    assert err.message.startswith("model 'inner' cannot take input (None, 3, 1): kernel_size 5 is larger")


# -- unchecked ----------------------------------------------------------------------------------------------------
def test_unknown_layer_gives_one_note_and_marks_downstream_unchecked() -> None:
    model, errors = single(spec_text(Case("u", {"x": [4]}, [
        "{type: Dense, units: 3}", "{type: MysteryLayer, name: m1}", "{type: Dense, units: 2}",
        "{type: MysteryLayer, name: m2, inputs: [dense]}"], None, 0)))  # fmt: skip
    (note,) = errors
    assert (note.code, note.severity, format_path(note.path)) == ("unchecked-layer", "note", "model.layers[1]")
    assert note.message == ("static shape inference does not know MysteryLayer; its output and the 1 layer(s) after "
                            "it are unchecked")  # fmt: skip
    assert model.unchecked == ["m1", "dense_1", "m2"]
    assert model.nodes["dense"].checked and model.params is None and model.outputs == {"m2": None}


def test_unknown_op_is_a_note_and_plugin_layers_are_left_to_the_catalogue() -> None:
    _, errors = single(spec_text(Case("u", {"x": [4]}, ["{op: einsum, subscripts: 'bi->b'}", "{type: 'pkg>Custom'}"],
                                      None, 0)))  # fmt: skip
    (note,) = errors  # a plugin layer is noted by the catalogue check, not twice
    assert (
        note.message
        == "static shape inference does not know op 'einsum'; its output and the 1 layer(s) after it are unchecked"
        and note.severity == "note"
    )


def test_unsupported_arguments_are_unchecked_not_errors() -> None:
    model, errors = single(spec_text(_case("l", [4], "{type: Dense, units: 2, lora_rank: 2}", None)))
    (note,) = errors
    assert note.severity == "note" and "cannot check this Dense: Dense with LoRA" in note.message
    assert model.unchecked == ["dense"]


def test_bad_arguments_leave_the_layer_unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    model, errors = single(spec_text(_case("z", [8, 8, 3], "{type: MaxPooling2D, strides: 0}", None)))
    (err,) = errors
    assert err.message == "strides needs positive values; received 0" and format_path(err.path).endswith("strides")
    monkeypatch.setitem(RULES, "Flatten", lambda args, shapes: [][1])
    model, errors = single(spec_text(_case("f", [3, 4], "{type: Flatten}", None)))
    (note,) = errors
    assert note.severity == "note" and "cannot check this Flatten with these arguments (IndexError" in note.message
    assert model.unchecked == ["flatten"]


def test_registry_and_aliases() -> None:
    assert lookup("Convolution2D") is RULES["Conv2D"] and lookup("GlobalAvgPool2D") is RULES["GlobalAveragePooling2D"]
    assert lookup("Lambda") is None and all(target in RULES for target in ALIASES.values())
    assert {"mean", "concatenate", "reshape", "square", "add"} <= set(OP_RULES)
    assert fmt((None, 28, 28, 1)) == "(None, 28, 28, 1)" and fmt([(None, 3), (None,)]) == "(None, 3), (None,)"
