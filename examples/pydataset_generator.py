"""Feeding ``fit`` from Python: a ``keras.utils.PyDataset`` and a generator (after the Keras 3
guide "Training & evaluation with the built-in methods": "Using a PyDataset" and the
``steps_per_epoch`` examples).

A ``PyDataset`` subclass serves shuffled, augmented batches of digits by index (and reshuffles
in ``on_epoch_end``); ``fit`` takes it with another one as ``validation_data``. An endless
Python generator then trains a second model with ``steps_per_epoch``, and ``evaluate`` and
``predict`` read finite generators.

Run: ``python examples/pydataset_generator.py`` (``--small`` for a few-second run).
"""

import json
import math
import sys

import numpy as np

import tapegrad as keras
from tapegrad import layers
from tapegrad.datasets import load_digits  # data loading: the shipped 8x8 digits

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(4)


class DigitsDataset(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, augment=False, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.augment = augment
        self.order = np.arange(len(x))
        self.rng = np.random.default_rng(0)

    def __len__(self):
        # Return number of batches.
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx):
        # Return x, y for batch idx.
        index = self.order[idx * self.batch_size : (idx + 1) * self.batch_size]
        batch_x, batch_y = self.x[index], self.y[index]
        if self.augment:
            batch_x = np.clip(batch_x + self.rng.normal(0, 0.05, batch_x.shape), 0, 1)
        return batch_x.astype("float32"), batch_y

    def on_epoch_end(self):
        if self.augment:
            self.rng.shuffle(self.order)


images, labels = load_digits()
images = np.expand_dims(images / 16, -1)
x_train, y_train = images[:1400], labels[:1400]
x_val, y_val = images[1400:], labels[1400:]
if SMALL:
    x_train, y_train, x_val, y_val = x_train[:256], y_train[:256], x_val[:64], y_val[:64]

train_dataset = DigitsDataset(x_train, y_train, batch_size=32, augment=True)
val_dataset = DigitsDataset(x_val, y_val, batch_size=32)


def get_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            layers.Conv2D(16, 3, activation="relu"),
            layers.GlobalMaxPooling2D(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model


model = get_model()
history = model.fit(
    train_dataset, epochs=3 if SMALL else 10, validation_data=val_dataset, verbose=2
)


def endless_batches(x, y, batch_size):
    """Yields (x, y) batches forever, reshuffling after each pass."""
    rng = np.random.default_rng(1)
    while True:
        order = rng.permutation(len(x))
        for start in range(0, len(x) - batch_size + 1, batch_size):
            index = order[start : start + batch_size]
            yield x[index].astype("float32"), y[index]


def batches(x, batch_size):
    # Keras wants tuples from a generator: (x,) when there are no targets.
    for start in range(0, len(x), batch_size):
        yield (x[start : start + batch_size].astype("float32"),)


generator_model = get_model()
generator_history = generator_model.fit(
    endless_batches(x_train, y_train, 32),
    steps_per_epoch=len(x_train) // 32,
    epochs=2 if SMALL else 10,
    verbose=2,
)
scores = generator_model.evaluate(
    ((x_val[i : i + 32].astype("float32"), y_val[i : i + 32]) for i in range(0, len(x_val), 32)),
    verbose=0,
)
predictions = generator_model.predict(batches(x_val, 32), verbose=0)
print("generator-fed model: loss, accuracy on validation digits:", scores)

print(
    "RESULT",
    json.dumps(
        {
            "losses": [float(v) for v in history.history["loss"]],
            "final": {"generator_loss": float(generator_history.history["loss"][-1])},
            "shapes": {"predictions": list(predictions.shape), "steps": len(train_dataset)},
        }
    ),
)
