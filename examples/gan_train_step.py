"""A GAN trained by overriding ``compile`` and ``train_step`` (after the Keras 3 guide
"Customizing what happens in fit() with TensorFlow": "Wrapping up: an end-to-end GAN
example").

The guide's program with ``import tensorflow as tf`` changed to ``import tapegrad as tf``
(for ``tf.GradientTape``). The ``GAN`` model's ``compile`` takes two optimizers and a loss;
its ``train_step`` receives a batch of real digits (``fit`` is given images alone), trains the
discriminator on real and generated images, then the generator through the discriminator,
and reports two ``Mean`` trackers. Latent vectors come from ``keras.random.normal`` with a
``SeedGenerator``, so each step draws fresh ones.

Run: ``python examples/gan_train_step.py`` (``--small`` for a few-second run).
"""

import json
import sys

import numpy as np

import tapegrad as keras
import tapegrad as tf
from tapegrad import layers, ops
from tapegrad.datasets import load_digits  # data loading: the shipped 8x8 digits

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(5)

# Create the discriminator
discriminator = keras.Sequential(
    [
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.GlobalMaxPooling2D(),
        layers.Dense(1),
    ],
    name="discriminator",
)

# Create the generator
latent_dim = 16
generator = keras.Sequential(
    [
        keras.Input(shape=(latent_dim,)),
        # We want to generate 128 coefficients to reshape into a 2x2x32 map
        layers.Dense(2 * 2 * 32),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((2, 2, 32)),
        layers.Conv2DTranspose(32, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(32, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, (3, 3), padding="same", activation="sigmoid"),
    ],
    name="generator",
)


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.seed_generator = keras.random.SeedGenerator(1337)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        # Sample random points in the latent space
        batch_size = ops.shape(real_images)[0]
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )

        # Decode them to fake images
        generated_images = self.generator(random_latent_vectors)

        # Combine them with real images
        combined_images = ops.concatenate([generated_images, real_images], axis=0)

        # Assemble labels discriminating real from fake images
        labels = ops.concatenate(
            [ops.ones((batch_size, 1)), ops.zeros((ops.shape(real_images)[0], 1))], axis=0
        )
        # Add random noise to the labels - important trick!
        labels += 0.05 * keras.random.uniform(ops.shape(labels), seed=self.seed_generator)

        # Train the discriminator
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(
            zip(grads, self.discriminator.trainable_weights, strict=True)
        )

        # Sample random points in the latent space
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )

        # Assemble labels that say "all real images"
        misleading_labels = ops.zeros((batch_size, 1))

        # Train the generator (note that we should *not* update the weights
        # of the discriminator)!
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights, strict=True))

        # Update metrics and return their value.
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {
            "d_loss": self.d_loss_tracker.result(),
            "g_loss": self.g_loss_tracker.result(),
        }


# Prepare the dataset. We use both the training & test digits.
images, _ = load_digits()
all_digits = np.reshape(images.astype("float32") / 16, (-1, 8, 8, 1))
if SMALL:
    all_digits = all_digits[:256]

gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
gan.compile(
    d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
    g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
    loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
)

history = gan.fit(all_digits, batch_size=64, epochs=2 if SMALL else 20, verbose=2)
samples = gan.generator(keras.random.normal((4, latent_dim), seed=1))

print(
    "RESULT",
    json.dumps(
        {
            "losses": [float(v) for v in history.history["d_loss"]],
            "final": {"g_loss": float(history.history["g_loss"][-1])},
            "shapes": {"samples": list(ops.shape(samples)), "logs": sorted(history.history)},
        }
    ),
)
