"""Attention, AdditiveAttention and MultiHeadAttention(attention_axes=...): values against
Keras 3.15 (JAX backend) with the same weights, masks, `run_layer_test` (gradients
included), configs."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test

Q = np.arange(12, dtype=np.float32).reshape(1, 3, 4) / 10 - 0.5
V = np.arange(8, dtype=np.float32).reshape(1, 2, 4) / 5 - 0.7
K = np.cos(np.arange(8, dtype=np.float32)).reshape(1, 2, 4)

# Outputs of Keras 3.15 (JAX backend) on [Q, V, K] with the weights given.
KERAS_DOT_SCALE = [  # Attention(use_scale=True), scale 0.7
    [-0.2765344, -0.0765344, 0.1234656, 0.3234656],
    [-0.210302, -0.0103021, 0.189698, 0.389698],
    [-0.148873, 0.051127, 0.251127, 0.451127],
]
KERAS_CONCAT_SCALE = [  # Attention(score_mode="concat", use_scale=True), scale 0.5, weight 1.5
    [-0.1381397, 0.0618602, 0.2618603, 0.4618602],
    [-0.1419986, 0.0580014, 0.2580014, 0.4580014],
    [-0.1547185, 0.0452815, 0.2452816, 0.4452815],
]
KERAS_ADDITIVE = [  # AdditiveAttention(), scale [0.3, -0.2, 0.5, 1.0]
    [-0.0346952, 0.1653048, 0.3653048, 0.5653048],
    [-0.0362828, 0.1637172, 0.3637172, 0.5637172],
    [-0.0684904, 0.1315096, 0.3315097, 0.5315096],
]


def test_attention_matches_keras():
    layer = layers.Attention(use_scale=True)
    layer([Q, V])
    layer.set_weights([np.array(0.7, np.float32)])
    np.testing.assert_allclose(layer([Q, V, K]).numpy()[0], KERAS_DOT_SCALE, rtol=1e-5)
    layer = layers.Attention(score_mode="concat", use_scale=True)
    layer([Q, V])
    assert [w.name.split("/")[-1] for w in layer.weights] == ["scale", "concat_score_weight"]
    layer.set_weights([np.array(0.5, np.float32), np.array(1.5, np.float32)])
    np.testing.assert_allclose(layer([Q, V, K]).numpy()[0], KERAS_CONCAT_SCALE, rtol=1e-5)
    layer = layers.AdditiveAttention()
    layer([Q, V])
    layer.set_weights([np.array([0.3, -0.2, 0.5, 1.0], np.float32)])
    np.testing.assert_allclose(layer([Q, V, K]).numpy()[0], KERAS_ADDITIVE, rtol=1e-5, atol=1e-7)


def test_attention_masks_match_keras():
    masks = [np.array([[True, False, True]]), np.array([[False, True]])]
    out, scores = layers.Attention()([Q, V], mask=masks, return_attention_scores=True)
    # Keras 3.15: the masked value gets no weight; the masked query step outputs zeros.
    row = [0.1, 0.3, 0.5, 0.7]
    np.testing.assert_allclose(out.numpy()[0], [row, [0, 0, 0, 0], row], rtol=1e-6)
    np.testing.assert_allclose(scores.numpy()[0], [[0, 1]] * 3, atol=1e-7)
    value = np.concatenate([V, V[:, :1]], axis=1)
    causal = layers.Attention()([Q, value], use_causal_mask=True).numpy()[0]
    expected = [  # Keras 3.15
        [-0.7, -0.5, -0.3, -0.1],
        [-0.2680681, -0.0680681, 0.131932, 0.3319319],
        [-0.1572059, 0.0427941, 0.2427941, 0.442794],
    ]
    np.testing.assert_allclose(causal, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("cls", "kwargs", "weights"),
    [
        (layers.Attention, {}, 0),
        (layers.Attention, {"use_scale": True}, 1),
        (layers.Attention, {"score_mode": "concat", "use_scale": True}, 2),
        (layers.AdditiveAttention, {}, 1),
        (layers.AdditiveAttention, {"use_scale": False}, 0),
    ],
)
def test_attention_layer_test(cls, kwargs, weights):
    run_layer_test(
        cls,
        kwargs,
        input_shape=[(2, 3, 4), (2, 5, 4)],
        expected_output_shape=(2, 3, 4),
        expected_num_trainable_weights=weights,
    )


def test_attention_dropout_compiled_and_config():
    layer = layers.Attention(dropout=0.5, seed=1)
    step = tg.function(lambda q, v: layer([q, v], training=True))
    q = tg.tensor(np.random.default_rng(0).standard_normal((2, 6, 4)).astype(np.float32))
    v = tg.tensor(np.random.default_rng(1).standard_normal((2, 6, 4)).astype(np.float32))
    assert not np.array_equal(step(q, v).numpy(), step(q, v).numpy())
    np.testing.assert_allclose(layer([q, v]).numpy(), layers.Attention()([q, v]).numpy(), rtol=1e-6)
    config = layer.get_config()
    assert {"use_scale": False, "score_mode": "dot", "dropout": 0.5, "seed": 1}.items() <= (
        config.items()
    )
    additive = layers.AdditiveAttention().get_config()
    assert "score_mode" not in additive and additive["use_scale"] is True
    assert layers.Attention().compute_output_shape([(None, 3, 4), (None, 5, 6)]) == (None, 3, 6)


def test_attention_errors():
    with pytest.raises(ValueError, match="score_mode"):
        layers.Attention(score_mode="general")
    with pytest.raises(ValueError, match=r"\[query, value\]"):
        layers.Attention()(Q)
    with pytest.raises(ValueError, match="query"):
        layers.Attention()([Q, V, np.ones((1, 2, 5), np.float32)])


def test_attention_in_a_functional_model(tmp_path):
    query = layers.Input((3, 4))
    value = layers.Input((5, 4))
    attended = layers.AdditiveAttention()([query, value])
    model = tg.Model([query, value], layers.Dense(1)(layers.GlobalAveragePooling1D()(attended)))
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((4, 3, 4)).astype(np.float32), rng.standard_normal((4, 5, 4))]
    x[1] = x[1].astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, np.ones((4, 1), np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = tg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("axes", [(2,), -2, 2])
def test_multi_head_attention_axes_equal_rows_as_batch(axes):
    """Attention along axis 2 only is the default attention over each row on its own."""
    rng = np.random.default_rng(0)
    query, value = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5))
    layer = layers.MultiHeadAttention(2, 3, attention_axes=axes, dtype="float64")
    out, scores = layer(query, value, return_attention_scores=True)
    assert scores.shape == (2, 3, 2, 4, 6)  # Keras' layout: (batch, rows, heads, T, S)
    flat = layers.MultiHeadAttention(2, 3, dtype="float64")
    flat(query.reshape(6, 4, 5), value.reshape(6, 6, 5))
    flat.set_weights(layer.get_weights())
    expected, expected_scores = flat(
        query.reshape(6, 4, 5), value.reshape(6, 6, 5), return_attention_scores=True
    )
    np.testing.assert_allclose(out.numpy(), expected.numpy().reshape(2, 3, 4, 5), rtol=1e-10)
    np.testing.assert_allclose(
        scores.numpy(), expected_scores.numpy().reshape(2, 3, 2, 4, 6), rtol=1e-10
    )
    mask = rng.random((2, 3, 4, 6)) > 0.3
    masked = layer(query, value, attention_mask=mask).numpy()
    expected = flat(
        query.reshape(6, 4, 5), value.reshape(6, 6, 5), attention_mask=mask.reshape(6, 4, 6)
    )
    np.testing.assert_allclose(masked, expected.numpy().reshape(2, 3, 4, 5), rtol=1e-10)


def test_multi_head_attention_two_axes_scores_shape_and_gradients():
    layer = layers.MultiHeadAttention(2, 2, attention_axes=(1, 3), dtype="float64")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 3, 2, 4))
    out, scores = layer(x, x, return_attention_scores=True)
    assert out.shape == x.shape
    assert scores.shape == (2, 3, 2, 2, 2, 2, 2)  # as Keras 3.15
    np.testing.assert_allclose(scores.numpy().sum(axis=(-2, -1)), 1.0, rtol=1e-12)
    weights = layer.trainable_weights
    tg.check_grads(
        lambda x, *ws: _mha_with(layer, x, weights, ws),
        (x, *[w.numpy() for w in weights]),
        order=1,
        modes=("rev",),
    )
    assert layer.get_config()["attention_axes"] == [1, 3]
    with pytest.raises(ValueError, match="attention_axes"):
        layers.MultiHeadAttention(2, 2, attention_axes=(4,))(x, x)


def _mha_with(layer, x, weights, values):
    from tests.nn.layer_test_utils import _restore_weights, _swap_weights

    undo = _swap_weights(layer, dict(zip(map(id, weights), values, strict=True)))
    try:
        return layer(x, x)
    finally:
        _restore_weights(undo)
