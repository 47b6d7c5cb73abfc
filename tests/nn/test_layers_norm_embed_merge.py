"""BatchNormalization, LayerNormalization, Embedding and the merge layers: the standard
`run_layer_test` checks, values against NumPy formulas, training inside models, errors."""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test

RNG = np.random.default_rng(0)


# -- the standard checks, as a table -----------------------------------------------------
LAYER_CASES = [
    # (class, init kwargs, input shape(s), output shape, trainable, non-trainable, call kwargs)
    (layers.BatchNormalization, {}, (6, 3), (6, 3), 2, 2, {"training": True}),
    (layers.BatchNormalization, {}, (6, 3), (6, 3), 2, 2, {}),
    (
        layers.BatchNormalization,
        {"axis": 1, "center": False},
        (4, 3, 2, 2),
        (4, 3, 2, 2),
        1,
        2,
        {"training": True},
    ),
    (
        layers.BatchNormalization,
        {"scale": False, "center": False},
        (5, 2, 3),
        (5, 2, 3),
        0,
        2,
        {"training": True},
    ),
    (layers.LayerNormalization, {}, (3, 5), (3, 5), 2, 0, {}),
    (layers.LayerNormalization, {"axis": [1, 2]}, (2, 3, 4), (2, 3, 4), 2, 0, {}),
    (layers.LayerNormalization, {"axis": 1, "center": False}, (2, 3, 4), (2, 3, 4), 1, 0, {}),
    (layers.LayerNormalization, {"rms_scaling": True}, (3, 4), (3, 4), 1, 0, {}),
    (layers.Add, {}, [(3, 4), (3, 4)], (3, 4), 0, 0, {}),
    (layers.Add, {}, [(3, 2, 4), (3, 4), (3, 2, 1)], (3, 2, 4), 0, 0, {}),
    (layers.Subtract, {}, [(3, 4), (3, 4)], (3, 4), 0, 0, {}),
    (layers.Multiply, {}, [(3, 4), (3, 1), (3, 4)], (3, 4), 0, 0, {}),
    (layers.Average, {}, [(3, 4), (3, 4)], (3, 4), 0, 0, {}),
    (layers.Maximum, {}, [(3, 4), (3, 4), (3, 4)], (3, 4), 0, 0, {}),
    (layers.Minimum, {}, [(3, 4), (3, 4)], (3, 4), 0, 0, {}),
    (layers.Concatenate, {}, [(3, 2), (3, 5)], (3, 7), 0, 0, {}),
    (layers.Concatenate, {"axis": 1}, [(3, 2, 4), (3, 1, 4)], (3, 3, 4), 0, 0, {}),
    (layers.Dot, {"axes": 1}, [(3, 4), (3, 4)], (3, 1), 0, 0, {}),
    (layers.Dot, {"axes": (1, 2)}, [(2, 3, 5), (2, 4, 3)], (2, 5, 4), 0, 0, {}),
    (layers.Dot, {"axes": -1, "normalize": True}, [(3, 4), (3, 2, 4)], (3, 2), 0, 0, {}),
]


@pytest.mark.parametrize(
    "cls, kwargs, shape, out_shape, n_trainable, n_frozen, call_kwargs",
    LAYER_CASES,
    ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(LAYER_CASES)],
)
def test_run_layer_test(cls, kwargs, shape, out_shape, n_trainable, n_frozen, call_kwargs):
    run_layer_test(
        cls,
        kwargs,
        shape,
        expected_output_shape=out_shape,
        expected_num_trainable_weights=n_trainable,
        expected_num_non_trainable_weights=n_frozen,
        call_kwargs=call_kwargs,
    )


def test_run_layer_test_embedding():
    out = run_layer_test(
        layers.Embedding,
        {"input_dim": 5, "output_dim": 3},
        (2, 4),
        expected_output_shape=(2, 4, 3),
        expected_num_trainable_weights=1,
        input_dtype=np.int64,
    )
    assert out.dtype == np.float64


# -- BatchNormalization ------------------------------------------------------------------
def _bn_reference(x, mean, var, gamma, beta, epsilon):
    return gamma * (x - mean) / np.sqrt(var + epsilon) + beta


def test_batch_norm_training_and_moving_statistics_match_numpy():
    momentum, epsilon = 0.8, 1e-3
    layer = layers.BatchNormalization(momentum=momentum, epsilon=epsilon, dtype="float64")
    batches = [RNG.normal(3.0, 2.0, size=(16, 4)) for _ in range(3)]
    layer.build((None, 4))
    gamma, beta = RNG.uniform(0.5, 2, 4), RNG.normal(size=4)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    moving_mean, moving_var = np.zeros(4), np.ones(4)
    for x in batches:
        out = layer(tg.tensor(x), training=True).numpy()
        np.testing.assert_allclose(
            out, _bn_reference(x, x.mean(0), x.var(0), gamma, beta, epsilon), rtol=1e-10
        )
        # Keras 3: biased batch variance in the moving average.
        moving_mean = moving_mean * momentum + x.mean(0) * (1 - momentum)
        moving_var = moving_var * momentum + x.var(0) * (1 - momentum)
        np.testing.assert_allclose(layer.moving_mean.numpy(), moving_mean, rtol=1e-12)
        np.testing.assert_allclose(layer.moving_variance.numpy(), moving_var, rtol=1e-12)
    x = batches[0]
    for out in (layer(tg.tensor(x)), layer(tg.tensor(x), training=False)):
        np.testing.assert_allclose(
            out.numpy(), _bn_reference(x, moving_mean, moving_var, gamma, beta, epsilon)
        )
    # Inference leaves the moving statistics alone.
    np.testing.assert_allclose(layer.moving_mean.numpy(), moving_mean, rtol=1e-12)
    assert [w.path for w in layer.non_trainable_weights] == [
        f"{layer.name}/moving_mean",
        f"{layer.name}/moving_variance",
    ]


def test_batch_norm_channels_first_reduces_over_other_axes():
    x = RNG.normal(size=(4, 3, 5, 2))
    layer = layers.BatchNormalization(axis=1, momentum=0.0, dtype="float64")
    out = layer(tg.tensor(x), training=True).numpy()
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-10)
    np.testing.assert_allclose(layer.moving_mean.numpy(), mean.ravel(), rtol=1e-12)
    # Other spatial sizes are fine: only the channel axis is fixed.
    assert layer(tg.tensor(RNG.normal(size=(2, 3, 7, 7)))).shape == (2, 3, 7, 7)


def test_batch_norm_gradient_flows_through_batch_statistics():
    x = RNG.normal(size=(6, 3))
    layer = layers.BatchNormalization(center=False, scale=False, dtype="float64")
    with tg.GradientTape() as tape:
        xt = tg.tensor(x)
        tape.watch(xt)
        out = layer(xt, training=True)
        loss = tnp.sum(out)
    # The output sums to zero for any input: its gradient vanishes through the mean.
    np.testing.assert_allclose(tape.gradient(loss, xt).numpy(), np.zeros_like(x), atol=1e-12)


def test_frozen_batch_norm_runs_in_inference_mode():
    layer = layers.BatchNormalization(dtype="float64")
    x = RNG.normal(2.0, 3.0, size=(8, 2))
    layer(tg.tensor(x), training=True)
    layer.trainable = False
    before = layer.get_weights()
    out = layer(tg.tensor(x), training=True).numpy()
    for a, b in zip(before, layer.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(out, _bn_reference(x, before[2], before[3], 1.0, 0.0, 1e-3))
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4


def test_functional_graph_building_leaves_moving_statistics_alone():
    layer = layers.BatchNormalization()
    inputs = layers.Input(shape=(3,))
    layer(inputs, training=True)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(layer.moving_variance.numpy(), np.ones(3))


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="synchronized"):
        layers.BatchNormalization(synchronized=True)
    layer = layers.BatchNormalization(name="bn")
    layer(tg.tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"'bn'.*\(2, 4\).*\(None, 3\)"):
        layer(tg.tensor(np.ones((2, 4))))
    with pytest.raises(ValueError, match=r"'bn2'.*axis 3 is out of range.*rank 2"):
        layers.BatchNormalization(axis=3, name="bn2")(tg.tensor(np.ones((2, 3))))


# -- LayerNormalization ------------------------------------------------------------------
@pytest.mark.parametrize("axis, reduce", [(-1, (2,)), ([1, 2], (1, 2)), (1, (1,))])
def test_layer_norm_matches_numpy(axis, reduce):
    x = RNG.normal(1.0, 3.0, size=(2, 3, 4))
    layer = layers.LayerNormalization(axis=axis, epsilon=1e-5, dtype="float64")
    layer.build(x.shape)
    gamma = RNG.uniform(0.5, 2.0, layer.gamma.shape)
    beta = RNG.normal(size=layer.beta.shape)
    layer.set_weights([gamma, beta])
    shape = [x.shape[i] if i in reduce else 1 for i in range(3)]
    mean = x.mean(axis=reduce, keepdims=True)
    var = x.var(axis=reduce, keepdims=True)
    expected = gamma.reshape(shape) * (x - mean) / np.sqrt(var + 1e-5) + beta.reshape(shape)
    np.testing.assert_allclose(layer(tg.tensor(x)).numpy(), expected, rtol=1e-10)
    # Same in training and inference.
    np.testing.assert_allclose(layer(tg.tensor(x), training=True).numpy(), expected, rtol=1e-10)


def test_layer_norm_rms_scaling_and_float32():
    x = RNG.normal(size=(3, 5)).astype(np.float32)
    layer = layers.LayerNormalization(rms_scaling=True)
    out = layer(tg.tensor(x))
    assert out.dtype == np.float32
    expected = x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)
    assert [w.path for w in layer.weights] == [f"{layer.name}/gamma"]


def test_layer_norm_errors():
    with pytest.raises(TypeError, match="axis must be an int"):
        layers.LayerNormalization(axis="last")
    layer = layers.LayerNormalization(name="ln")
    layer(tg.tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"'ln'.*\(2, 5\).*\(None, 3\)"):
        layer(tg.tensor(np.ones((2, 5))))


# -- Embedding ---------------------------------------------------------------------------
def test_embedding_lookup_and_gradient_accumulates_duplicates():
    layer = layers.Embedding(6, 3, dtype="float64")
    indices = np.array([[1, 4, 1], [1, 0, 5]])
    out = layer(indices)
    table = layer.embeddings.numpy()
    np.testing.assert_array_equal(out.numpy(), table[indices])
    upstream = RNG.normal(size=(2, 3, 3))
    with tg.GradientTape() as tape:
        loss = tnp.sum(layer(indices) * upstream)
    grad = tape.gradient(loss, layer.embeddings).numpy()
    expected = np.zeros_like(table)
    np.add.at(expected, indices, upstream)
    np.testing.assert_allclose(grad, expected, rtol=1e-12)
    assert np.count_nonzero(grad[[2, 3]]) == 0  # unused rows get no gradient
    tg.check_grads(lambda w: tnp.take(w, indices, axis=0) ** 2, (table,), order=1)


def test_embedding_defaults_inputs_and_options():
    layer = layers.Embedding(10, 4)
    assert layer.embeddings_initializer.get_config()["minval"] == -0.05
    out = layer(np.array([[3.0, 0.0]], np.float32))  # whole-number floats, like Keras
    assert out.shape == (1, 2, 4) and out.dtype == np.float32
    assert np.all(np.abs(layer.embeddings.numpy()) <= 0.05)
    assert layer.compute_mask(np.array([[3, 0]])) is None
    masked = layers.Embedding(10, 4, mask_zero=True)
    np.testing.assert_array_equal(masked.compute_mask(np.array([[3, 0]])), [[True, False]])
    table = np.arange(8.0).reshape(4, 2)
    preset = layers.Embedding(4, 2, weights=[table])
    assert preset.built
    np.testing.assert_array_equal(preset(np.array([2])).numpy(), [[4.0, 5.0]])
    regularized = layers.Embedding(
        4, 2, embeddings_initializer="ones", embeddings_regularizer=tg.regularizers.L2(0.5)
    )
    regularized(np.array([0]))
    assert float(regularized.losses[0].numpy()) == pytest.approx(0.5 * 8)
    # Any sequence length after building.
    assert layer(np.array([[1, 2, 3, 4, 5]])).shape == (1, 5, 4)


def test_embedding_errors_name_layer_range_and_input_dim():
    layer = layers.Embedding(10, 2, name="tokens")
    with pytest.raises(ValueError, match=r"'tokens'.*\[0, 10\).*input_dim=10.*\[3, 12\]"):
        layer(np.array([[3, 12]]))
    with pytest.raises(ValueError, match=r"'tokens'.*\[-1, 2\]"):
        layer(np.array([-1, 2]))
    with pytest.raises(TypeError, match=r"'tokens'.*integer indices.*float"):
        layer(np.array([0.5]))
    with pytest.raises(ValueError, match="positive"):
        layers.Embedding(0, 2)


# -- merge layers ------------------------------------------------------------------------
MERGE_REFERENCES = [
    (layers.Add, lambda xs: xs[0] + xs[1] + xs[2]),
    (layers.Multiply, lambda xs: xs[0] * xs[1] * xs[2]),
    (layers.Average, lambda xs: (xs[0] + xs[1] + xs[2]) / 3),
    (layers.Maximum, lambda xs: np.maximum(np.maximum(xs[0], xs[1]), xs[2])),
    (layers.Minimum, lambda xs: np.minimum(np.minimum(xs[0], xs[1]), xs[2])),
    (layers.Concatenate, lambda xs: np.concatenate(xs, axis=-1)),
]


@pytest.mark.parametrize(
    "cls, reference", MERGE_REFERENCES, ids=[c.__name__ for c, _ in MERGE_REFERENCES]
)
def test_merge_values_match_numpy(cls, reference):
    xs = [RNG.normal(size=(4, 3)) for _ in range(3)]
    np.testing.assert_allclose(cls()([tg.tensor(x) for x in xs]).numpy(), reference(xs))


def test_subtract_and_broadcasting_like_keras():
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    np.testing.assert_allclose(layers.Subtract()([a, b]).numpy(), a - b)
    # A lower-rank input gets size-1 axes right after the batch axis.
    c, d = RNG.normal(size=(4, 2, 3)), RNG.normal(size=(4, 3))
    np.testing.assert_allclose(layers.Add()([c, d]).numpy(), c + d[:, None, :])
    e = RNG.normal(size=(4, 1))
    np.testing.assert_allclose(layers.Multiply()([a, e]).numpy(), a * e)


def test_dot_matches_numpy():
    x, y = RNG.normal(size=(2, 3, 5)), RNG.normal(size=(2, 4, 3))
    np.testing.assert_allclose(
        layers.Dot(axes=(1, 2))([x, y]).numpy(), np.einsum("bkx,byk->bxy", x, y)
    )
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    np.testing.assert_allclose(layers.Dot(axes=-1)([a, b]).numpy(), (a * b).sum(-1, keepdims=True))
    cosine = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    np.testing.assert_allclose(layers.Dot(axes=1, normalize=True)([a, b]).numpy(), cosine[:, None])


def test_merge_functional_forms_and_configs():
    a, b = tg.tensor(RNG.normal(size=(2, 3))), tg.tensor(RNG.normal(size=(2, 3)))
    np.testing.assert_allclose(layers.add([a, b]).numpy(), (a + b).numpy())
    np.testing.assert_allclose(
        layers.concatenate([a, b], axis=0).numpy(), np.concatenate([a.numpy(), b.numpy()])
    )
    np.testing.assert_allclose(layers.dot([a, b], axes=1).numpy(), layers.Dot(1)([a, b]).numpy())
    assert layers.Dot(axes=(1, 2), normalize=True).get_config()["axes"] == [1, 2]
    assert layers.Concatenate(axis=1).get_config()["axis"] == 1


@pytest.mark.parametrize(
    "make, inputs, pattern",
    [
        (
            lambda: layers.Add(name="adder"),
            [(2, 3), (2, 4)],
            r"Add 'adder'.*\(2, 3\), \(2, 4\).*equal or 1",
        ),
        (lambda: layers.Maximum(name="mx"), [(2, 3), (5, 3)], r"'mx'.*\(2, 3\), \(5, 3\).*batch"),
        (
            lambda: layers.Subtract(name="sub"),
            [(2, 3)] * 3,
            r"'sub'.*exactly 2 inputs, got 3.*\(2, 3\), \(2, 3\), \(2, 3\)",
        ),
        (
            lambda: layers.Concatenate(name="cat"),
            [(2, 3), (2, 4, 1)],
            r"'cat'.*axis -1.*\(2, 3\), \(2, 4, 1\)",
        ),
        (
            lambda: layers.Concatenate(axis=1, name="cat1"),
            [(2, 3, 4), (2, 3, 5)],
            r"'cat1'.*axis 1.*\(2, 3, 4\), \(2, 3, 5\)",
        ),
        (
            lambda: layers.Dot(axes=1, name="dt"),
            [(2, 3), (2, 4)],
            r"'dt'.*\(2, 3\), \(2, 4\).*size 3.*size 4",
        ),
        (lambda: layers.Dot(axes=0, name="dt0"), [(2, 3), (2, 3)], r"'dt0'.*non-batch axis"),
    ],
)
def test_merge_shape_errors_name_layer_and_all_shapes(make, inputs, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()([tg.tensor(np.ones(s)) for s in inputs])


def test_merge_errors_for_non_lists_and_symbolic_mismatch():
    with pytest.raises(ValueError, match=r"'plus'.*list of tensors.*\(2, 3\)"):
        layers.Add(name="plus")(tg.tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"'joined'.*\(None, 3\)|'joined'.*\(2, 3\), \(2, 4\)"):
        layers.Add(name="joined")([layers.Input(shape=(3,)), layers.Input(shape=(4,))])
    with pytest.raises(TypeError, match="axes"):
        layers.Dot(axes="last")


# -- inside models -----------------------------------------------------------------------
def test_functional_model_with_merges_and_normalization_trains():
    a_in, b_in = layers.Input(shape=(4,)), layers.Input(shape=(4,))
    ha = layers.Dense(8, activation="tanh")(a_in)
    hb = layers.Dense(8, activation="tanh")(b_in)
    merged = layers.Concatenate()(
        [layers.Add()([ha, hb]), layers.Multiply()([ha, hb]), layers.Dot(axes=1)([ha, hb])]
    )
    assert merged.shape == (None, 17)
    hidden = layers.LayerNormalization()(merged)
    hidden = layers.BatchNormalization()(hidden)
    model = tg.Model([a_in, b_in], layers.Dense(1)(hidden))
    assert len(model.non_trainable_weights) == 2
    a = RNG.normal(size=(96, 4)).astype(np.float32)
    b = RNG.normal(size=(96, 4)).astype(np.float32)
    y = (a[:, :1] * b[:, 1:2] + a[:, 2:3]).astype(np.float32)
    model.compile(tg.optimizers.Adam(0.02), "mse")
    history = model.fit([a, b], y, epochs=12, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    np.testing.assert_allclose(
        model.predict([a, b], verbose=0),
        model([a, b], training=False).numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_sequential_with_batch_norm_trains_and_predicts_with_moving_statistics():
    x = RNG.normal(5.0, 3.0, size=(128, 4)).astype(np.float32)
    y = (x @ np.array([[0.5], [-1.0], [0.2], [0.0]]) * 0.3).astype(np.float32)
    bn = layers.BatchNormalization(momentum=0.9)
    model = tg.Sequential(
        [
            layers.Input(shape=(4,)),
            bn,
            layers.Dense(16, activation="relu"),
            layers.LayerNormalization(),
            layers.Dense(1),
        ]
    )
    model.compile(tg.optimizers.Adam(0.02), "mse")
    history = model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
    # The moving statistics tracked the data while training.
    np.testing.assert_allclose(bn.moving_mean.numpy(), x.mean(0), atol=0.5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), x.var(0), rtol=0.3)
    moving_mean = bn.moving_mean.numpy().copy()
    predicted = model.predict(x[:8], verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), moving_mean)
    np.testing.assert_allclose(predicted, model(x[:8], training=False).numpy(), rtol=1e-6)
    assert not np.allclose(predicted, model(x[:8], training=True).numpy())


def test_sequential_with_embedding_trains():
    tokens = RNG.integers(0, 20, size=(200, 5))
    labels = (tokens % 2 == 0).sum(axis=1, keepdims=True).astype(np.float32) / 5
    model = tg.Sequential(
        [
            layers.Input(shape=(5,), dtype="int64"),
            layers.Embedding(20, 4),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    model.compile(tg.optimizers.Adam(0.05), "mse")
    history = model.fit(tokens, labels, epochs=10, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    with pytest.raises(ValueError, match=r"\[0, 20\)"):
        model.predict(np.full((1, 5), 20), verbose=0)


def test_saved_model_with_these_layers_round_trips(tmp_path):
    tokens_in, numbers_in = layers.Input(shape=(3,), dtype="int64"), layers.Input(shape=(4,))
    embedded = layers.Flatten()(layers.Embedding(10, 2)(tokens_in))
    hidden = layers.Concatenate()([embedded, layers.Dense(6)(numbers_in)])
    hidden = layers.BatchNormalization()(layers.Add()([hidden, layers.Dense(12)(hidden)]))
    hidden = layers.LayerNormalization(axis=[1])(hidden)
    model = tg.Model([tokens_in, numbers_in], layers.Dense(1)(layers.Dot(axes=1)([hidden, hidden])))
    model.compile("adam", "mse")
    x = [RNG.integers(0, 10, size=(16, 3)), RNG.normal(size=(16, 4)).astype(np.float32)]
    model.fit(x, RNG.normal(size=(16, 1)), epochs=2, verbose=0)
    model.save(tmp_path / "model.tapegrad")
    loaded = tg.models.load_model(tmp_path / "model.tapegrad")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [w.name.split("/")[-1] for w in loaded.non_trainable_weights] == [
        "moving_mean",
        "moving_variance",
    ]
