"""Hand-written Keras 3 constructions of the models in `specs/examples/`, as the Keras examples write them.

Each `build_<spec>` takes the sizes the spec's `vars:` set and returns the Keras model(s) by the spec's model names.
`tools/specs_table.py` counts the lines of each example's `KERAS_CODE` (the functions and classes it consists of)
for the table in `specs/README.md`. Imported by `tests/test_examples.py`; imports keras.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

# -- transformer_text_classifier -------------------------------------------------------------------------------------


class TokenAndPositionEmbedding(layers.Layer):  # type: ignore[misc]
    def __init__(self, maxlen: int, vocab_size: int, embed_dim: int) -> None:
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x: Any) -> Any:
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


def transformer_block(x: Any, embed_dim: int, num_heads: int, ff_dim: int, rate: float = 0.1) -> Any:
    attn_output = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)(x, x)
    attn_output = layers.Dropout(rate)(attn_output)
    out1 = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, attn_output]))
    ffn_output = layers.Dense(ff_dim, activation="relu")(out1)
    ffn_output = layers.Dense(embed_dim)(ffn_output)
    ffn_output = layers.Dropout(rate)(ffn_output)
    return layers.LayerNormalization(epsilon=1e-6)(layers.Add()([out1, ffn_output]))


def build_transformer_text_classifier(
    vocab_size: int = 20000, maxlen: int = 200, embed_dim: int = 32, num_heads: int = 2, ff_dim: int = 32
) -> dict[str, Any]:
    inputs = layers.Input(shape=(maxlen,), dtype="int32")
    x = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)(inputs)
    x = transformer_block(x, embed_dim, num_heads, ff_dim)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return {"transformer_text_classifier": keras.Model(inputs=inputs, outputs=outputs)}


# -- vae_mnist --------------------------------------------------------------------------------------------------------


class Sampling(layers.Layer):  # type: ignore[misc]
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any) -> Any:
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def build_vae_mnist(latent_dim: int = 2) -> dict[str, Any]:
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")
    return {"encoder": encoder, "decoder": decoder, "vae": VAE(encoder, decoder)}


class VAE(keras.Model):  # type: ignore[misc]
    def __init__(self, encoder: Any, decoder: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

    @property
    def metrics(self) -> list[Any]:
        return [self.total_loss_tracker]

    def call(self, data: Any) -> Any:
        return self.decoder(self.encoder(data)[2])

    def train_step(self, data: Any) -> Any:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(total_loss)
        return {"loss": self.total_loss_tracker.result()}


# -- dcgan_mnist ------------------------------------------------------------------------------------------------------


def build_dcgan_mnist(latent_dim: int = 128) -> dict[str, Any]:
    discriminator = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(64, kernel_size=4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(128, kernel_size=4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Flatten(),
            layers.Dropout(0.2),
            layers.Dense(1),
        ],
        name="discriminator",
    )
    generator = keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            layers.Dense(7 * 7 * 128),
            layers.Reshape((7, 7, 128)),
            layers.Conv2DTranspose(128, kernel_size=4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2DTranspose(128, kernel_size=4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(1, kernel_size=5, padding="same", activation="sigmoid"),
        ],
        name="generator",
    )
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)  # noqa: F841  # the example's GAN.compile(loss_fn=...)
    return {"discriminator": discriminator, "generator": generator}


# -- resnet_cifar -----------------------------------------------------------------------------------------------------


def residual_stage(x: Any, filters: int) -> Any:
    shortcut = x
    x = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    shortcut = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(shortcut)
    shortcut = layers.BatchNormalization()(shortcut)
    x = layers.Add()([x, shortcut])
    return layers.Activation("relu")(x)


def build_resnet_cifar() -> dict[str, Any]:
    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    for filters in [16, 32, 64]:
        x = residual_stage(x, filters)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return {"resnet_cifar": keras.Model(inputs, outputs)}


# -- unet_segmentation ------------------------------------------------------------------------------------------------


def build_unet_segmentation(img_size: int = 160, num_classes: int = 3) -> dict[str, Any]:
    inputs = keras.Input(shape=(img_size, img_size, 3))
    x = layers.Conv2D(32, 3, strides=2, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous_block_activation = x
    for filters in [64, 128, 256]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(filters, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])
        previous_block_activation = x
    for filters in [256, 128, 64, 32]:
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.UpSampling2D(2)(x)
        residual = layers.UpSampling2D(2)(previous_block_activation)
        residual = layers.Conv2D(filters, 1, padding="same")(residual)
        x = layers.add([x, residual])
        previous_block_activation = x
    outputs = layers.Conv2D(num_classes, 3, activation="softmax", padding="same")(x)
    return {"unet_segmentation": keras.Model(inputs, outputs)}


# -- bidirectional_lstm_imdb ------------------------------------------------------------------------------------------


def build_bidirectional_lstm_imdb(max_features: int = 20000) -> dict[str, Any]:
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(max_features, 128)(inputs)
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return {"bidirectional_lstm_imdb": keras.Model(inputs, outputs)}


# -- conv1d_timeseries ------------------------------------------------------------------------------------------------


def build_conv1d_timeseries(steps: int = 500) -> dict[str, Any]:
    input_layer = keras.layers.Input((steps, 1))
    conv1 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(input_layer)
    conv1 = keras.layers.BatchNormalization()(conv1)
    conv1 = keras.layers.ReLU()(conv1)
    conv2 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv1)
    conv2 = keras.layers.BatchNormalization()(conv2)
    conv2 = keras.layers.ReLU()(conv2)
    conv3 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv2)
    conv3 = keras.layers.BatchNormalization()(conv3)
    conv3 = keras.layers.ReLU()(conv3)
    gap = keras.layers.GlobalAveragePooling1D()(conv3)
    output_layer = keras.layers.Dense(2, activation="softmax")(gap)
    return {"conv1d_timeseries": keras.Model(inputs=input_layer, outputs=output_layer)}


# -- denoising_autoencoder --------------------------------------------------------------------------------------------


def noise(array: Any) -> Any:
    """Adds random noise to each image in the supplied array."""
    import numpy as np

    noise_factor = 0.4
    noisy_array = array + noise_factor * np.random.normal(loc=0.0, scale=1.0, size=array.shape)
    return np.clip(noisy_array, 0.0, 1.0)


def build_denoising_autoencoder() -> dict[str, Any]:
    input = layers.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(input)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    return {"denoising_autoencoder": keras.Model(input, x)}


# -- vit_classifier -------------------------------------------------------------------------------------------------
# keras.io's ViT with its Patches layer + PatchEncoder's Dense projection written as one Conv2D (kernel = stride =
# patch size) and a Reshape -- the same linear map of each patch -- and without the data augmentation model.


def mlp(x: Any, hidden_units: list[int], dropout_rate: float) -> Any:
    for units in hidden_units:
        x = layers.Dense(units, activation=keras.activations.gelu)(x)
        x = layers.Dropout(dropout_rate)(x)
    return x


class PatchEncoder(layers.Layer):  # type: ignore[misc]
    def __init__(self, num_patches: int, projection_dim: int, patch_size: int) -> None:
        super().__init__()
        self.num_patches = num_patches
        self.projection = layers.Conv2D(projection_dim, patch_size, strides=patch_size)
        self.reshape = layers.Reshape((num_patches, projection_dim))
        self.position_embedding = layers.Embedding(input_dim=num_patches, output_dim=projection_dim)

    def call(self, images: Any) -> Any:
        positions = ops.expand_dims(ops.arange(start=0, stop=self.num_patches, step=1), axis=0)
        projected_patches = self.reshape(self.projection(images))
        return projected_patches + self.position_embedding(positions)


def build_vit_classifier(
    image_size: int = 72, patch_size: int = 6, num_patches: int = 144, hidden_dim: int = 256,
    projection_dim: int = 64, num_heads: int = 4, transformer_layers: int = 8, ff_dim: int = 512,
    mlp_head_units: tuple[int, ...] = (2048, 1024), num_classes: int = 100,
) -> dict[str, Any]:  # fmt: skip
    inputs = keras.Input(shape=(32, 32, 3))
    resized = layers.Resizing(image_size, image_size)(inputs)
    encoded_patches = PatchEncoder(num_patches, hidden_dim, patch_size)(resized)
    for _ in range(transformer_layers):
        x1 = layers.LayerNormalization(epsilon=1e-6)(encoded_patches)
        attention_output = layers.MultiHeadAttention(num_heads=num_heads, key_dim=projection_dim, dropout=0.1)(x1, x1)
        x2 = layers.Add()([attention_output, encoded_patches])
        x3 = layers.LayerNormalization(epsilon=1e-6)(x2)
        x3 = mlp(x3, hidden_units=[ff_dim, hidden_dim], dropout_rate=0.1)
        encoded_patches = layers.Add()([x3, x2])
    representation = layers.LayerNormalization(epsilon=1e-6)(encoded_patches)
    representation = layers.Flatten()(representation)
    representation = layers.Dropout(0.5)(representation)
    features = mlp(representation, hidden_units=list(mlp_head_units), dropout_rate=0.5)
    logits = layers.Dense(num_classes)(features)
    return {"vit_classifier": keras.Model(inputs=inputs, outputs=logits)}


# -- siamese_contrastive ----------------------------------------------------------------------------------------------


def euclidean_distance(vects: Any) -> Any:
    x, y = vects
    sum_square = ops.sum(ops.square(x - y), axis=1, keepdims=True)
    return ops.sqrt(ops.maximum(sum_square, keras.backend.epsilon()))


def build_siamese_contrastive() -> dict[str, Any]:
    input = layers.Input((28, 28, 1))
    x = layers.BatchNormalization()(input)
    x = layers.Conv2D(4, (5, 5), activation="tanh")(x)
    x = layers.AveragePooling2D(pool_size=(2, 2))(x)
    x = layers.Conv2D(16, (5, 5), activation="tanh")(x)
    x = layers.AveragePooling2D(pool_size=(2, 2))(x)
    x = layers.Flatten()(x)
    x = layers.BatchNormalization()(x)
    x = layers.Dense(10, activation="tanh")(x)
    embedding_network = keras.Model(input, x)
    input_1 = layers.Input((28, 28, 1))
    input_2 = layers.Input((28, 28, 1))
    tower_1 = embedding_network(input_1)
    tower_2 = embedding_network(input_2)
    merge_layer = layers.Lambda(euclidean_distance, output_shape=(1,))([tower_1, tower_2])
    normal_layer = layers.BatchNormalization()(merge_layer)
    output_layer = layers.Dense(1, activation="sigmoid")(normal_layer)
    siamese = keras.Model(inputs=[input_1, input_2], outputs=output_layer)
    return {"embedding": embedding_network, "siamese": siamese}


def loss(margin: float = 1) -> Any:
    def contrastive_loss(y_true: Any, y_pred: Any) -> Any:
        square_pred = ops.square(y_pred)
        margin_square = ops.square(ops.maximum(margin - (y_pred), 0))
        return ops.mean((1 - y_true) * square_pred + (y_true) * margin_square)

    return contrastive_loss
# -- lstm_seq2seq ---------------------------------------------------------------------------------------------------


def build_lstm_seq2seq(
    num_encoder_tokens: int = 71, num_decoder_tokens: int = 93, latent_dim: int = 256
) -> dict[str, Any]:
    encoder_inputs = keras.Input(shape=(None, num_encoder_tokens))
    encoder = keras.layers.LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = keras.Input(shape=(None, num_decoder_tokens))
    decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = keras.layers.Dense(num_decoder_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    return {"lstm_seq2seq": model}


#: spec name -> the functions and classes of this module that make up its Keras code (counted in specs/README.md)
# -- ticket_classifier -----------------------------------------------------------------------------------------------


def build_ticket_classifier(num_tags: int = 12, num_words: int = 10000, num_departments: int = 4) -> dict[str, Any]:
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(num_tags,), name="tags")
    title_features = layers.Embedding(num_words, 64)(title_input)
    body_features = layers.Embedding(num_words, 64)(body_input)
    title_features = layers.LSTM(128)(title_features)
    body_features = layers.LSTM(32)(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    model = keras.Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])
    return {"ticket_classifier": model}


KERAS_CODE: dict[str, list[str]] = {
    "transformer_text_classifier": [
        "TokenAndPositionEmbedding",
        "transformer_block",
        "build_transformer_text_classifier",
    ],
    "vae_mnist": ["Sampling", "build_vae_mnist", "VAE"],
    "dcgan_mnist": ["build_dcgan_mnist"],
    "resnet_cifar": ["residual_stage", "build_resnet_cifar"],
    "unet_segmentation": ["build_unet_segmentation"],
    "bidirectional_lstm_imdb": ["build_bidirectional_lstm_imdb"],
    "conv1d_timeseries": ["build_conv1d_timeseries"],
    "denoising_autoencoder": ["noise", "build_denoising_autoencoder"],
    "lstm_seq2seq": ["build_lstm_seq2seq"],
    "vit_classifier": ["mlp", "PatchEncoder", "build_vit_classifier"],
    "ticket_classifier": ["build_ticket_classifier"],
    "siamese_contrastive": ["euclidean_distance", "build_siamese_contrastive", "loss"],
}
