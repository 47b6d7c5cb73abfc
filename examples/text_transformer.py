"""Text classification with a Transformer built from subclassed layers (after keras.io's
"Text classification with Transformer").

``TransformerBlock`` and ``TokenAndPositionEmbedding`` are ``Layer`` subclasses that create
their sublayers in ``__init__`` and combine them in ``call`` (``ops.arange``/``ops.shape`` for
the positions, residuals as ``inputs + attn_output``). The reviews are synthetic: words 2..49
are "positive", 50..99 "negative", the rest neutral, and a review's label is which kind it
has more of.

Run: ``python examples/text_transformer.py`` (``--small`` for a few-second run).
"""

import json
import sys

import numpy as np

import tapegrad as keras
from tapegrad import layers, ops

SMALL = "--small" in sys.argv
keras.utils.set_random_seed(21)


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs, training=False):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output, training=training)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


vocab_size = 500  # Only consider the top 500 words
maxlen = 40 if SMALL else 200  # Only consider the first words of each review


def make_reviews(count, rng):
    reviews, labels = [], []
    for _ in range(count):
        label = int(rng.integers(2))
        length = int(rng.integers(maxlen // 4, maxlen * 3 // 2))
        words = rng.integers(100, vocab_size, size=length)
        marked = rng.random(length) < 0.3
        sentiment_words = rng.integers(2, 50, size=length) + (0 if label else 48)
        reviews.append(np.where(marked, sentiment_words, words).tolist())
        labels.append(label)
    return reviews, np.array(labels)


rng = np.random.default_rng(21)
x_train, y_train = make_reviews(128 if SMALL else 2000, rng)
x_val, y_val = make_reviews(64 if SMALL else 500, rng)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

embed_dim = 32  # Embedding size for each token
num_heads = 2  # Number of attention heads
ff_dim = 32  # Hidden layer size in feed forward network inside transformer

inputs = layers.Input(shape=(maxlen,))
embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
x = embedding_layer(inputs)
transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
x = transformer_block(x)
x = layers.GlobalAveragePooling1D()(x)
x = layers.Dropout(0.1)(x)
x = layers.Dense(20, activation="relu")(x)
x = layers.Dropout(0.1)(x)
outputs = layers.Dense(2, activation="softmax")(x)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(
    x_train,
    y_train,
    batch_size=32,
    epochs=3 if SMALL else 5,
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
            "shapes": {
                "predictions": list(predictions.shape),
                "weights": len(model.trainable_weights),
            },
        }
    ),
)
