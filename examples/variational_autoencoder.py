"""A variational autoencoder built by subclassing (after the Keras 3 guide "Making new
layers and models via subclassing": "Putting it all together: an end-to-end example").

An ``Encoder`` layer maps a digit to a latent code through a ``Sampling`` layer (the
reparameterization trick with ``keras.random.normal`` and a ``SeedGenerator``); a ``Decoder``
maps it back; the ``VariationalAutoEncoder`` model adds the KL divergence with
``self.add_loss``, so ``fit`` minimises reconstruction error plus KL, and a direct call
leaves the KL term in ``model.losses``.

Run: ``python examples/variational_autoencoder.py`` (``--small`` for a few-second run).
"""

import json
import sys

import numpy as np

import tapegrad as keras
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


class Encoder(layers.Layer):
    """Maps digits to a triplet (z_mean, z_log_var, z)."""

    def __init__(self, latent_dim=8, intermediate_dim=32, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(layers.Layer):
    """Converts z, the encoded digit vector, back into a readable digit."""

    def __init__(self, original_dim, intermediate_dim=32, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        x = self.dense_proj(inputs)
        return self.dense_output(x)


class VariationalAutoEncoder(keras.Model):
    """Combines the encoder and decoder into an end-to-end model for training."""

    def __init__(
        self,
        original_dim,
        intermediate_dim=32,
        latent_dim=8,
        name="autoencoder",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        # Add KL divergence regularization loss.
        kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
        self.add_loss(kl_loss)
        return reconstructed


original_dim = 64
x_train, _ = load_digits(return_images=False)
x_train = x_train.astype("float32") / 16
if SMALL:
    x_train = x_train[:256]

vae = VariationalAutoEncoder(original_dim, 32, 8)

optimizer = keras.optimizers.Adam(learning_rate=1e-3)
vae.compile(optimizer, loss=keras.losses.MeanSquaredError())

history = vae.fit(x_train, x_train, epochs=3 if SMALL else 20, batch_size=64, verbose=2)
reconstructed = vae.predict(x_train[:16], verbose=0)
vae(x_train[:16])
kl_term = float(sum(vae.losses))
print("KL term on 16 digits:", kl_term)
mse = float(np.mean((reconstructed - x_train[:16]) ** 2))
print("reconstruction MSE on 16 digits:", mse)

print(
    "RESULT",
    json.dumps(
        {
            "losses": [float(v) for v in history.history["loss"]],
            "final": {"reconstruction_mse": mse, "kl": kl_term},
            "shapes": {"reconstructed": list(reconstructed.shape)},
        }
    ),
)
