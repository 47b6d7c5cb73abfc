"""SimpleRNN, LSTM, GRU (and their cells, RNN) and MultiHeadAttention: the standard
`run_layer_test` checks, values against NumPy implementations of the same equations with
the same weights, masks, training inside models, configs, errors."""

import json

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers, losses, optimizers
from tapegrad.ops.nn import lstm
from tests.nn.layer_test_utils import run_layer_test

RNG = np.random.default_rng(0)
B, T, F, U = 2, 3, 3, 4  # batch, time, features, units: tiny, for the gradient checks


# -- NumPy references (float64) ----------------------------------------------------------
def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _run(step, x, states, go_backwards=False):
    order = range(x.shape[1])[::-1] if go_backwards else range(x.shape[1])
    outputs = []
    for t in order:
        out, states = step(x[:, t], states)
        outputs.append(out)
    return np.stack(outputs, axis=1), states


def simple_rnn_reference(x, kernel, recurrent, bias, h0=None, go_backwards=False):
    h0 = np.zeros((x.shape[0], recurrent.shape[0])) if h0 is None else h0

    def step(xt, states):
        h = np.tanh(xt @ kernel + states[0] @ recurrent + bias)
        return h, [h]

    return _run(step, x, [h0], go_backwards)


def lstm_reference(x, kernel, recurrent, bias, h0=None, c0=None, go_backwards=False):
    u = recurrent.shape[0]
    zeros = np.zeros((x.shape[0], u))
    h0, c0 = (zeros if h0 is None else h0), (zeros if c0 is None else c0)

    def step(xt, states):
        h, c = states
        z = xt @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * u : (k + 1) * u] for k in range(4))  # Keras order i, f, c, o
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        return h, [h, c]

    return _run(step, x, [h0, c0], go_backwards)


def gru_reference(x, kernel, recurrent, bias, reset_after=True, h0=None, go_backwards=False):
    u = recurrent.shape[0]
    h0 = np.zeros((x.shape[0], u)) if h0 is None else h0

    def step(xt, states):
        h = states[0]
        if reset_after:
            xz, xr, xh = np.split(xt @ kernel + bias[0], 3, axis=1)
            rz, rr, rh = np.split(h @ recurrent + bias[1], 3, axis=1)
            z, r = _sigmoid(xz + rz), _sigmoid(xr + rr)
            hh = np.tanh(xh + r * rh)
        else:
            xz, xr, xh = np.split(xt @ kernel + bias, 3, axis=1)
            z = _sigmoid(xz + h @ recurrent[:, :u])
            r = _sigmoid(xr + h @ recurrent[:, u : 2 * u])
            hh = np.tanh(xh + (r * h) @ recurrent[:, 2 * u :])
        h = z * h + (1 - z) * hh
        return h, [h]

    return _run(step, x, [h0], go_backwards)


def mha_reference(query, value, key, weights, key_dim, mask=None, zero_masked=False):
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    q = (np.einsum("btd,dnh->btnh", query, wq) + bq) / np.sqrt(key_dim)
    k = np.einsum("bsd,dnh->bsnh", key, wk) + bk
    v = np.einsum("bsd,dnh->bsnh", value, wv) + bv
    scores = np.einsum("bsnh,btnh->bnts", k, q)
    if mask is not None:
        scores = np.where(mask[:, None], scores, -1e9)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    probabilities = scores / scores.sum(-1, keepdims=True)
    if zero_masked:  # Keras' softmax path (scores returned, dropout): masked weights are 0
        probabilities = np.where(mask[:, None], probabilities, 0.0)
    combined = np.einsum("bnts,bsnh->btnh", probabilities, v)
    return np.einsum("btnh,nhd->btd", combined, wo) + bo, probabilities


def _randomize(layer, scale=0.5):
    """Random float64 weights (so biases are not zero and every term is checked)."""
    layer.set_weights([RNG.normal(0, scale, w.shape) for w in layer.weights])
    return layer.get_weights()


# -- the standard checks, as a table -----------------------------------------------------
RECURRENT_CASES = [
    # (class, init kwargs, input shape(s), output shape, trainable weights)
    (layers.SimpleRNN, {"units": U}, (B, T, F), (B, U), 3),
    (
        layers.SimpleRNN,
        {"units": U, "return_sequences": True, "go_backwards": True},
        (B, T, F),
        (B, T, U),
        3,
    ),
    (layers.SimpleRNN, {"units": U, "activation": "relu", "use_bias": False}, (B, T, F), (B, U), 2),
    (layers.LSTM, {"units": U}, (B, T, F), (B, U), 3),
    (layers.LSTM, {"units": U, "return_sequences": True}, (B, T, F), (B, T, U), 3),
    (layers.LSTM, {"units": U, "go_backwards": True}, (B, T, F), (B, U), 3),
    (layers.LSTM, {"units": U}, [(B, T, F), (B, U), (B, U)], (B, U), 3),  # initial_state
    (layers.GRU, {"units": U}, (B, T, F), (B, U), 3),
    (
        layers.GRU,
        {"units": U, "return_sequences": True, "go_backwards": True},
        (B, T, F),
        (B, T, U),
        3,
    ),
    (layers.GRU, {"units": U, "reset_after": False}, (B, T, F), (B, U), 3),
    (layers.GRU, {"units": U}, [(B, T, F), (B, U)], (B, U), 3),  # initial_state
    (
        layers.MultiHeadAttention,
        {"num_heads": 2, "key_dim": 3},
        [(B, T, F), (B, 5, 2)],
        (B, T, F),
        8,
    ),
    (
        layers.MultiHeadAttention,
        {"num_heads": 2, "key_dim": 2, "value_dim": 3, "output_shape": 5, "use_bias": False},
        [(B, T, F), (B, 4, 2), (B, 4, 3)],
        (B, T, 5),
        4,
    ),
]


@pytest.mark.parametrize(
    "cls, kwargs, shape, out_shape, n_trainable",
    RECURRENT_CASES,
    ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(RECURRENT_CASES)],
)
def test_run_layer_test(cls, kwargs, shape, out_shape, n_trainable):
    run_layer_test(
        cls,
        kwargs,
        shape,
        expected_output_shape=out_shape,
        expected_num_trainable_weights=n_trainable,
    )


def test_run_layer_test_causal_attention():
    run_layer_test(
        layers.MultiHeadAttention,
        {"num_heads": 2, "key_dim": 2},
        [(B, T, F), (B, T, F)],
        expected_output_shape=(B, T, F),
        expected_num_trainable_weights=8,
        call_kwargs={"use_causal_mask": True},
    )


# -- forward values against NumPy ----------------------------------------------------------
@pytest.mark.parametrize("go_backwards", [False, True])
def test_lstm_matches_numpy(go_backwards):
    x, h0, c0 = (
        RNG.standard_normal((B, T, F)),
        RNG.standard_normal((B, U)),
        RNG.standard_normal((B, U)),
    )
    layer = layers.LSTM(
        U, return_sequences=True, return_state=True, go_backwards=go_backwards, dtype="float64"
    )
    layer(x)
    weights = _randomize(layer)
    outputs, h, c = layer(x, initial_state=[h0, c0])
    ref_outputs, (ref_h, ref_c) = lstm_reference(x, *weights, h0, c0, go_backwards)
    np.testing.assert_allclose(outputs.numpy(), ref_outputs, rtol=1e-12)
    np.testing.assert_allclose(h.numpy(), ref_h, rtol=1e-12)
    np.testing.assert_allclose(c.numpy(), ref_c, rtol=1e-12)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_lstm_as_one_op_matches_the_step_loop(go_backwards):
    # A recurrent activation the fused op does not know sends the layer down the step loop:
    # values and every gradient (weights, inputs, initial states) must agree.
    x, h0, c0 = (tg.tensor(RNG.standard_normal(shape)) for shape in ((B, T, F), (B, U), (B, U)))
    kwargs = {
        "return_sequences": True,
        "return_state": True,
        "go_backwards": go_backwards,
        "dtype": "float64",
    }
    fused = layers.LSTM(U, **kwargs)
    stepped = layers.LSTM(U, recurrent_activation=lambda z: tg.ops.sigmoid(z), **kwargs)
    fused(x)
    stepped(x)
    stepped.set_weights(_randomize(fused))
    results = []
    for layer in (fused, stepped):
        with tg.GradientTape() as tape:
            tape.watch([x, h0, c0])
            outputs, h, c = layer(x, initial_state=[h0, c0])
            loss = (
                tg.numpy.sum(tg.numpy.sin(outputs))
                + tg.numpy.sum(h * h)
                + tg.numpy.sum(tg.numpy.cos(c))
            )
        grads = tape.gradient(loss, [*layer.trainable_weights, x, h0, c0])
        results.append([outputs, h, c, *grads])
    for got, expected in zip(*results, strict=True):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)


def test_lstm_op_derivatives_of_any_order_with_initial_states():
    x, h0, c0 = (
        RNG.standard_normal((2, 3, 2)),
        RNG.standard_normal((2, 2)),
        RNG.standard_normal((2, 2)),
    )
    k, r, b = RNG.normal(0, 0.7, (2, 8)), RNG.normal(0, 0.7, (2, 8)), RNG.normal(0, 0.5, 8)

    def f(x, k, r, b, h0, c0):
        hs, cs = lstm(x, k, r, b, [h0, c0])
        return tg.numpy.tanh(hs) + cs * cs

    tg.check_grads(f, (x, k, r, b, h0, c0), order=2, modes=("fwd", "rev"))


def test_lstm_saturated_gates_stay_finite_and_exact():
    # Pre-activations far beyond exp's float32 range: the gates are exactly 0 or 1.
    x = RNG.standard_normal((B, T, F)).astype(np.float32)
    layer = layers.LSTM(U, return_sequences=True)
    layer(x)
    weights = [w * 1000 for w in _randomize(layer, 1.0)]
    layer.set_weights([w.astype(np.float32) for w in weights])
    with np.errstate(all="raise"), tg.GradientTape() as tape:
        out = layer(x)
        loss = tg.numpy.sum(out)
    grads = tape.gradient(loss, layer.trainable_weights)
    ref, _ = lstm_reference(x.astype(np.float64), *weights)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)


def test_lstm_float32_gradients_match_float64():
    x = RNG.standard_normal((4, 6, F))
    weights = None
    grads = []
    for dtype in ("float64", "float32"):
        layer = layers.LSTM(U, dtype=dtype)
        layer(x.astype(dtype))
        weights = _randomize(layer) if weights is None else weights
        layer.set_weights([w.astype(dtype) for w in weights])
        with tg.GradientTape() as tape:
            loss = tg.numpy.sum(tg.numpy.sin(layer(x.astype(dtype))))
        grads.append([g.numpy() for g in tape.gradient(loss, layer.trainable_weights)])
    for g64, g32 in zip(*grads, strict=True):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_matches_numpy(reset_after):
    x, h0 = RNG.standard_normal((B, T, F)), RNG.standard_normal((B, U))
    layer = layers.GRU(
        U, reset_after=reset_after, return_sequences=True, return_state=True, dtype="float64"
    )
    layer(x)
    weights = _randomize(layer)
    outputs, h = layer(x, initial_state=h0)
    ref_outputs, (ref_h,) = gru_reference(x, *weights, reset_after=reset_after, h0=h0)
    np.testing.assert_allclose(outputs.numpy(), ref_outputs, rtol=1e-12)
    np.testing.assert_allclose(h.numpy(), ref_h, rtol=1e-12)


def test_simple_rnn_matches_numpy_backwards():
    x = RNG.standard_normal((B, T, F))
    layer = layers.SimpleRNN(U, return_sequences=True, go_backwards=True, dtype="float64")
    layer(x)
    weights = _randomize(layer)
    ref_outputs, _ = simple_rnn_reference(x, *weights, go_backwards=True)
    # Keras keeps the outputs of go_backwards in processing (reversed) order.
    np.testing.assert_allclose(layer(x).numpy(), ref_outputs, rtol=1e-12)


def test_cells_compute_one_step_like_the_layers():
    x, h, c = RNG.standard_normal((B, F)), RNG.standard_normal((B, U)), RNG.standard_normal((B, U))
    lstm = layers.LSTMCell(U, dtype="float64")
    lstm.build((None, F))
    weights = _randomize(lstm)
    out, (h1, c1) = lstm(x, [h, c])
    _, (ref_h, ref_c) = lstm_reference(x[:, None], *weights, h, c)
    np.testing.assert_allclose([out.numpy(), c1.numpy()], [ref_h, ref_c], rtol=1e-12)
    gru = layers.GRUCell(U, dtype="float64")
    gru.build((None, F))
    weights = _randomize(gru)
    out, _ = gru(x, h)
    np.testing.assert_allclose(
        out.numpy(), gru_reference(x[:, None], *weights, h0=h)[0][:, 0], rtol=1e-12
    )


def test_rnn_wrapper_runs_builtin_and_custom_cells():
    class TanhCell(layers.Layer):
        state_size = U

        def build(self, input_shape):
            self.kernel = self.add_weight((input_shape[-1], U), name="kernel")
            self.recurrent_kernel = self.add_weight((U, U), name="recurrent_kernel")

        def call(self, inputs, states):
            h = tg.numpy.tanh(inputs @ self.kernel + states[0] @ self.recurrent_kernel)
            return h, [h]

    x = RNG.standard_normal((B, T, F))
    custom = layers.RNN(TanhCell(dtype="float64"), return_sequences=True, dtype="float64")
    builtin = layers.SimpleRNN(U, use_bias=False, return_sequences=True, dtype="float64")
    custom(x), builtin(x)
    builtin.set_weights(custom.get_weights())
    np.testing.assert_allclose(custom(x).numpy(), builtin(x).numpy(), rtol=1e-12)
    wrapped = layers.RNN(layers.LSTMCell(U), return_state=True)
    out, h, c = wrapped(x)
    np.testing.assert_allclose(out.numpy(), h.numpy())
    clone = layers.RNN.from_config(json.loads(json.dumps(wrapped.get_config())))
    assert isinstance(clone.cell, layers.LSTMCell) and clone.return_state


def test_keras_weight_layouts_and_initial_values():
    lstm, gru = layers.LSTM(U), layers.GRU(U)
    lstm.build((None, T, F))
    gru.build((None, T, F))
    assert [w.shape for w in lstm.weights] == [(F, 4 * U), (U, 4 * U), (4 * U,)]
    np.testing.assert_array_equal(
        lstm.weights[2].numpy(), np.repeat([0.0, 1.0, 0.0, 0.0], U)
    )  # unit_forget_bias
    assert [w.shape for w in gru.weights] == [(F, 3 * U), (U, 3 * U), (2, 3 * U)]
    recurrent = lstm.weights[1].numpy()
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(U), atol=1e-5)  # orthogonal
    assert lstm.name.startswith("lstm") and lstm.weights[0].path.endswith("lstm_cell/kernel")
    assert (lstm.units, lstm.activation, gru.reset_after) == (U, tg.activations.tanh, True)


def test_recurrent_dropout_only_while_training():
    x = RNG.standard_normal((8, T, F))
    layer = layers.LSTM(U, dropout=0.5, recurrent_dropout=0.5, seed=1, dtype="float64")
    plain = layer(x).numpy()
    np.testing.assert_allclose(lstm_reference(x, *layer.get_weights())[1][0], plain, rtol=1e-12)
    dropped = layer(x, training=True).numpy()
    assert np.all(np.isfinite(dropped)) and not np.allclose(dropped, plain)
    with tg.GradientTape() as tape:
        loss = tg.numpy.sum(layer(x, training=True))
    assert all(g is not None for g in tape.gradient(loss, layer.trainable_weights))


# -- MultiHeadAttention -------------------------------------------------------------------
def test_attention_matches_numpy_with_mask_and_scores():
    query, value, key = (
        RNG.standard_normal((B, T, 4)),
        RNG.standard_normal((B, 5, 3)),
        RNG.standard_normal((B, 5, 2)),
    )
    mask = RNG.random((B, T, 5)) > 0.4
    mask[0, 1] = False  # a fully masked query row: zero weights, as in Keras 3.15
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2, dtype="float64")
    layer(query, value, key)
    weights = _randomize(layer)
    assert [w.shape for w in layer.weights] == [
        (4, 2, 3),
        (2, 3),
        (2, 2, 3),
        (2, 3),
        (3, 2, 2),
        (2, 2),
        (2, 2, 4),
        (4,),
    ]
    out, scores = layer(query, value, key, attention_mask=mask, return_attention_scores=True)
    ref_out, ref_scores = mha_reference(query, value, key, weights, 3, mask, zero_masked=True)
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-10)
    np.testing.assert_allclose(scores.numpy(), ref_scores, rtol=1e-10, atol=1e-300)
    np.testing.assert_array_equal(scores.numpy()[0, :, 1], 0.0)
    # Without the scores Keras takes its fused path: a fully masked row attends uniformly.
    plain = layer(query, value, key, attention_mask=mask).numpy()
    np.testing.assert_allclose(plain, mha_reference(query, value, key, weights, 3, mask)[0])


def test_causal_attention_matches_numpy_and_ignores_the_future():
    x = RNG.standard_normal((B, T, F))
    mask = RNG.random((T, T)) > 0.2
    layer = layers.MultiHeadAttention(num_heads=3, key_dim=2, dtype="float64")
    layer(x, x)
    weights = _randomize(layer)
    out = layer(x, x, attention_mask=mask, use_causal_mask=True).numpy()
    causal = np.tril(np.ones((T, T), bool)) & mask
    np.testing.assert_allclose(
        out, mha_reference(x, x, x, weights, 2, np.broadcast_to(causal, (B, T, T)))[0], rtol=1e-10
    )
    changed = x.copy()
    changed[:, -1] += 1.0  # the last position cannot change earlier outputs
    np.testing.assert_allclose(
        layer(changed, changed, use_causal_mask=True).numpy()[:, :-1],
        layer(x, x, use_causal_mask=True).numpy()[:, :-1],
        rtol=1e-12,
    )


def test_attention_gradients_reach_value_and_key():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=2, dtype="float64")
    query, value, key = (
        RNG.standard_normal((B, T, F)),
        RNG.standard_normal((B, 4, F)),
        RNG.standard_normal((B, 4, 2)),
    )
    layer(query, value, key)
    tg.check_grads(
        lambda q, v, k: layer(q, v, k, use_causal_mask=False),
        (query, value, key),
        order=1,
        modes=("rev",),
    )


def test_attention_dropout_and_higher_rank_inputs():
    x = RNG.standard_normal((B, T, F))
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=2, dropout=0.5, seed=0)
    np.testing.assert_allclose(layer(x, x).numpy(), layer(x, x, training=False).numpy())
    assert not np.allclose(layer(x, x, training=True).numpy(), layer(x, x).numpy())
    grid = RNG.standard_normal((B, 2, 3, F))  # attention over both position axes
    out, scores = layers.MultiHeadAttention(2, 2)(grid, grid, return_attention_scores=True)
    assert out.shape == (B, 2, 3, F) and scores.shape == (B, 2, 2, 3, 2, 3)
    np.testing.assert_allclose(scores.numpy().reshape(B, 2, 6, 6).sum(-1), 1, rtol=1e-5)


# -- models, configs, errors ----------------------------------------------------------------
def test_sequential_lstm_learns_a_memory_task():
    # The label is the sign of the first step: the LSTM must carry it to the end.
    x = np.random.default_rng(0).standard_normal((64, 6, 1)).astype(np.float32)
    y = (x[:, 0, 0] > 0).astype(np.int64)
    np.random.seed(0)  # the initializers' seeds
    model = tg.Sequential([layers.Input((6, 1)), layers.LSTM(8), layers.Dense(2)])
    model.compile(optimizers.Adam(0.05), losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=40, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]


def test_functional_model_with_states_and_attention_saves_and_loads(tmp_path):
    sequences, h0, c0 = layers.Input((T, F)), layers.Input((U,)), layers.Input((U,))
    hidden, h, _ = layers.LSTM(U, return_sequences=True, return_state=True)(
        sequences, initial_state=[h0, c0]
    )
    attended = layers.MultiHeadAttention(2, 2)(hidden, hidden, use_causal_mask=True)
    outputs = layers.Dense(2)(layers.GRU(U)(attended, initial_state=h))
    model = tg.Model([sequences, h0, c0], outputs)
    data = [RNG.standard_normal(s).astype(np.float32) for s in ((B, T, F), (B, U), (B, U))]
    expected = model(data).numpy()
    assert not np.allclose(expected, model([data[0], data[1] + 1, data[2]]).numpy())
    model.save(tmp_path / "model.keras")
    loaded = tg.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded(data).numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [
        layers.SimpleRNN(
            3,
            activation="relu",
            dropout=0.1,
            recurrent_dropout=0.2,
            seed=3,
            return_state=True,
            go_backwards=True,
            kernel_regularizer="l2",
        ),
        layers.LSTM(
            3,
            recurrent_activation="hard_sigmoid",
            unit_forget_bias=False,
            bias_initializer="ones",
            return_sequences=True,
        ),
        layers.GRU(3, reset_after=False, use_bias=False, recurrent_initializer="glorot_uniform"),
        layers.MultiHeadAttention(
            4,
            2,
            value_dim=3,
            dropout=0.1,
            output_shape=(6,),
            attention_axes=(1,),
            kernel_initializer="he_normal",
            seed=2,
        ),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_config_round_trip(layer):
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def test_errors_name_the_layer_and_the_problem():
    with pytest.raises(ValueError, match="stateful=True the batch size must be static"):
        layers.LSTM(2, stateful=True)(layers.Input((T, F)))
    lstm = layers.LSTM(2, name="enc")
    lstm(np.zeros((B, T, F), np.float32))
    with pytest.raises(ValueError, match="'enc'.*5 features"):
        lstm(np.zeros((B, T, 5), np.float32))
    with pytest.raises(ValueError, match="'enc'.*initial_state"):
        lstm(np.zeros((B, T, F), np.float32), initial_state=[np.zeros((B, 2))])
    with pytest.raises(ValueError, match=r"\(batch, time, features\)"):
        lstm(np.zeros((B, F), np.float32))
    mha = layers.MultiHeadAttention(2, 2, attention_axes=(3,))  # the feature axis
    with pytest.raises(ValueError, match="attention_axes"):
        mha(np.zeros((B, 2, 3, F)), np.zeros((B, 2, 3, F)))
    with pytest.raises(ValueError, match="value is required"):
        layers.MultiHeadAttention(2, 2)(np.zeros((B, T, F)))


# -- the numba step kernels (float32, the `jit` extra) -------------------------------------
def test_lstm_numba_kernels_match_the_numpy_path():
    pytest.importorskip("numba")
    from tapegrad import config
    from tapegrad.core.prims.lstm import lstm_grad_p, lstm_p
    from tapegrad.kernels import kernel_for, numba_lstm

    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 9, 3)).astype(np.float32)
    weights = (rng.standard_normal((3 + 4 + 1, 16)) * 0.8).astype(np.float32)
    weights[:2] *= 40  # some saturated gates
    state0 = rng.standard_normal((5, 8)).astype(np.float32)
    g_hs = rng.standard_normal((5, 9, 4)).astype(np.float32)
    g_cs = rng.standard_normal((5, 9, 4)).astype(np.float32)
    results = {}
    try:
        for use_kernels in (True, False):
            (config.enable_engine if use_kernels else config.disable_engine)("numba")
            assert (kernel_for(lstm_p, x, weights, state0) is numba_lstm.lstm) == use_kernels
            ans = lstm_p(x, weights, state0)
            results[use_kernels] = ans
            # The backward from the same forward values: the same operations, the same bits.
            grads = [
                lstm_grad_p(g_hs, g_cs, x, weights, state0, *results[True], argnum=k)
                for k in range(3)
            ]
            results[use_kernels, "grads"] = grads
    finally:
        config.enable_engine("numba")
    for got, want in zip(results[True][:2], results[False][:2], strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)
    for got, want in zip(results[True, "grads"], results[False, "grads"], strict=True):
        np.testing.assert_array_equal(got, want)


def test_rational_tanh_within_a_few_ulps():
    pytest.importorskip("numba")
    from tapegrad.kernels._lstm_loops import tanh32

    x = np.concatenate(
        [
            np.linspace(-12, 12, 200_001),
            np.geomspace(1e-30, 10, 20_001),
            -np.geomspace(1e-30, 10, 20_001),
        ]
    )
    x = x.astype(np.float32)
    got = np.array([tanh32(v) for v in x[::50]], np.float32)
    want = np.tanh(x[::50].astype(np.float64))
    assert np.abs(got - want).max() < 3e-7
    assert np.all(np.abs(got - want) <= 5 * np.spacing(np.abs(want).astype(np.float32)))
    assert np.isnan(tanh32(np.float32(np.nan)))
    assert tanh32(np.float32(np.inf)) == -tanh32(np.float32(-np.inf)) > 0.9999997
