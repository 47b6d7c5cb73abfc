"""Timeseries classification with a Transformer model (after keras.io's example of that
name).

Each Transformer encoder block is built in the functional API: ``MultiHeadAttention`` with
self-attention, ``LayerNormalization``, a feed-forward part of ``Conv1D`` layers, and residual
connections written as plain Python ``+`` on symbolic tensors (``res = x + inputs``). The
series are synthetic: class 1 is a noisy sine wave, class 0 noise with the same spread.

Run: ``python examples/transformer_classifier.py`` (``--small`` for a few-second run).
"""

import json
import sys

import numpy as np

import tapegrad as keras
from tapegrad import layers

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(500)


def make_series(count, length, rng):
    labels = rng.integers(2, size=count)
    phase = rng.uniform(0, 2 * np.pi, size=(count, 1))
    time = np.linspace(0, 4 * np.pi, length)[None, :]
    sine = np.sin(time + phase) * np.sqrt(2)
    noise = rng.normal(size=(count, length))
    series = np.where(labels[:, None] == 1, sine + 0.3 * noise, noise)
    return series.reshape((count, length, 1)).astype("float32"), labels


rng = np.random.default_rng(500)
length = 32 if SMALL else 128
x_train, y_train = make_series(96 if SMALL else 1000, length, rng)
x_test, y_test = make_series(32 if SMALL else 300, length, rng)
n_classes = len(np.unique(y_train))


def transformer_encoder(inputs, head_size, num_heads, ff_dim, dropout=0):
    # Attention and Normalization
    x = layers.MultiHeadAttention(key_dim=head_size, num_heads=num_heads, dropout=dropout)(
        inputs, inputs
    )
    x = layers.Dropout(dropout)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    res = x + inputs

    # Feed Forward Part
    x = layers.Conv1D(filters=ff_dim, kernel_size=1, activation="relu")(res)
    x = layers.Dropout(dropout)(x)
    x = layers.Conv1D(filters=inputs.shape[-1], kernel_size=1)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    return x + res


def build_model(
    input_shape,
    head_size,
    num_heads,
    ff_dim,
    num_transformer_blocks,
    mlp_units,
    dropout=0,
    mlp_dropout=0,
):
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for _ in range(num_transformer_blocks):
        x = transformer_encoder(x, head_size, num_heads, ff_dim, dropout)

    x = layers.GlobalAveragePooling1D(data_format="channels_last")(x)
    for dim in mlp_units:
        x = layers.Dense(dim, activation="relu")(x)
        x = layers.Dropout(mlp_dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


input_shape = x_train.shape[1:]

model = build_model(
    input_shape,
    head_size=16,
    num_heads=2,
    ff_dim=4,
    num_transformer_blocks=2,
    mlp_units=[32],
    mlp_dropout=0.4,
    dropout=0.25,
)

model.compile(
    loss="sparse_categorical_crossentropy",
    optimizer=keras.optimizers.Adam(learning_rate=1e-3),
    metrics=["sparse_categorical_accuracy"],
)
model.summary()

callbacks = [keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)]

history = model.fit(
    x_train,
    y_train,
    validation_split=0.2,
    epochs=3 if SMALL else 30,
    batch_size=32,
    callbacks=callbacks,
    verbose=2,
)

scores = model.evaluate(x_test, y_test, verbose=0)
predictions = model.predict(x_test[:4], verbose=0)

print(
    "RESULT",
    json.dumps(
        {
            "losses": [float(v) for v in history.history["loss"]],
            "final": {"test_loss": float(scores[0]), "test_accuracy": float(scores[1])},
            "shapes": {"predictions": list(predictions.shape)},
        }
    ),
)
