"""A bidirectional LSTM text classifier (after keras.io's "Bidirectional LSTM on IMDB").

Reviews are variable-length lists of word indices, padded with
``keras.utils.pad_sequences``; two stacked ``Bidirectional(LSTM)`` layers read them both
ways. The reviews are synthetic: words 2..49 are "positive", 50..99 "negative", the rest
neutral, and a review's label is which kind it has more of.

Run: ``python examples/bidirectional_lstm.py`` (``--small`` for a few-second run).
"""

import json
import sys

import numpy as np

import tapegrad as keras
from tapegrad import layers

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(113)

max_features = 500  # Only consider the top 500 words
maxlen = 40 if SMALL else 100  # Only consider the first words of each review


def make_reviews(count, rng):
    reviews, labels = [], []
    for _ in range(count):
        label = int(rng.integers(2))
        length = int(rng.integers(maxlen // 4, maxlen * 3 // 2))
        words = rng.integers(100, max_features, size=length)
        marked = rng.random(length) < 0.3
        sentiment_words = rng.integers(2, 50, size=length) + (0 if label else 48)
        reviews.append(np.where(marked, sentiment_words, words).tolist())
        labels.append(label)
    return reviews, np.array(labels)


rng = np.random.default_rng(113)
x_train, y_train = make_reviews(128 if SMALL else 2000, rng)
x_val, y_val = make_reviews(64 if SMALL else 500, rng)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than maxlen
# and will pad sequences shorter than maxlen.
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 32-dimensional vector
x = layers.Embedding(max_features, 32)(inputs)
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(16, return_sequences=True))(x)
x = layers.Bidirectional(layers.LSTM(16))(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(
    x_train,
    y_train,
    batch_size=32,
    epochs=2 if SMALL else 4,
    validation_data=(x_val, y_val),
    verbose=2,
)
predictions = model.predict(x_val[:8], verbose=0)

print(
    "RESULT",
    json.dumps(
        {
            "losses": [float(v) for v in history.history["loss"]],
            "final": {"val_accuracy": float(history.history["val_accuracy"][-1])},
            "shapes": {"x_train": list(x_train.shape), "predictions": list(predictions.shape)},
        }
    ),
)
