"""A convolutional variational autoencoder trained by its own ``train_step`` (after keras.io's
"Variational AutoEncoder", TensorFlow version).

The guide's program with ``import tensorflow as tf`` changed to ``import tapegrad as tf``
(for ``tf.GradientTape``). The encoder and decoder are functional models (``Conv2D`` down,
``Conv2DTranspose`` up, a ``Sampling`` layer in between); the ``VAE`` model's ``train_step``
adds the KL divergence to the reconstruction loss and reports three ``Mean`` trackers,
listed in its ``metrics`` property so that ``fit`` resets them every epoch.

Run: ``python examples/vae_train_step.py`` (``--small`` for a few-second run).
"""

import json
import sys

import numpy as np

import tapegrad as keras
import tapegrad as tf
from tapegrad import layers, ops
from tapegrad.datasets import load_digits  # data loading: the shipped 8x8 digits

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(1337)


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


latent_dim = 2

encoder_inputs = keras.Input(shape=(8, 8, 1))
x = layers.Conv2D(16, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(x)
x = layers.Flatten()(x)
x = layers.Dense(16, activation="relu")(x)
z_mean = layers.Dense(latent_dim, name="z_mean")(x)
z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
z = Sampling()([z_mean, z_log_var])
encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
encoder.summary()

latent_inputs = keras.Input(shape=(latent_dim,))
x = layers.Dense(2 * 2 * 32, activation="relu")(latent_inputs)
x = layers.Reshape((2, 2, 32))(x)
x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
x = layers.Conv2DTranspose(16, 3, activation="relu", strides=2, padding="same")(x)
decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")
decoder.summary()


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [
            self.total_loss_tracker,
            self.reconstruction_loss_tracker,
            self.kl_loss_tracker,
        ]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(
                    keras.losses.binary_crossentropy(data, reconstruction),
                    axis=(1, 2),
                )
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }


images, _ = load_digits()
digits = np.expand_dims(images, -1).astype("float32") / 16
if SMALL:
    digits = digits[:256]

vae = VAE(encoder, decoder)
vae.compile(optimizer=keras.optimizers.Adam())
history = vae.fit(digits, epochs=3 if SMALL else 30, batch_size=64, verbose=2)

z_mean, _, _ = vae.encoder.predict(digits[:16], verbose=0)
decoded = vae.decoder.predict(z_mean, verbose=0)

print(
    "RESULT",
    json.dumps(
        {
            "losses": [float(v) for v in history.history["loss"]],
            "final": {"kl_loss": float(history.history["kl_loss"][-1])},
            "shapes": {
                "z_mean": list(z_mean.shape),
                "decoded": list(decoded.shape),
                "logs": sorted(history.history),
            },
        }
    ),
)
