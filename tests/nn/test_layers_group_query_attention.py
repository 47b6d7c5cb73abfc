"""GroupQueryAttention: values against a NumPy implementation of Keras 3.15's equations
(itself checked against Keras on these cases), masks (query/value/causal/sliding
window), the gate, `run_layer_test`-style gradients, configs, saving."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers

RNG = np.random.default_rng(0)
Q = RNG.standard_normal((2, 4, 6))
V = RNG.standard_normal((2, 5, 6))
K = RNG.standard_normal((2, 5, 6))
QUERY_MASK = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)
VALUE_MASK = np.array([[1, 0, 1, 1, 1], [1, 1, 1, 0, 0]], bool)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def reference(layer, q, v, k, mask=None):
    """Keras' grouped-query attention in NumPy (float64)."""
    weights = {w.path.split("/", 1)[1]: w.numpy() for w in layer.weights}

    def dense(name, x, equation):
        out = np.einsum(equation, x, weights[f"{name}/kernel"])
        return out + weights[f"{name}/bias"] if f"{name}/bias" in weights else out

    query = dense("query", q, "bqm,muh->bquh") / np.sqrt(layer.head_dim)
    key = np.repeat(dense("key", k, "bkm,mvh->bkvh"), layer.num_repeats, axis=2)
    value = np.repeat(dense("value", v, "bkm,mvh->bkvh"), layer.num_repeats, axis=2)
    scores = np.einsum("bquh,bkuh->buqk", query, key)
    if mask is not None:
        scores = np.where(mask[:, None], scores, -1e9)
    probabilities = np.exp(scores - scores.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    if mask is not None:
        probabilities = np.where(mask[:, None], probabilities, 0.0)
    output = np.einsum("buqk,bkuh->bquh", probabilities, value)
    if layer.use_gate:
        output = output * _sigmoid(dense("gate", q, "bqm,muh->bquh"))
    return dense("attention_output", output, "bquh,uhm->bqm"), probabilities


CASES = [
    ({}, {}, None),
    (
        {"use_gate": True, "sliding_window": 2},
        {"use_causal_mask": True},
        np.tril(np.ones((1, 4, 5), bool)) & (np.abs(np.arange(4)[:, None] - np.arange(5)) < 2),
    ),
    (
        {"use_bias": False},
        {"query_mask": QUERY_MASK, "value_mask": VALUE_MASK},
        QUERY_MASK[:, :, None] & VALUE_MASK[:, None, :],
    ),
]


@pytest.mark.parametrize(("init", "call", "mask"), CASES)
def test_grouped_query_attention_values(init, call, mask):
    layer = layers.GroupQueryAttention(3, 4, 2, dtype="float64", **init)
    layer(Q, V, K)
    layer.set_weights([RNG.standard_normal(w.shape) * 0.4 for w in layer.weights])
    out, scores = layer(Q, V, K, return_attention_scores=True, **call)
    expected_out, expected_scores = reference(layer, Q, V, K, mask)
    np.testing.assert_allclose(out.numpy(), expected_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(scores.numpy(), expected_scores, rtol=1e-10, atol=1e-12)


def test_weights_gradients_and_compiled():
    layer = layers.GroupQueryAttention(2, 4, 1, use_gate=True, dtype="float64")
    layer(Q, V)
    names = [w.path.split("/", 1)[1] for w in layer.weights]
    assert names == [
        f"{part}/{kind}"
        for part in ("query", "key", "gate", "value", "attention_output")
        for kind in ("kernel", "bias")
    ]  # Keras 3.15's order
    assert [w.shape for w in layer.weights][:4] == [(6, 4, 2), (4, 2), (6, 1, 2), (1, 2)]
    weights = layer.trainable_weights

    def run(q, *values):
        from tests.nn.layer_test_utils import _restore_weights, _swap_weights

        undo = _swap_weights(layer, dict(zip(map(id, weights), values, strict=True)))
        try:
            return layer(q, V, use_causal_mask=True)
        finally:
            _restore_weights(undo)

    tg.check_grads(run, (Q, *[w.numpy() for w in weights]), order=1, modes=("rev",))
    step = tg.function(lambda q, v: layer(q, v))
    np.testing.assert_allclose(
        step(tg.tensor(Q), tg.tensor(V)).numpy(), layer(Q, V).numpy(), rtol=1e-10
    )


def test_functional_model_config_and_errors(tmp_path):
    query = layers.Input((4, 6))
    value = layers.Input((5, 6))
    out = layers.GroupQueryAttention(3, 4, 2, dropout=0.1, seed=0)(query, value)
    model = tg.Model([query, value], out)
    x = [Q.astype(np.float32), V.astype(np.float32)]
    model.compile("adam", "mse")
    model.fit(x, np.zeros((2, 4, 6), np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "gqa.keras")
    loaded = tg.models.load_model(tmp_path / "gqa.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    config = model.layers[-1].get_config()
    assert (config["head_dim"], config["num_query_heads"], config["num_key_value_heads"]) == (
        3,
        4,
        2,
    )
    assert layers.GroupQueryAttention is layers.GroupedQueryAttention
    with pytest.raises(ValueError, match="divide"):
        layers.GroupQueryAttention(2, 3, 2)
    with pytest.raises(ValueError, match="value is required"):
        layers.GroupQueryAttention(2, 2, 1)(Q)
