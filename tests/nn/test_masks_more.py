"""Masks, continued: Lambda(mask=), symbolic `_keras_mask`, ConvLSTM masks, stateful RNNs."""

import os

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tapegrad.nn.layers.layer_masks import get_keras_mask

RNG = np.random.default_rng(0)
TOKENS = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 0, 0]])


def keras_or_skip():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras comparison runs on Keras' JAX backend")
    return keras


# -- Lambda(mask=) ---------------------------------------------------------------------------


def test_lambda_mask_function_tensor_and_none():
    embedded = layers.Embedding(10, 2, mask_zero=True)(TOKENS)
    # A function: (inputs, mask) -> the output's mask.
    shifted = layers.Lambda(lambda x: x[:, 1:], mask=lambda x, m: m[:, 1:])(embedded)
    np.testing.assert_array_equal(get_keras_mask(shifted).numpy(), TOKENS[:, 1:] != 0)
    # A tensor: the output's mask whatever the input's.
    fixed = np.array([[True, False, True, False, True]] * 2)
    out = layers.Lambda(lambda x: x, mask=fixed)(np.ones((2, 5, 2), np.float32))
    np.testing.assert_array_equal(get_keras_mask(out).numpy(), fixed)
    # A function with a mask parameter receives the inputs' mask.
    seen = []
    layers.Lambda(lambda x, mask=None: seen.append(mask) or x, mask=lambda x, m: m)(embedded)
    np.testing.assert_array_equal(seen[0].numpy(), TOKENS != 0)
    # No mask argument: Keras' Lambda does not support masking (the mask is dropped).
    plain = layers.Lambda(lambda x: x * 2)
    assert plain.supports_masking is False
    with pytest.warns(UserWarning, match="does not support masking"):
        assert get_keras_mask(plain(embedded)) is None


def test_lambda_mask_tensor_config_and_saving(tmp_path):
    fixed = [[True, False, True]]
    layer = layers.Lambda(lambda x: x, mask=fixed)
    assert layer.get_config()["mask"] == fixed
    inputs = tg.Input((3,))
    model = tg.Model(inputs, layers.Lambda(lambda x: x * 2.0, mask=fixed)(inputs))
    model.save(tmp_path / "fixed.keras")
    loaded = tg.saving.load_model(tmp_path / "fixed.keras")
    out = loaded(np.ones((1, 3), np.float32))
    np.testing.assert_array_equal(get_keras_mask(out).numpy(), fixed)
    functional = tg.Model(inputs, layers.Lambda(lambda x: x, mask=lambda x, m: None)(inputs))
    with pytest.raises(ValueError, match="mask function"):
        functional.save(tmp_path / "function.keras")


# -- symbolic masks --------------------------------------------------------------------------


def test_keras_tensor_mask_is_a_graph_node():
    tokens = tg.Input((5,), dtype="int32")
    embedding, dense = layers.Embedding(10, 4, mask_zero=True), layers.Dense(4)
    embedded = embedding(tokens)
    query = dense(embedded)  # Dense passes the mask on: its output's mask is known too
    assert tokens._keras_mask is None
    assert embedded._keras_mask.shape == (None, 5)
    assert embedded._keras_mask.dtype == np.bool_
    assert layers.LSTM(3)(embedded)._keras_mask is None
    assert layers.LSTM(3, return_sequences=True)(embedded)._keras_mask.shape == (None, 5)
    masks = tg.Model(tokens, [embedded._keras_mask, query._keras_mask])(TOKENS)
    for mask in masks:
        np.testing.assert_array_equal(mask.numpy(), TOKENS != 0)
    # Passed explicitly, the symbolic masks give what the implicit masks give.
    attention = layers.Attention()
    explicit = tg.Model(
        tokens, attention([query, embedded], mask=[query._keras_mask, embedded._keras_mask])
    )
    embedded_now = embedding(TOKENS)
    implicit = attention([dense(embedded_now), embedded_now])
    np.testing.assert_allclose(explicit(TOKENS).numpy(), implicit.numpy(), rtol=1e-6)


# -- ConvLSTM --------------------------------------------------------------------------------


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_conv_lstm_masked_steps_carry_the_states(rank):
    name = f"ConvLSTM{rank}D"
    shape = (2, 4) + (4,) * rank + (2,)
    x = RNG.standard_normal(shape).astype(np.float32)
    mask = np.array([[1, 1, 0, 0], [1, 0, 1, 0]], bool)
    layer = getattr(layers, name)(3, 3, padding="same", return_sequences=True, return_state=True)
    out, h, c = layer(x, mask=mask)
    assert layer.supports_masking and get_keras_mask(out) is not None
    # Sample 0 masks its last two steps: its states are those after two steps.
    _, h2, c2 = layer(x[:1, :2])
    np.testing.assert_allclose(h.numpy()[:1], h2.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.numpy()[:1], c2.numpy(), rtol=1e-5, atol=1e-6)
    # A masked step repeats the previous output.
    np.testing.assert_array_equal(out.numpy()[1, 1], out.numpy()[1, 0])
    with pytest.raises(ValueError, match="mask must have shape"):
        layer(x, mask=mask[:, :2])


def test_conv_lstm_masks_equal_keras():
    keras = keras_or_skip()
    shape = (2, 4, 5, 2)
    x = RNG.standard_normal(shape).astype(np.float32)
    mask = np.array([[1, 0, 1, 0], [0, 1, 1, 1]], bool)
    for go_backwards in (True,):  # (reversed: the order of masks and steps both checked)
        arguments = dict(padding="same", return_sequences=True, return_state=True)
        # Keras' JAX loop takes a ConvLSTM mask only unrolled (its scan broadcasts the
        # mask against the output's rank and fails); both compute the same step rule.
        # (The 2D and 3D layers share the code: checked against Keras while written.)
        reference = keras.layers.ConvLSTM1D(
            3, 3, go_backwards=go_backwards, unroll=True, **arguments
        )
        reference.build(shape)
        ours = layers.ConvLSTM1D(3, 3, go_backwards=go_backwards, **arguments)
        ours.build(shape)
        ours.set_weights([np.asarray(w) for w in reference.get_weights()])
        for want, got in zip(reference(x, mask=mask), ours(x, mask=mask), strict=True):
            np.testing.assert_allclose(got.numpy(), np.asarray(want), rtol=1e-4, atol=1e-5)


# -- stateful RNNs ---------------------------------------------------------------------------

X1 = RNG.standard_normal((2, 5, 3)).astype(np.float32)
X2 = RNG.standard_normal((2, 5, 3)).astype(np.float32)
M1 = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
M2 = np.array([[1, 0, 1, 1, 0], [0, 0, 1, 1, 1]], bool)


def stateful_model(lib, kind):
    sequences = lib.Input((5, 3), batch_size=2)
    mask = lib.Input((5,), batch_size=2, dtype="bool")
    layer = getattr(lib.layers, kind)(4, stateful=True, return_sequences=True)
    return lib.Model([sequences, mask], layer(sequences, mask=mask)), layer


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_stateful_rnn_carries_states_across_batches(kind):
    model, layer = stateful_model(tg, kind)
    assert len(layer.states) == (2 if kind == "LSTM" else 1)
    assert all(float(np.abs(s.numpy()).sum()) == 0.0 for s in layer.states)  # (not probed)
    assert not any(any(s is w for w in model.weights) for s in layer.states)
    first = model([X1, M1]).numpy()
    second = model([X2, M2]).numpy()
    # The second batch starts from the first batch's final states.
    fresh, _ = stateful_model(tg, kind)
    fresh.set_weights(model.get_weights())
    fresh([X1, M1])
    np.testing.assert_allclose(fresh([X2, M2]).numpy(), second, rtol=1e-6)
    layer.reset_states()
    np.testing.assert_allclose(model([X1, M1]).numpy(), first, rtol=1e-6)
    with pytest.raises(ValueError, match="batch size"):
        layer(np.ones((3, 5, 3), np.float32))


def test_stateful_rnn_needs_a_batch_size_and_reset_to_values():
    with pytest.raises(ValueError, match="batch size must be static"):
        tg.Sequential([tg.Input((5, 3)), layers.GRU(2, stateful=True)])
    layer = layers.GRU(2, stateful=True)
    layer(X1)  # built by a call: the first batch's size
    values = np.full((2, 2), 0.5, np.float32)
    layer.reset_states([values])
    np.testing.assert_array_equal(layer.states[0].numpy(), values)
    assert layer.get_config()["stateful"] is True


def test_stateful_fit_compiled_equals_eager():
    def run(eager):
        tg.utils.set_random_seed(3)
        model = tg.Sequential(
            [tg.Input((5, 3), batch_size=2), layers.LSTM(3, stateful=True), layers.Dense(1)]
        )
        model.compile(optimizer="sgd", loss="mse", run_eagerly=eager)
        for x in (X1, X2):
            model.train_on_batch(x, np.ones((2, 1), np.float32))
        return model.layers[0].states[0].numpy()

    np.testing.assert_allclose(run(False), run(True), rtol=1e-5, atol=1e-6)
    assert float(np.abs(run(False)).sum()) > 0.0


@pytest.mark.parametrize("kind", ["LSTM"])  # (GRU, SimpleRNN: the same loop and states code)
def test_stateful_rnn_equals_keras_over_two_batches_with_masks(kind):
    keras = keras_or_skip()
    reference, reference_layer = stateful_model(keras, kind)
    ours, layer = stateful_model(tg, kind)
    ours.set_weights([np.asarray(w) for w in reference.get_weights()])
    for x, mask in ((X1, M1), (X2, M2)):
        want = np.asarray(reference([x, mask]))
        np.testing.assert_allclose(ours([x, mask]).numpy(), want, rtol=1e-4, atol=1e-5)
        for a, b in zip(reference_layer.states, layer.states, strict=True):
            np.testing.assert_allclose(b.numpy(), np.asarray(a), rtol=1e-4, atol=1e-5)
    reference_layer.reset_states()
    layer.reset_states()
    want = np.asarray(reference([X2, M2]))
    np.testing.assert_allclose(ours([X2, M2]).numpy(), want, rtol=1e-4, atol=1e-5)


def test_stateful_conv_lstm_carries_states_across_batches():
    x1, x2 = RNG.standard_normal((2, 2, 3, 6, 2)).astype(np.float32)

    def build():
        inputs = tg.Input((3, 6, 2), batch_size=2)
        layer = layers.ConvLSTM1D(2, 3, padding="same", stateful=True)
        return tg.Model(inputs, layer(inputs)), layer

    model, layer = build()
    assert [s.shape for s in layer.states] == [(2, 6, 2), (2, 6, 2)]
    model(x1)
    second = model(x2).numpy()
    fresh, _ = build()
    fresh.set_weights(model.get_weights())
    joined = np.concatenate([x1, x2], axis=1)  # one sequence of both batches' steps
    unrolled = layers.ConvLSTM1D(2, 3, padding="same")
    unrolled.build(joined.shape)
    unrolled.set_weights(model.get_weights())
    np.testing.assert_allclose(unrolled(joined).numpy(), second, rtol=1e-5, atol=1e-6)
    layer.reset_states()
    np.testing.assert_allclose(model(x2).numpy(), fresh(x2).numpy(), rtol=1e-6)
