"""Hand-written Keras 3 constructions of the book's models, one function per spec in `specs/`.

Written from `../shared/book_models.md` (the catalogue of the book's code), in the book's own style -- Sequential
stacks, functional graphs, helper functions for repeated groups -- with only the Keras 2 -> 3 changes the catalogue
lists (explicit `keras.Input` instead of `input_shape=`, `keras.ops` instead of `Lambda`/`K.*`). Nothing here
reads a spec: these models are what the specs are compared against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import keras
from keras import layers, models, ops


@dataclass
class Reference:
    """The models of one book example by name; `frozen[m]` are the nested models frozen inside model `m`."""

    models: dict[str, keras.Model]
    frozen: dict[str, set[str]] = field(default_factory=dict)


Builder = Callable[[], Reference]
REFERENCES: dict[str, Builder] = {}


def reference(spec_name: str) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        REFERENCES[spec_name] = fn
        return fn

    return deco


def _one(model: keras.Model, name: str) -> Reference:
    return Reference({name: model})


# ---------------------------------------------------------------------------------------------------- chapter 1


@reference("ch01_linear")
def ch01_linear() -> Reference:
    model = models.Sequential([keras.Input((1,)), layers.Dense(1)])
    return _one(model, "ch01_linear")


# ---------------------------------------------------------------------------------------------------- chapter 2


def ann_seq(n_in: int, n_h: int, n_out: int) -> keras.Model:
    """ANN_seq_class: Dense(Nh, relu) -> Dense(Nout, softmax)."""
    return models.Sequential(
        [keras.Input((n_in,)), layers.Dense(n_h, activation="relu"), layers.Dense(n_out, activation="softmax")]
    )


@reference("ch02_ann_digits")
def ch02_ann_digits() -> Reference:
    """The quick-start spec: the ch2 ANN with 64 inputs (scikit-learn's 8x8 digits) instead of 784."""
    return _one(ann_seq(64, 100, 10), "ch02_ann_digits")


@reference("ch02_ann_mnist")
def ch02_ann_mnist() -> Reference:
    return _one(ann_seq(784, 100, 10), "ch02_ann_mnist")


@reference("ch02_ann_mnist_functional")
def ch02_ann_mnist_functional() -> Reference:
    x = keras.Input((784,))
    h = layers.Activation("relu")(layers.Dense(100)(x))
    y = layers.Activation("softmax")(layers.Dense(10)(h))
    return _one(models.Model(x, y), "ch02_ann_mnist_functional")


@reference("ch02_ann_boston")
def ch02_ann_boston() -> Reference:
    hidden, output, relu = layers.Dense(5), layers.Dense(1), layers.Activation("relu")
    x = keras.Input((13,))
    y = output(relu(hidden(x)))
    return _one(models.Model(x, y), "ch02_ann_boston")


# ---------------------------------------------------------------------------------------------------- chapter 3


def dnn(n_in: int, dropouts: tuple[float, float] | None) -> keras.Model:
    """The ch3 DNN: Hidden-1 (100) [-> Dropout] -> Hidden-2 (50) [-> Dropout] -> softmax (10)."""
    model = models.Sequential([keras.Input((n_in,))])
    model.add(layers.Dense(100, activation="relu", name="Hidden-1"))
    if dropouts is not None:
        model.add(layers.Dropout(dropouts[0]))
    model.add(layers.Dense(50, activation="relu", name="Hidden-2"))
    if dropouts is not None:
        model.add(layers.Dropout(dropouts[1]))
    model.add(layers.Dense(10, activation="softmax"))
    return model


@reference("ch03_dnn_mnist")
def ch03_dnn_mnist() -> Reference:
    return _one(dnn(784, None), "ch03_dnn_mnist")


@reference("ch03_dnn_cifar10")
def ch03_dnn_cifar10() -> Reference:
    return _one(dnn(32 * 32 * 3, (0.0, 0.0)), "ch03_dnn_cifar10")


# ---------------------------------------------------------------------------------------------------- chapter 4


def cnn_sequential(input_shape: tuple[int, int, int], num_classes: int = 10) -> keras.Model:
    """ex4_1 CNN(models.Sequential)."""
    return models.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )


@reference("ch04_cnn_mnist")
def ch04_cnn_mnist() -> Reference:
    return _one(cnn_sequential((28, 28, 1)), "ch04_cnn_mnist")


def aicnn(in_shape: tuple[int, int, int], nb_classes: int = 10) -> tuple[keras.Model, keras.Model, keras.Model]:
    """1st-edition keraspp/aicnn.py build_model: the CNN and its probes cl_part, fl_part on the same graph."""
    x = keras.Input(in_shape)
    h = layers.Conv2D(32, kernel_size=(3, 3), activation="relu")(x)
    h = layers.Conv2D(64, (3, 3), activation="relu")(h)
    h = layers.MaxPooling2D(pool_size=(2, 2))(h)
    h = layers.Dropout(0.25)(h)
    h = layers.Flatten()(h)
    z_cl = h
    h = layers.Dense(128, activation="relu")(h)
    h = layers.Dropout(0.5)(h)
    z_fl = h
    y = layers.Dense(nb_classes, activation="softmax", name="preds")(h)
    return models.Model(x, y), models.Model(x, z_cl), models.Model(x, z_fl)


@reference("ch04_cnn_cifar10")
def ch04_cnn_cifar10() -> Reference:
    cnn, cl_part, fl_part = aicnn((32, 32, 3))
    return Reference({"cnn": cnn, "cl_part": cl_part, "fl_part": fl_part})


# ---------------------------------------------------------------------------------------------------- chapter 5


@reference("ch05_lstm_imdb")
def ch05_lstm_imdb() -> Reference:
    x = keras.Input((80,))
    h = layers.Embedding(20000, 128)(x)
    h = layers.LSTM(128, dropout=0.2, recurrent_dropout=0.2)(h)
    y = layers.Dense(1, activation="sigmoid")(h)
    return _one(models.Model(x, y), "ch05_lstm_imdb")


@reference("ch05_lstm_airline")
def ch05_lstm_airline() -> Reference:
    m_x = keras.Input(shape=(12, 1))
    m_h = layers.LSTM(10)(m_x)
    m_y = layers.Dense(1)(m_h)
    return _one(models.Model(m_x, m_y), "ch05_lstm_airline")


# ---------------------------------------------------------------------------------------------------- chapter 6


@reference("ch06_ae_fc_mnist")
def ch06_ae_fc_mnist() -> Reference:
    x = keras.Input(shape=(784,))
    z = layers.Dense(36, activation="relu")(x)
    y = layers.Dense(784, activation="sigmoid")(z)
    autoencoder = models.Model(x, y)
    encoder = models.Model(x, z)
    z_in = keras.Input(shape=(36,))
    decoder = models.Model(z_in, autoencoder.layers[-1](z_in))
    return Reference({"autoencoder": autoencoder, "encoder": encoder, "decoder": decoder})


def _conv(filters: int, kernel_size: tuple[int, int], activation: str = "relu") -> layers.Conv2D:
    """ex6_2's helper Conv2D: padding 'same', relu by default."""
    return layers.Conv2D(filters, kernel_size, padding="same", activation=activation)


@reference("ch06_ae_conv_mnist")
def ch06_ae_conv_mnist() -> Reference:
    original = keras.Input(shape=(28, 28, 1))
    x = _conv(4, (3, 3))(original)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = _conv(8, (3, 3))(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    z = _conv(1, (7, 7))(x)
    y = _conv(16, (3, 3))(z)
    y = layers.UpSampling2D((2, 2))(y)
    y = _conv(8, (3, 3))(y)
    y = layers.UpSampling2D((2, 2))(y)
    y = _conv(4, (3, 3))(y)
    decoded = _conv(1, (3, 3), activation="sigmoid")(y)
    return _one(models.Model(original, decoded), "ch06_ae_conv_mnist")


# ---------------------------------------------------------------------------------------------------- chapter 7


def _prob_generator(ni: int = 100, nh: int = 50) -> keras.Model:
    return models.Sequential(
        [
            keras.Input((ni,)),
            layers.Reshape((ni, 1)),
            layers.Conv1D(nh, 1, activation="relu"),
            layers.Conv1D(nh, 1, activation="sigmoid"),
            layers.Conv1D(1, 1),
            layers.Flatten(),
        ]
    )


def _stacked(generator: keras.Model, discriminator: keras.Model) -> Reference:
    gd = models.Sequential([generator, discriminator])
    return Reference(
        {"generator": generator, "discriminator": discriminator, "gan": gd}, frozen={"gan": {"discriminator"}}
    )


@reference("ch07_gan_prob")
def ch07_gan_prob() -> Reference:
    x = keras.Input((100,))
    m = ops.mean(x, axis=-1, keepdims=True)  # add_decorate with keras.ops instead of a Lambda
    d = ops.square(ops.subtract(x, m))
    h = layers.Concatenate(axis=-1)([x, d])
    h = layers.Dense(50, activation="relu")(h)
    h = layers.Dense(50, activation="relu")(h)
    y = layers.Dense(1, activation="sigmoid")(h)
    return _stacked(_prob_generator(), models.Model(x, y))


@reference("ch07_gan_prob_pure")
def ch07_gan_prob_pure() -> Reference:
    discriminator = models.Sequential(
        [
            keras.Input((100,)),
            layers.Dense(50, activation="relu"),
            layers.Dense(50, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    return _stacked(_prob_generator(), discriminator)


@reference("ch07_gan_cnn_mnist")
def ch07_gan_cnn_mnist() -> Reference:
    generator = models.Sequential(
        [
            keras.Input((10,)),
            layers.Dense(units=1024, activation="tanh"),
            layers.Dense(128 * 7 * 7, activation="tanh"),
            layers.BatchNormalization(),
            layers.Reshape((7, 7, 128)),
            layers.UpSampling2D(size=(2, 2)),
            layers.Conv2D(64, (5, 5), padding="same", activation="tanh"),
            layers.UpSampling2D(size=(2, 2)),
            layers.Conv2D(1, (5, 5), padding="same", activation="tanh"),
        ]
    )
    discriminator = models.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(64, (5, 5), padding="same", activation="tanh"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(128, (5, 5), activation="tanh"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dense(1024, activation="tanh"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    return _stacked(generator, discriminator)


# ---------------------------------------------------------------------------------------------------- chapter 8


def unet(in_ch: int, n_ch: int = 3) -> keras.Model:
    """ex8_1 UNET with its conv / deconv_unet helpers (channels_last: concatenation axis 3)."""

    def conv(x: keras.KerasTensor, n_f: int, mp_flag: bool = True) -> keras.KerasTensor:
        x = layers.MaxPooling2D((2, 2), padding="same")(x) if mp_flag else x
        x = layers.Conv2D(n_f, (3, 3), padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("tanh")(x)
        x = layers.Dropout(0.05)(x)
        x = layers.Conv2D(n_f, (3, 3), padding="same")(x)
        x = layers.BatchNormalization()(x)
        return layers.Activation("tanh")(x)

    def deconv_unet(x: keras.KerasTensor, e: keras.KerasTensor, n_f: int) -> keras.KerasTensor:
        x = layers.UpSampling2D((2, 2))(x)
        x = layers.Concatenate(axis=3)([x, e])
        x = layers.Conv2D(n_f, (3, 3), padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("tanh")(x)
        x = layers.Conv2D(n_f, (3, 3), padding="same")(x)
        x = layers.BatchNormalization()(x)
        return layers.Activation("tanh")(x)

    original = keras.Input(shape=(32, 32, in_ch))
    c1 = conv(original, 16, mp_flag=False)
    c2 = conv(c1, 32)
    encoded = conv(c2, 64)
    x = deconv_unet(encoded, c2, 32)
    x = deconv_unet(x, c1, 16)
    decoded = layers.Conv2D(n_ch, (3, 3), activation="sigmoid", padding="same")(x)
    return models.Model(original, decoded)


@reference("ch08_unet_cifar10")
def ch08_unet_cifar10() -> Reference:
    return _one(unet(1), "ch08_unet_cifar10")


@reference("ch08_unet_cifar10_rg")
def ch08_unet_cifar10_rg() -> Reference:
    return _one(unet(2), "ch08_unet_cifar10_rg")


# ---------------------------------------------------------------------------------------------------- chapter 9


@reference("ch09_1_aug_cnn_cifar10")
def ch09_1_aug_cnn_cifar10() -> Reference:
    cnn, _, _ = aicnn((32, 32, 3))
    return _one(cnn, "ch09_1_aug_cnn_cifar10")


@reference("ch09_2_vgg16_transfer")
def ch09_2_vgg16_transfer() -> Reference:
    """1st-edition aiprt.CNN.build_model: the top model on the application's own graph, base layers frozen."""
    base_model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    x = base_model.input
    h = base_model.output
    z_cl = h
    h = layers.GlobalAveragePooling2D()(h)
    h = layers.Dense(128, activation="relu")(h)
    h = layers.Dropout(0.5)(h)
    z_fl = h
    y = layers.Dense(10, activation="softmax", name="preds")(h)
    for layer in base_model.layers:
        layer.trainable = False
    return Reference(
        {"transfer": models.Model(x, y), "cl_part": models.Model(x, z_cl), "fl_part": models.Model(x, z_fl)}
    )


@reference("ch09_3_ops")
def ch09_3_ops() -> Reference:
    x = keras.Input((2,))
    y = x**2 + 2 * x + 1  # 9.3.6: arithmetic on the symbolic input
    polynomial = models.Model(x, y)
    s = keras.Input((3,))
    m = ops.mean(s, axis=1, keepdims=True)  # 9.3.4 kproc_concat with keras.ops
    dev = ops.subtract(s, m)
    out = layers.Concatenate(axis=1)([s, ops.abs(dev), ops.square(dev)])
    return Reference({"polynomial": polynomial, "statistics": models.Model(s, out)})


class SFC(layers.Layer):
    """ex9_4_my_layer.py's SFC, ported to Keras 3 here (independently of the example plugin the spec uses)."""

    def __init__(self, No: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.No = No

    def build(self, inshape: tuple[int, ...]) -> None:
        self.w = self.add_weight(name="w", shape=(inshape[1], self.No), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(self.No,), initializer="zeros")

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        return ops.matmul(x, self.w) + self.b

    def compute_output_shape(self, inshape: tuple[int, ...]) -> tuple[int, ...]:
        return (inshape[0], self.No)


@reference("ch09_4_custom_layer")
def ch09_4_custom_layer() -> Reference:
    model = models.Sequential([keras.Input((1,)), SFC(1)])
    return _one(model, "ch09_4_custom_layer")


@reference("ch09_5_tape_dnn_mnist")
def ch09_5_tape_dnn_mnist() -> Reference:
    x = keras.Input((784,))
    h = layers.Dense(100, activation="relu")(x)
    h = layers.Dropout(0.5)(h)
    h = layers.Dense(50, activation="relu")(h)
    h = layers.Dropout(0.25)(h)
    y = layers.Dense(10, activation="softmax")(h)
    return _one(models.Model(x, y), "ch09_5_tape_dnn_mnist")


# --------------------------------------------------------------------------------------------------- chapter 10


def create_q_model(num_states: int, num_actions: int) -> keras.Model:
    inputs = keras.Input(shape=(num_states,))
    layer = layers.Dense(32, activation="relu")(inputs)
    layer = layers.Dense(16, activation="relu")(layer)
    action = layers.Dense(num_actions, activation="linear")(layer)
    return keras.Model(inputs=inputs, outputs=action)


@reference("ch10_dqn_qnet")
def ch10_dqn_qnet() -> Reference:
    return Reference({"q_model": create_q_model(4, 2), "t_model": create_q_model(4, 2)})


# --------------------------------------------------------------------------------------------------- chapter 11


@reference("ch11_controller")
def ch11_controller() -> Reference:
    controller = models.Sequential([layers.Dense(2, activation="relu"), layers.Dense(1)])
    commands_input = keras.Input(shape=(1,), name="commands_input")
    dense_2 = controller(commands_input)  # the book then feeds dense_2 to tfq's ControlledPQC
    return _one(models.Model(commands_input, dense_2), "controller")


# -------------------------------------------------------------------------------------------- 1st edition bonus


class CDENSE(layers.Layer):
    """bonus_my_layer.ipynb's complex dense layer, with the complex product as real matrix products."""

    def __init__(self, No: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.No = No

    def build(self, inshape_l: list[tuple[int, ...]]) -> None:
        n_in = inshape_l[0][1]
        self.w_r = self.add_weight(name="w_r", shape=(n_in, self.No), initializer="glorot_uniform")
        self.w_i = self.add_weight(name="w_i", shape=(n_in, self.No), initializer="glorot_uniform")
        self.b_r = self.add_weight(name="b_r", shape=(self.No,), initializer="zeros")
        self.b_i = self.add_weight(name="b_i", shape=(self.No,), initializer="zeros")

    def call(self, x_l: list[keras.KerasTensor]) -> list[keras.KerasTensor]:
        x_r, x_i = x_l
        y_r = ops.matmul(x_r, self.w_r) - ops.matmul(x_i, self.w_i) + self.b_r
        y_i = ops.matmul(x_r, self.w_i) + ops.matmul(x_i, self.w_r) + self.b_i
        return [y_r, y_i]

    def compute_output_shape(self, inshape_l: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [(inshape_l[0][0], self.No), (inshape_l[0][0], self.No)]


@reference("bonus_complex_dense")
def bonus_complex_dense() -> Reference:
    x_r, x_i = keras.Input((1,)), keras.Input((1,))
    return _one(models.Model([x_r, x_i], CDENSE(1)([x_r, x_i])), "bonus_complex_dense")
