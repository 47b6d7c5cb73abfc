"""ReversibleEmbedding: forward and reverse values against Keras 3.15 (JAX backend) with
the same weights (tied and untied, soft cap), gradients through both directions, configs,
a tied language-model head trained and saved."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers

IDS = np.array([[1, 2, 3], [0, 4, 4]])
HIDDEN = np.cos(np.arange(12, dtype=np.float32)).reshape(2, 3, 2)
# Keras 3.15 with weights linspace(-1, 1): reverse logits of HIDDEN[0].
KERAS_TIED = [
    [-1.420235, -0.735656, -0.051078, 0.633501, 1.31808],
    [1.186141, 0.56119, -0.063761, -0.688711, -1.313662],
    [0.433017, 0.268581, 0.104145, -0.060291, -0.224727],
]
KERAS_UNTIED_CAPPED = [  # tie_weights=False, logit_soft_cap=0.5
    [-0.477243, -0.416116, -0.235275, 0.086037, 0.347712],
    [0.27287, -0.006327, -0.281634, -0.425884, -0.477578],
    [0.439383, 0.417721, 0.38923, 0.35246, 0.306146],
]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({}, KERAS_TIED), ({"tie_weights": False, "logit_soft_cap": 0.5}, KERAS_UNTIED_CAPPED)],
)
def test_matches_keras(kwargs, expected):
    layer = layers.ReversibleEmbedding(5, 2, **kwargs)
    layer(IDS)
    layer.set_weights(
        [np.linspace(-1, 1, int(np.prod(w.shape)), dtype=np.float32).reshape(w.shape)
         for w in layer.weights]
    )  # fmt: skip
    embedded = layer(IDS).numpy()
    np.testing.assert_allclose(
        embedded[1], [[-1.0, -0.777778], [0.777778, 1.0], [0.777778, 1.0]], rtol=1e-5
    )
    np.testing.assert_allclose(
        layer(HIDDEN, reverse=True).numpy()[0], expected, rtol=1e-5, atol=1e-6
    )
    assert len(layer.weights) == (1 if not kwargs else 2)


def test_gradients_config_and_language_model(tmp_path):
    layer = layers.ReversibleEmbedding(6, 3, dtype="float64")
    layer(IDS)
    table = layer.embeddings

    def loss(hidden, values):
        original = layer.embeddings
        layer.embeddings = values
        try:
            return layer(hidden, reverse=True)
        finally:
            layer.embeddings = original

    tg.check_grads(
        loss,
        (HIDDEN[..., :1].repeat(3, -1).astype(np.float64), table.numpy()),
        order=1,
        modes=("rev",),
    )
    config = layer.get_config()
    assert (config["tie_weights"], config["logit_soft_cap"], config["reverse_dtype"]) == (
        True,
        None,
        None,
    )
    assert layer.compute_output_shape((None, 3, 3), reverse=True) == (None, 3, 6)
    tokens = layers.Input((3,), dtype="int32")
    embedding = layers.ReversibleEmbedding(6, 4)
    logits = embedding(layers.Dense(4)(embedding(tokens)), reverse=True)
    model = tg.Model(tokens, logits)
    model.compile("adam", tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.array([[1, 2, 3], [4, 5, 0]], np.int32)
    model.fit(x, x, epochs=2, verbose=0)
    model.save(tmp_path / "lm.keras")
    loaded = tg.models.load_model(tmp_path / "lm.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="logit_soft_cap"):
        layers.ReversibleEmbedding(4, 2, logit_soft_cap=0.0)
