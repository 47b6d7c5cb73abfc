"""A multi-input, multi-output model (after the Keras 3 guide "The Functional API").

Ranks customer issue tickets by priority and routes them to a department, from the ticket's
title (text), body (text) and user-selected tags. Inputs and outputs are named, data is fed
as dicts keyed by those names, and each output has its own loss and loss weight. The second
half builds the guide's "toy ResNet" with residual connections (``layers.add``) on digits.

Run: ``python examples/functional_api.py`` (``--small`` for a few-second run).
"""

import json
import sys

import numpy as np

import tapegrad as keras
from tapegrad import layers, ops
from tapegrad.datasets import load_digits  # data loading: the shipped 8x8 digits

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(42)

num_tags = 12  # Number of unique issue tags
num_words = 1000  # Size of vocabulary obtained when preprocessing text data
num_departments = 4  # Number of departments for predictions

title_input = keras.Input(shape=(None,), name="title")  # Variable-length sequence of ints
body_input = keras.Input(shape=(None,), name="body")  # Variable-length sequence of ints
tags_input = keras.Input(shape=(num_tags,), name="tags")  # Binary vectors of size `num_tags`

# Embed each word in the title into a 16-dimensional vector
title_features = layers.Embedding(num_words, 16)(title_input)
# Embed each word in the text into a 16-dimensional vector
body_features = layers.Embedding(num_words, 16)(body_input)

# Reduce sequence of embedded words in the title into a single 32-dimensional vector
title_features = layers.LSTM(32)(title_features)
# Reduce sequence of embedded words in the body into a single 8-dimensional vector
body_features = layers.LSTM(8)(body_features)

# Merge all available features into a single large vector via concatenation
x = layers.concatenate([title_features, body_features, tags_input])

# Stick a logistic regression for priority prediction on top of the features
priority_pred = layers.Dense(1, name="priority")(x)
# Stick a department classifier on top of the features
department_pred = layers.Dense(num_departments, name="department")(x)

# Instantiate an end-to-end model predicting both priority and department
model = keras.Model(
    inputs=[title_input, body_input, tags_input],
    outputs={"priority": priority_pred, "department": department_pred},
)
model.summary()

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "priority": keras.losses.BinaryCrossentropy(from_logits=True),
        "department": keras.losses.CategoricalCrossentropy(from_logits=True),
    },
    loss_weights={"priority": 1.0, "department": 0.2},
)

# Dummy input data whose targets depend on it, so that there is something to learn
num_samples = 64 if SMALL else 1280
rng = np.random.default_rng(0)
title_data = rng.integers(num_words, size=(num_samples, 10))
body_data = rng.integers(num_words, size=(num_samples, 100 if not SMALL else 20))
tags_data = rng.integers(2, size=(num_samples, num_tags)).astype("float32")
priority_targets = (tags_data[:, :6].sum(axis=1, keepdims=True) > 3).astype("float32")
department_targets = keras.utils.to_categorical(
    np.argmax(tags_data[:, :num_departments], axis=1), num_departments
)

history = model.fit(
    {"title": title_data, "body": body_data, "tags": tags_data},
    {"priority": priority_targets, "department": department_targets},
    epochs=3 if SMALL else 10,
    batch_size=32,
    verbose=2,
)
predictions = model.predict({"title": title_data, "body": body_data, "tags": tags_data}, verbose=0)
print({name: value.shape for name, value in predictions.items()})

# A toy ResNet model: residual connections between convolution blocks
inputs = keras.Input(shape=(8, 8, 1), name="img")
x = layers.Conv2D(16, 3, activation="relu", padding="same")(inputs)
block_1_output = layers.MaxPooling2D(2)(x)

x = layers.Conv2D(16, 3, activation="relu", padding="same")(block_1_output)
x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
block_2_output = layers.add([x, block_1_output])

x = layers.Conv2D(16, 3, activation="relu", padding="same")(block_2_output)
x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
block_3_output = layers.add([x, block_2_output])

x = layers.Conv2D(16, 3, activation="relu")(block_3_output)
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dense(32, activation="relu")(x)
x = layers.Dropout(0.5)(x)
outputs = layers.Dense(10)(x)

resnet = keras.Model(inputs, outputs, name="toy_resnet")
resnet.summary()

images, labels = load_digits()
images = np.expand_dims(images.astype("float32") / 16, -1)
if SMALL:
    images, labels = images[:256], labels[:256]
resnet.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["acc"],
)
resnet_history = resnet.fit(
    images, labels, batch_size=64, epochs=2 if SMALL else 10, validation_split=0.2, verbose=2
)
logits = resnet.predict(images[:8], verbose=0)
probabilities = ops.softmax(logits)

print(
    "RESULT",
    json.dumps(
        {
            "losses": [float(v) for v in history.history["loss"]],
            "final": {"resnet_loss": float(resnet_history.history["loss"][-1])},
            "shapes": {
                "priority": list(predictions["priority"].shape),
                "department": list(predictions["department"].shape),
                "resnet_probabilities": list(ops.shape(probabilities)),
            },
        }
    ),
)
