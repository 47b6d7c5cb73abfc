"""Keras 3 masks: propagation through layers, eagerly, in traces and in functional models."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn.layers.layer_masks import get_keras_mask

TOKENS = np.array([[3, 1, 0, 0], [2, 4, 1, 0]])
EXPECTED = TOKENS != 0


class SeesMask(tg.layers.Layer):
    """Records the mask its call receives; the masked mean over time."""

    def call(self, inputs, mask=None):
        self.seen = mask
        if mask is None:
            return tg.numpy.mean(inputs, axis=1)
        weights = tg.numpy.expand_dims(tg.numpy.asarray(mask, "float32"), -1)
        return tg.numpy.sum(inputs * weights, axis=1) / tg.numpy.sum(weights, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None  # the time axis is reduced away (Keras' idiom: no warning)


def test_embedding_mask_zero_attaches_a_mask_that_dense_and_dropout_pass_on():
    out = tg.layers.Embedding(5, 3, mask_zero=True)(TOKENS)
    np.testing.assert_array_equal(get_keras_mask(out).numpy(), EXPECTED)
    for layer in (tg.layers.Dense(2), tg.layers.Dropout(0.5), tg.layers.Activation("tanh")):
        np.testing.assert_array_equal(get_keras_mask(layer(out)).numpy(), EXPECTED)


def test_layers_without_masking_support_drop_the_mask():
    out = tg.layers.Embedding(5, 3, mask_zero=True)(TOKENS)
    with pytest.warns(UserWarning, match="does not support masking"):
        assert get_keras_mask(tg.layers.Flatten()(out)) is None
    assert get_keras_mask(tg.layers.Lambda(lambda t: t * 2)(out)) is None  # Keras: no mask=
    assert not tg.layers.Flatten().supports_masking
    assert tg.layers.Dense(1).supports_masking and tg.layers.Masking().supports_masking


def test_embedding_without_mask_zero_makes_no_mask():
    assert get_keras_mask(tg.layers.Embedding(5, 3)(TOKENS)) is None


def test_masking_layer_mask_reaches_a_call_with_a_mask_argument():
    x = np.ones((2, 3, 2), np.float32)
    x[0, 2] = 0.0
    masked = tg.layers.Masking(0.0)(x)
    layer = SeesMask()
    layer(masked)
    np.testing.assert_array_equal(layer.seen.numpy(), [[True, True, False], [True] * 3])


def test_a_mask_given_by_the_caller_is_kept_and_is_the_previous_mask():
    out = tg.layers.Embedding(5, 3, mask_zero=True)(TOKENS)
    given = np.ones(TOKENS.shape, bool)
    layer = SeesMask()
    layer(out, mask=given)
    np.testing.assert_array_equal(np.asarray(layer.seen), given)


def test_masked_mean_matches_keras_semantics_eagerly_and_traced():
    embed = tg.layers.Embedding(5, 3, mask_zero=True)
    layer = SeesMask()
    eager = layer(embed(TOKENS)).numpy()
    table = embed.get_weights()[0]
    rows = [table[t[t != 0]].mean(axis=0) for t in TOKENS]
    np.testing.assert_allclose(eager, np.stack(rows), rtol=1e-6)

    @tg.function
    def step(tokens):
        return layer(embed(tokens))

    np.testing.assert_allclose(step(TOKENS).numpy(), eager, rtol=1e-6)
    np.testing.assert_allclose(step(np.array([[1, 0, 0, 0], [2, 2, 0, 0]])).numpy()[0], table[1])


def test_functional_model_passes_masks_between_layers():
    inputs = tg.Input((4,), dtype="int32")
    hidden = tg.layers.Embedding(5, 3, mask_zero=True)(inputs)
    hidden = tg.layers.Dense(3)(hidden)
    outputs = SeesMask()(hidden)
    model = tg.Model(inputs, outputs)
    got = model(TOKENS).numpy()
    embed, dense = model.layers[1], model.layers[2]
    full = dense(embed(TOKENS)).numpy()
    want = np.stack([full[i][EXPECTED[i]].mean(axis=0) for i in range(2)])
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(model.predict(TOKENS, verbose=0), want, rtol=1e-5)


def test_sequential_model_passes_masks():
    model = tg.models.Sequential(
        [tg.layers.Embedding(5, 3, mask_zero=True), tg.layers.Dropout(0.1), SeesMask()]
    )
    model(TOKENS)
    np.testing.assert_array_equal(model.layers[-1].seen.numpy(), EXPECTED)


def test_several_tensor_arguments_fill_their_own_mask_arguments():
    class Pair(tg.layers.Layer):
        def call(self, query, value, query_mask=None, value_mask=None, mask=None):
            self.seen = (query_mask, value_mask, mask)
            return query

    embed = tg.layers.Embedding(5, 3, mask_zero=True)
    q, v = embed(TOKENS), embed(TOKENS[:, :3])
    layer = Pair()
    out = layer(q, v)
    np.testing.assert_array_equal(layer.seen[0].numpy(), EXPECTED)
    np.testing.assert_array_equal(layer.seen[1].numpy(), EXPECTED[:, :3])
    assert layer.seen[2] is None  # Keras: ``mask`` only for a single tensor argument
    assert get_keras_mask(out) is get_keras_mask(q)  # the same tensor came back


@pytest.mark.parametrize("supports", [True, False])
def test_supports_masking_can_be_set_per_instance(supports):
    layer = tg.layers.Activation("relu")
    layer.supports_masking = supports
    out = layer(tg.layers.Embedding(5, 3, mask_zero=True)(TOKENS))
    assert (get_keras_mask(out) is not None) is supports


def _masked_reference(layer, x, keep, zero_output):
    """Keras' masked run, built from unmasked runs: each sample's kept steps alone (the
    states skip masked steps); a masked step repeats the previous output (zeros before
    the first kept step, or with ``zero_output_for_mask``)."""
    units = layer.cell.units
    outputs = np.zeros((x.shape[0], x.shape[1], units), np.float32)
    order = list(range(x.shape[1]))[:: -1 if layer.go_backwards else 1]
    for i in range(x.shape[0]):
        kept = [t for t in order if keep[i, t]]
        run = layer.__class__.from_config(
            {**layer.get_config(), "return_sequences": True, "go_backwards": False}
        )
        run(x[i : i + 1, kept])
        run.set_weights(layer.get_weights())
        steps = run(x[i : i + 1, kept]).numpy()[0]
        previous, k = np.zeros(units, np.float32), 0
        for position, t in enumerate(order):
            if keep[i, t]:
                previous = steps[k]
                k += 1
                outputs[i, position] = previous
            else:
                outputs[i, position] = 0.0 if zero_output else previous
    # Keras' last output is the last processed step's (zeros there with zero_output).
    return outputs, outputs[:, -1]


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("zero_output", [False, True])
def test_recurrent_layers_skip_masked_steps(kind, go_backwards, zero_output):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 2)).astype(np.float32)
    keep = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 0], [0, 1, 0, 1, 1]], bool)
    layer = getattr(tg.layers, kind)(
        4, return_sequences=True, go_backwards=go_backwards, zero_output_for_mask=zero_output
    )
    outputs = layer(x, mask=keep)
    want_outputs, want_last = _masked_reference(layer, x, keep, zero_output)
    np.testing.assert_allclose(outputs.numpy(), want_outputs, atol=1e-5)
    np.testing.assert_array_equal(get_keras_mask(outputs).numpy(), keep)

    final = layer.__class__.from_config({**layer.get_config(), "return_sequences": False})
    final(x)
    final.set_weights(layer.get_weights())
    x_masked = tg.layers.Masking(0.0)(np.where(keep[..., None], x, 0.0))
    np.testing.assert_allclose(final(x_masked).numpy(), want_last, atol=1e-5)
    traced = tg.function(lambda data, m: final(data, mask=m))
    np.testing.assert_allclose(traced(x, keep).numpy(), want_last, atol=1e-5)


def test_rnn_with_a_custom_cell_and_initial_state_carries_states_through_masked_steps():
    x = np.random.default_rng(2).normal(size=(2, 4, 3)).astype(np.float32)
    keep = np.array([[1, 0, 1, 0], [1, 1, 1, 1]], bool)
    cell = tg.layers.SimpleRNNCell(3)
    layer = tg.layers.RNN(cell, return_sequences=True, return_state=True)
    h0 = np.full((2, 3), 0.5, np.float32)
    outputs, state = layer(x, initial_state=[h0], mask=keep)
    h = h0
    for t in range(4):
        out, (new,) = cell(x[:, t], [h])
        h = np.where(keep[:, t : t + 1], new.numpy(), h)
        # A masked step outputs the previous output (here the carried state, h0 at first).
        np.testing.assert_allclose(outputs.numpy()[:, t], h, atol=1e-6)
    np.testing.assert_allclose(state.numpy(), h, atol=1e-6)


def test_bidirectional_passes_the_mask_to_both_directions():
    x = np.random.default_rng(3).normal(size=(2, 4, 3)).astype(np.float32)
    keep = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool)
    bi = tg.layers.Bidirectional(tg.layers.GRU(2, return_sequences=True))
    out = bi(tg.layers.Masking(0.0)(np.where(keep[..., None], x, 0.0)))
    forward = bi.forward_layer(x, mask=keep).numpy()
    backward = bi.backward_layer(x, mask=keep).numpy()[:, ::-1]
    np.testing.assert_allclose(out.numpy(), np.concatenate([forward, backward], -1), atol=1e-6)
    np.testing.assert_array_equal(get_keras_mask(out).numpy(), keep)


def test_recurrent_mask_of_the_wrong_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="mask must have shape"):
        tg.layers.LSTM(2)(np.ones((2, 4, 3), np.float32), mask=np.ones((2, 3), bool))


def _embedded(tokens, seed=4):
    embed = tg.layers.Embedding(5, 6, mask_zero=True)
    embed.build((None,))
    embed.set_weights([np.random.default_rng(seed).normal(size=(5, 6)).astype(np.float32)])
    return embed, embed(tokens)


def test_global_average_pooling_1d_leaves_masked_steps_out():
    embed, x = _embedded(TOKENS)
    table = embed.get_weights()[0]
    want = np.stack([table[t[t != 0]].mean(axis=0) for t in TOKENS])
    out = tg.layers.GlobalAveragePooling1D()(x)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
    assert get_keras_mask(out) is None
    first = tg.layers.GlobalAveragePooling1D(data_format="channels_first", keepdims=True)
    swapped = first(np.swapaxes(x.numpy(), 1, 2), mask=EXPECTED).numpy()
    np.testing.assert_allclose(swapped[..., 0], want, rtol=1e-6)
    # Keras' GlobalMaxPooling1D does not support masking: it takes every step.
    np.testing.assert_allclose(tg.layers.GlobalMaxPooling1D()(x).numpy(), x.numpy().max(1))


def test_multi_head_attention_masks_keys_from_the_inputs_masks():
    queries, values = np.array([[1, 2, 0], [3, 0, 0]]), np.array([[1, 0, 2, 0], [4, 4, 0, 0]])
    embed, q = _embedded(queries)
    v = embed(values)
    layer = tg.layers.MultiHeadAttention(2, 3)
    out, scores = layer(q, v, return_attention_scores=True)
    keep = (queries != 0)[:, None, :, None] & (values != 0)[:, None, None, :]
    # Masked keys (and rows of masked queries) get no weight; the rest sum to one.
    np.testing.assert_array_equal(scores.numpy()[~np.broadcast_to(keep, scores.shape)], 0.0)
    np.testing.assert_allclose(scores.numpy().sum(-1)[:, :, queries[0] != 0][0], 1.0, rtol=1e-6)
    np.testing.assert_array_equal(get_keras_mask(out).numpy(), queries != 0)
    assert get_keras_mask(q) is None  # Keras' MultiHeadAttention uses the masks up
    explicit = layer(q.numpy(), v.numpy(), query_mask=queries != 0, value_mask=values != 0).numpy()
    np.testing.assert_allclose(layer(embed(queries), embed(values)).numpy(), explicit, rtol=1e-6)


def test_attention_layers_take_the_masks_of_their_inputs():
    queries, values = np.array([[1, 2, 0], [3, 0, 0]]), np.array([[1, 0, 2, 0], [4, 4, 0, 0]])
    for layer in (tg.layers.Attention(), tg.layers.AdditiveAttention()):
        embed, q = _embedded(queries)
        out = layer([q, embed(values)])
        explicit = layer(
            [embed(queries).numpy(), embed(values).numpy()], mask=[queries != 0, values != 0]
        )
        np.testing.assert_allclose(out.numpy(), explicit.numpy(), rtol=1e-6)
        np.testing.assert_array_equal(get_keras_mask(out).numpy(), queries != 0)
        np.testing.assert_array_equal(out.numpy()[1, 1:], 0.0)  # masked query steps


def test_merge_layers_combine_masks_as_keras():
    first, second = np.array([[1, 2, 0, 0], [3, 0, 0, 0]]), np.array([[1, 0, 0, 0], [3, 3, 3, 0]])
    embed, a = _embedded(first)
    b = embed(second)
    either = (first != 0) | (second != 0)
    np.testing.assert_array_equal(get_keras_mask(tg.layers.Add()([a, b])).numpy(), either)
    plain = tg.tensor(np.ones((2, 4, 6), np.float32))
    assert get_keras_mask(tg.layers.Multiply()([a, plain])) is None
    joined = get_keras_mask(tg.layers.Concatenate(axis=1)([a, b])).numpy()
    np.testing.assert_array_equal(joined, np.concatenate([first != 0, second != 0], axis=1))
    beside = get_keras_mask(tg.layers.Concatenate()([a, plain])).numpy()
    np.testing.assert_array_equal(beside, np.ones((2, 4), bool))
    assert get_keras_mask(tg.layers.Dot(axes=2)([a, b])) is None


def test_functional_text_classifier_with_masks_is_traced_like_eager():
    inputs = tg.Input((None,), dtype="int32")
    x = tg.layers.Embedding(5, 6, mask_zero=True)(inputs)
    x = tg.layers.LSTM(3, return_sequences=True)(x)
    x = tg.layers.MultiHeadAttention(2, 3)(x, x)
    x = tg.layers.GlobalAveragePooling1D()(x)
    model = tg.Model(inputs, tg.layers.Dense(1)(x))
    eager = model(TOKENS).numpy()
    np.testing.assert_allclose(model.predict(TOKENS, verbose=0), eager, rtol=1e-5, atol=1e-6)
    # The padded steps are skipped throughout: sample 0 alone, unpadded, gives the same.
    np.testing.assert_allclose(model(TOKENS[:1, :2]).numpy(), eager[:1], rtol=1e-5, atol=1e-6)


def _sequence_model():
    inputs = tg.Input((4,), dtype="int32")
    x = tg.layers.Embedding(5, 3, mask_zero=True)(inputs)
    x = tg.layers.SimpleRNN(4, return_sequences=True)(x)
    return tg.Model(inputs, tg.layers.Dense(1)(x))


def test_losses_and_metrics_leave_out_the_masked_steps_of_the_predictions():
    model = _sequence_model()
    y = np.random.default_rng(5).normal(size=(2, 4, 1)).astype(np.float32)
    pred = model(TOKENS)
    errors = (pred.numpy() - y)[..., 0] ** 2
    want = errors[EXPECTED].mean()
    np.testing.assert_allclose(float(tg.losses.MeanSquaredError()(y, pred)), want, rtol=1e-6)
    # The same loss on the bare array (no mask) averages over every step.
    plain = float(tg.losses.MeanSquaredError()(y, pred.numpy()))
    np.testing.assert_allclose(plain, errors.mean(), rtol=1e-6)
    weights = np.random.default_rng(6).uniform(size=(2, 4)).astype(np.float32)  # per step
    weighted = float(tg.losses.MeanSquaredError()(y, model(TOKENS), sample_weight=weights))
    np.testing.assert_allclose(weighted, (errors * weights)[EXPECTED].mean(), rtol=1e-6)
    metric = tg.metrics.MeanAbsoluteError()
    metric.update_state(y, model(TOKENS))
    absolute = np.abs(pred.numpy() - y)[..., 0]
    np.testing.assert_allclose(float(metric.result()), absolute[EXPECTED].mean(), rtol=1e-6)


def test_batch_normalization_statistics_leave_out_masked_steps_while_training():
    embed, x = _embedded(TOKENS)
    layer = tg.layers.BatchNormalization(momentum=0.0)
    out = layer(x, training=True)
    kept = x.numpy()[EXPECTED]
    np.testing.assert_allclose(layer.moving_mean.numpy(), kept.mean(0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), kept.var(0), rtol=1e-4)
    np.testing.assert_array_equal(get_keras_mask(out).numpy(), EXPECTED)
    assert get_keras_mask(tg.layers.LayerNormalization()(x)) is not None
    with pytest.raises(ValueError, match="one axis less"):
        layer(x, training=True, mask=np.ones((2, 4, 6), bool))


def test_time_distributed_passes_each_steps_mask_to_a_layer_that_takes_one():
    x = np.random.default_rng(7).normal(size=(2, 3, 4, 2)).astype(np.float32)
    keep = np.random.default_rng(8).uniform(size=(2, 3, 4)) > 0.3
    keep[..., 0] = True
    inner = SeesMask()
    out = tg.layers.TimeDistributed(inner)(x, mask=keep)
    weights = keep[..., None].astype(np.float32)
    want = (x * weights).sum(2) / weights.sum(2)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(inner.seen), keep.reshape(6, 4))
    embedded = tg.layers.Embedding(5, 3, mask_zero=True)(TOKENS)
    dense = tg.layers.TimeDistributed(tg.layers.Dense(2))(embedded)
    np.testing.assert_array_equal(get_keras_mask(dense).numpy(), EXPECTED)


def test_stacked_cells_repeat_the_last_cells_output_at_masked_steps():
    x = np.random.default_rng(9).normal(size=(2, 4, 3)).astype(np.float32)
    keep = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    cells = tg.layers.StackedRNNCells([tg.layers.LSTMCell(2), tg.layers.GRUCell(3)])
    layer = tg.layers.RNN(cells, return_sequences=True, return_state=True)
    outputs, *states = layer(x, mask=keep)
    np.testing.assert_allclose(outputs.numpy()[0, 2:], outputs.numpy()[[0, 0], [1, 1]])
    short = tg.layers.RNN(cells, return_sequences=True, return_state=True)
    short_out, *short_states = short(x[:1, :2])
    np.testing.assert_allclose(outputs.numpy()[0, :2], short_out.numpy()[0], rtol=1e-6)
    for state, want in zip(states, short_states, strict=True):
        np.testing.assert_allclose(state.numpy()[:1], want.numpy(), rtol=1e-6)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_fit_and_evaluate_weight_loss_and_metrics_by_the_output_mask(run_eagerly):
    model = _sequence_model()
    y = np.random.default_rng(10).normal(size=(2, 4, 1)).astype(np.float32)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"], run_eagerly=run_eagerly)
    pred = model.predict(TOKENS, verbose=0)[..., 0]
    loss, mae = model.evaluate(TOKENS, y, verbose=0)
    np.testing.assert_allclose(loss, ((pred - y[..., 0]) ** 2)[EXPECTED].mean(), rtol=1e-5)
    np.testing.assert_allclose(mae, np.abs(pred - y[..., 0])[EXPECTED].mean(), rtol=1e-5)
    history = model.fit(TOKENS, y, epochs=1, batch_size=2, verbose=0)
    np.testing.assert_allclose(history.history["mae"][0], mae, rtol=1e-5)
    np.testing.assert_allclose(history.history["loss"][0], loss, rtol=1e-5)
