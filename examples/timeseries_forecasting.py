"""Timeseries forecasting with an LSTM (after keras.io's "Timeseries forecasting for weather
prediction").

A synthetic "weather" record of three features (a daily temperature cycle with drift, a
pressure that leads it, noisy humidity) is normalized with the training split's mean and
standard deviation, cut into windows of past observations, and an LSTM regresses the
temperature some steps ahead. Windows are cut with NumPy, as ``tf.data`` is not used.

Run: ``python examples/timeseries_forecasting.py`` (``--small`` for a few-second run).
"""

import json
import sys

import numpy as np

import tapegrad as keras

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(2017)

rng = np.random.default_rng(2017)
steps = 1200 if SMALL else 6000
t = np.arange(steps, dtype="float64")
pressure = np.sin(2 * np.pi * (t + 6) / 48) + 0.1 * rng.normal(size=steps)
temperature = 10 + 5 * np.sin(2 * np.pi * t / 48) + 0.002 * t + 0.3 * rng.normal(size=steps)
humidity = 60 - 2 * temperature + rng.normal(size=steps)
features = np.stack([temperature, pressure, humidity], axis=1)

split_fraction = 0.715
train_split = int(split_fraction * steps)


def normalize(data, train_split):
    data_mean = data[:train_split].mean(axis=0)
    data_std = data[:train_split].std(axis=0)
    return (data - data_mean) / data_std


features = normalize(features, train_split).astype("float32")
past = 24
future = 6
sequence_length = past // 2  # one observation every 2 steps
step = 2
learning_rate = 0.001
batch_size = 64
epochs = 3 if SMALL else 10


def make_windows(data, start, stop):
    """Windows of `past` observations (sampled every `step`) and the temperature `future` on."""
    ends = np.arange(start + past, stop - future)
    x = np.stack([data[end - past : end : step] for end in ends])
    y = data[ends + future - 1, :1]
    return x, y


x_train, y_train = make_windows(features, 0, train_split)
x_val, y_val = make_windows(features, train_split, steps)
print("Input shape:", x_train.shape)
print("Target shape:", y_train.shape)

inputs = keras.layers.Input(shape=(sequence_length, features.shape[1]))
lstm_out = keras.layers.LSTM(32)(inputs)
outputs = keras.layers.Dense(1)(lstm_out)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
model.summary()

es_callback = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=5)
history = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    validation_data=(x_val, y_val),
    callbacks=[es_callback],
    verbose=2,
)

predictions = model.predict(x_val[:5], verbose=0)
for prediction, target in zip(predictions[:, 0], y_val[:5, 0], strict=True):
    print(f"predicted {prediction:+.3f}  true {target:+.3f}")

print(
    "RESULT",
    json.dumps(
        {
            "losses": [float(v) for v in history.history["loss"]],
            "final": {"val_loss": float(history.history["val_loss"][-1])},
            "shapes": {"x_train": list(x_train.shape), "predictions": list(predictions.shape)},
        }
    ),
)
