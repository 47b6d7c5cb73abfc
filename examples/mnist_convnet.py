"""Simple convnet on handwritten digits (after keras.io's "Simple MNIST convnet").

The Keras program with ``import keras`` changed to ``import tapegrad as keras``; the data is
the 8x8 digits shipped with tapegrad instead of MNIST (nothing is downloaded).

Run: ``python examples/mnist_convnet.py`` (``--small`` for a few-second run).
"""

import json
import sys

import numpy as np

import tapegrad as keras
from tapegrad import layers
from tapegrad.datasets import load_digits  # data loading: the shipped 8x8 digits

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(1337)

# Model / data parameters
num_classes = 10
input_shape = (8, 8, 1)

# Load the data and split it between train and test sets
images, labels = load_digits()
x_train, y_train = images[:1500], labels[:1500]
x_test, y_test = images[1500:], labels[1500:]
if SMALL:
    x_train, y_train = x_train[:256], y_train[:256]

# Scale images to the [0, 1] range and make sure images have shape (8, 8, 1)
x_train = np.expand_dims(x_train.astype("float32") / 16, -1)
x_test = np.expand_dims(x_test.astype("float32") / 16, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(16, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(32, kernel_size=(3, 3), padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()

batch_size = 64
epochs = 3 if SMALL else 15

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(
    x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=2
)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])

predictions = model.predict(x_test[:5], verbose=0)
print(
    "RESULT",
    json.dumps(
        {
            "losses": [float(v) for v in history.history["loss"]],
            "final": {"test_loss": float(score[0]), "test_accuracy": float(score[1])},
            "shapes": {"predictions": list(predictions.shape)},
        }
    ),
)
