"""Conv1D/2D/3D and the pooling layers: the standard `run_layer_test` checks, values
against NumPy loops and `tapegrad.ops`, a small CNN that trains, configs and errors."""

import itertools
import json
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers, ops
from tests.nn.layer_test_utils import run_layer_test

RNG = np.random.default_rng(0)


# -- the standard checks, as a table -----------------------------------------------------
LAYER_CASES = [
    # (class, init kwargs, input shape, output shape, trainable weights)
    (layers.Conv1D, {"filters": 3, "kernel_size": 3}, (2, 7, 2), (2, 5, 3), 2),
    (
        layers.Conv1D,
        {"filters": 2, "kernel_size": 2, "padding": "same", "strides": 2},
        (2, 5, 3),
        (2, 3, 2),
        2,
    ),
    (
        layers.Conv1D,
        {"filters": 2, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
        (2, 6, 1),
        (2, 6, 2),
        2,
    ),
    (
        layers.Conv1D,
        {"filters": 2, "kernel_size": 3, "data_format": "channels_first", "use_bias": False},
        (2, 3, 6),
        (2, 2, 4),
        1,
    ),
    (
        layers.Conv1D,
        {
            "filters": 2,
            "kernel_size": 2,
            "data_format": "channels_first",
            "padding": "causal",
            "strides": 2,
        },
        (2, 3, 5),
        (2, 2, 3),
        2,
    ),
    (layers.Conv1D, {"filters": 4, "kernel_size": 2, "groups": 2}, (2, 5, 4), (2, 4, 4), 2),
    (layers.Conv2D, {"filters": 3, "kernel_size": 3}, (2, 5, 6, 2), (2, 3, 4, 3), 2),
    (
        layers.Conv2D,
        {"filters": 2, "kernel_size": (3, 2), "padding": "same"},
        (2, 4, 5, 1),
        (2, 4, 5, 2),
        2,
    ),
    (
        layers.Conv2D,
        {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
        (1, 5, 6, 2),
        (1, 3, 3, 2),
        2,
    ),
    (
        layers.Conv2D,
        {"filters": 2, "kernel_size": 2, "strides": (1, 2)},
        (1, 4, 5, 1),
        (1, 3, 2, 2),
        2,
    ),
    (
        layers.Conv2D,
        {
            "filters": 2,
            "kernel_size": 3,
            "dilation_rate": 2,
            "padding": "same",
            "activation": "tanh",
        },
        (1, 6, 5, 2),
        (1, 6, 5, 2),
        2,
    ),
    (
        layers.Conv2D,
        {"filters": 3, "kernel_size": 2, "data_format": "channels_first"},
        (2, 2, 4, 5),
        (2, 3, 3, 4),
        2,
    ),
    (
        layers.Conv2D,
        {
            "filters": 4,
            "kernel_size": 2,
            "groups": 2,
            "padding": "same",
            "data_format": "channels_first",
        },
        (1, 4, 3, 3),
        (1, 4, 3, 3),
        2,
    ),
    (layers.Conv3D, {"filters": 2, "kernel_size": 2}, (1, 3, 3, 4, 1), (1, 2, 2, 3, 2), 2),
    (layers.MaxPooling1D, {}, (2, 5, 3), (2, 2, 3), 0),
    (
        layers.MaxPooling1D,
        {"pool_size": 3, "strides": 1, "padding": "same"},
        (2, 5, 2),
        (2, 5, 2),
        0,
    ),
    (layers.MaxPooling2D, {}, (2, 4, 5, 3), (2, 2, 2, 3), 0),
    (
        layers.MaxPooling2D,
        {"pool_size": 3, "strides": 2, "padding": "same"},
        (1, 5, 6, 2),
        (1, 3, 3, 2),
        0,
    ),
    (layers.MaxPooling2D, {"data_format": "channels_first"}, (2, 3, 4, 6), (2, 3, 2, 3), 0),
    (layers.MaxPooling3D, {}, (1, 2, 4, 4, 1), (1, 1, 2, 2, 1), 0),
    (layers.AveragePooling1D, {"pool_size": 2, "padding": "same"}, (2, 5, 3), (2, 3, 3), 0),
    (layers.AveragePooling1D, {"data_format": "channels_first"}, (2, 3, 4), (2, 3, 2), 0),
    (layers.AveragePooling2D, {}, (2, 4, 4, 2), (2, 2, 2, 2), 0),
    (
        layers.AveragePooling2D,
        {"pool_size": (2, 3), "strides": 1, "padding": "same"},
        (1, 3, 4, 2),
        (1, 3, 4, 2),
        0,
    ),
    (
        layers.AveragePooling2D,
        {"data_format": "channels_first", "padding": "same"},
        (1, 2, 5, 3),
        (1, 2, 3, 2),
        0,
    ),
    (layers.AveragePooling3D, {"pool_size": 2}, (1, 2, 2, 4, 3), (1, 1, 1, 2, 3), 0),
    (layers.GlobalAveragePooling1D, {}, (2, 5, 3), (2, 3), 0),
    (layers.GlobalAveragePooling2D, {}, (2, 3, 4, 5), (2, 5), 0),
    (
        layers.GlobalAveragePooling2D,
        {"data_format": "channels_first", "keepdims": True},
        (2, 3, 4, 5),
        (2, 3, 1, 1),
        0,
    ),
    (layers.GlobalAveragePooling3D, {}, (2, 2, 3, 2, 4), (2, 4), 0),
    (layers.GlobalMaxPooling1D, {"keepdims": True}, (2, 5, 3), (2, 1, 3), 0),
    (layers.GlobalMaxPooling2D, {}, (2, 3, 4, 5), (2, 5), 0),
    (layers.GlobalMaxPooling2D, {"data_format": "channels_first"}, (2, 3, 4, 5), (2, 3), 0),
    (layers.GlobalMaxPooling3D, {}, (2, 2, 3, 2, 4), (2, 4), 0),
]


@pytest.mark.parametrize(
    "cls, kwargs, shape, out_shape, n_trainable",
    LAYER_CASES,
    ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(LAYER_CASES)],
)
def test_run_layer_test(cls, kwargs, shape, out_shape, n_trainable):
    # Non-zero biases, so that a misplaced bias (channels_first) shows in the values.
    if "filters" in kwargs and kwargs.get("use_bias", True):
        kwargs = {**kwargs, "bias_initializer": "random_normal"}
    run_layer_test(
        cls,
        kwargs,
        shape,
        expected_output_shape=out_shape,
        expected_num_trainable_weights=n_trainable,
    )


# -- values against NumPy loops ----------------------------------------------------------
def _same_pads(spatial, window, strides, dilation):
    """Keras/TF "same" padding: the odd element at the end."""
    pads = []
    for n, k, s, d in zip(spatial, window, strides, dilation, strict=True):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def conv_reference(x, kernel, bias, strides, padding, dilation, groups):
    """Channels-last cross-correlation by a loop over output positions."""
    nd = x.ndim - 2
    window = kernel.shape[:nd]
    pads = (
        _same_pads(x.shape[1:-1], window, strides, dilation) if padding == "same" else [(0, 0)] * nd
    )
    xp = np.pad(x, [(0, 0), *pads, (0, 0)])
    out_spatial = [
        (n - d * (k - 1) - 1) // s + 1
        for n, k, s, d in zip(xp.shape[1:-1], window, strides, dilation, strict=True)
    ]
    c_group, filters = kernel.shape[-2], kernel.shape[-1]
    per_group = filters // groups
    out = np.zeros((x.shape[0], *out_spatial, filters))
    for pos in itertools.product(*(range(n) for n in out_spatial)):
        index = tuple(
            slice(p * s, p * s + d * (k - 1) + 1, d)
            for p, s, d, k in zip(pos, strides, dilation, window, strict=True)
        )
        patch = xp[(slice(None), *index)]  # (N, *window, C_in)
        for g in range(groups):
            cols = slice(g * per_group, (g + 1) * per_group)
            chans = patch[..., g * c_group : (g + 1) * c_group]
            out[(slice(None), *pos, cols)] = np.tensordot(
                chans, kernel[..., cols], axes=(list(range(1, nd + 2)), list(range(nd + 1)))
            )
    return out + bias


CONV_VALUE_CASES = [
    (layers.Conv1D, (2, 9, 3), {"filters": 4, "kernel_size": 3, "strides": 2}),
    (
        layers.Conv1D,
        (2, 8, 2),
        {"filters": 2, "kernel_size": 3, "dilation_rate": 3, "padding": "same"},
    ),
    (
        layers.Conv2D,
        (2, 7, 6, 3),
        {"filters": 4, "kernel_size": (3, 2), "padding": "same", "strides": (2, 1)},
    ),
    (layers.Conv2D, (1, 7, 7, 2), {"filters": 3, "kernel_size": 3, "dilation_rate": (2, 1)}),
    (layers.Conv2D, (2, 5, 5, 4), {"filters": 6, "kernel_size": 2, "groups": 2}),
    (layers.Conv2D, (2, 5, 4, 6), {"filters": 3, "kernel_size": 3, "groups": 3, "padding": "same"}),
    (layers.Conv3D, (1, 4, 3, 5, 2), {"filters": 2, "kernel_size": 2, "padding": "same"}),
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("cls, shape, kwargs", CONV_VALUE_CASES)
def test_conv_matches_numpy_loops_and_ops_conv(cls, shape, kwargs, data_format):
    x = RNG.standard_normal(shape)
    layer = cls(
        **kwargs, data_format=data_format, bias_initializer="random_normal", dtype="float64"
    )
    x_in = np.moveaxis(x, -1, 1) if data_format == "channels_first" else x
    out = layer(tg.tensor(x_in)).numpy()
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    nd = x.ndim - 2
    assert kernel.shape == (*layer.kernel_size, shape[-1] // layer.groups, layer.filters)
    expected = conv_reference(
        x, kernel, bias, layer.strides, layer.padding, layer.dilation_rate, layer.groups
    )
    if data_format == "channels_first":
        expected = np.moveaxis(expected, -1, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    via_ops = ops.conv(
        x_in,
        kernel,
        strides=layer.strides,
        padding=layer.padding,
        data_format=data_format,
        dilation_rate=layer.dilation_rate,
    )
    bias_shape = (-1, *([1] * nd)) if data_format == "channels_first" else (-1,)
    np.testing.assert_allclose(out, np.asarray(via_ops) + bias.reshape(bias_shape), rtol=1e-12)


def test_conv1d_causal_sees_only_the_past():
    layer = layers.Conv1D(1, 3, padding="causal", dilation_rate=2, dtype="float64")
    x = RNG.standard_normal((1, 10, 1))
    base = layer(tg.tensor(x)).numpy()
    changed = x.copy()
    changed[0, 6] += 1.0
    after = layer(tg.tensor(changed)).numpy()
    np.testing.assert_array_equal(after[0, :6], base[0, :6])
    assert not np.allclose(after[0, 6:], base[0, 6:])
    # Same as left padding by (k - 1) * d then a "valid" convolution.
    padded = np.pad(x, ((0, 0), (4, 0), (0, 0)))
    expected = conv_reference(
        padded, layer.kernel.numpy(), layer.bias.numpy(), (1,), "valid", (2,), 1
    )
    np.testing.assert_allclose(base, expected, rtol=1e-12)
    first = layers.Conv1D.from_config(
        {**layer.get_config(), "name": "causal_first", "data_format": "channels_first"}
    )
    first(tg.tensor(np.moveaxis(x, -1, 1)))
    first.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        first(tg.tensor(np.moveaxis(x, -1, 1))).numpy(), np.moveaxis(base, -1, 1), rtol=1e-12
    )


def pool_reference(x, reduce, window, strides, padding):
    """Channels-last pooling by a loop over output positions; "same" pads are left out."""
    nd = x.ndim - 2
    pads = (
        _same_pads(x.shape[1:-1], window, strides, (1,) * nd)
        if padding == "same"
        else [(0, 0)] * nd
    )
    xp = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=np.nan)
    out_spatial = [
        (n - k) // s + 1 for n, k, s in zip(xp.shape[1:-1], window, strides, strict=True)
    ]
    out = np.zeros((x.shape[0], *out_spatial, x.shape[-1]))
    for pos in itertools.product(*(range(n) for n in out_spatial)):
        index = tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, strides, window, strict=True))
        patch = xp[(slice(None), *index)]
        out[(slice(None), *pos)] = reduce(patch, axis=tuple(range(1, nd + 1)))
    return out


POOL_VALUE_CASES = [
    (layers.MaxPooling1D, np.nanmax, (2, 7, 3), {"pool_size": 3, "strides": 2}),
    (layers.MaxPooling1D, np.nanmax, (2, 7, 3), {"pool_size": 2, "padding": "same"}),
    (layers.MaxPooling2D, np.nanmax, (2, 7, 6, 2), {"pool_size": (3, 2), "padding": "same"}),
    (layers.MaxPooling2D, np.nanmax, (1, 8, 8, 3), {"pool_size": 3, "strides": (2, 1)}),
    (
        layers.AveragePooling1D,
        np.nanmean,
        (2, 7, 3),
        {"pool_size": 3, "padding": "same", "strides": 2},
    ),
    (layers.AveragePooling2D, np.nanmean, (2, 7, 6, 2), {"pool_size": 3, "padding": "same"}),
    (layers.AveragePooling2D, np.nanmean, (1, 6, 6, 2), {"pool_size": 2, "strides": 1}),
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("cls, reduce, shape, kwargs", POOL_VALUE_CASES)
def test_pooling_matches_numpy_loops(cls, reduce, shape, kwargs, data_format):
    x = RNG.standard_normal(shape)
    layer = cls(**kwargs, data_format=data_format)
    x_in = np.moveaxis(x, -1, 1) if data_format == "channels_first" else x
    out = layer(tg.tensor(x_in)).numpy()
    expected = pool_reference(x, reduce, layer.pool_size, layer.strides, layer.padding)
    if data_format == "channels_first":
        expected = np.moveaxis(expected, -1, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_max_pooling_gradient_goes_to_the_maximum():
    x = np.array([[1.0, 4.0, 2.0, 0.0], [3.0, 0.5, 5.0, 5.0]]).reshape(1, 2, 4, 1)
    grad = tg.grad(lambda t: tg.numpy.sum(layers.MaxPooling2D()(t)))(tg.tensor(x))
    expected = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]).reshape(x.shape)
    np.testing.assert_array_equal(np.asarray(grad), expected)  # ties: the first maximum


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_matches_numpy(data_format, keepdims):
    x = RNG.standard_normal((2, 3, 4, 5))
    axes = (2, 3) if data_format == "channels_first" else (1, 2)
    for cls, reduce in (
        (layers.GlobalAveragePooling2D, np.mean),
        (layers.GlobalMaxPooling2D, np.max),
    ):
        out = cls(data_format=data_format, keepdims=keepdims)(tg.tensor(x)).numpy()
        np.testing.assert_allclose(out, reduce(x, axis=axes, keepdims=keepdims), rtol=1e-12)


def test_layers_return_tensors_for_numpy_inputs():
    x = np.ones((2, 4, 4, 1), np.float32)
    for layer in (
        layers.Conv2D(2, 3),
        layers.MaxPooling2D(),
        layers.AveragePooling2D(),
        layers.GlobalAveragePooling2D(),
        layers.GlobalMaxPooling2D(),
    ):
        out = layer(x)
        assert isinstance(out, tg.Tensor), type(layer).__name__
        assert out.dtype == np.float32


# -- a small CNN -------------------------------------------------------------------------
def _small_cnn():
    return tg.Sequential(
        [
            layers.Input((8, 8, 1)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(10),
        ]
    )


def test_small_cnn_trains_on_random_data():
    data = np.random.default_rng(1)
    x = data.standard_normal((64, 8, 8, 1)).astype(np.float32)
    y = data.integers(0, 10, 64)
    model = _small_cnn()
    assert model.count_params() == 3 * 3 * 1 * 4 + 4 + 4 * 4 * 4 * 10 + 10
    model.compile(
        optimizer=tg.optimizers.Adam(0.01),
        loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(x, y, batch_size=16, epochs=15, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert losses[-1] < 0.6 * losses[0], losses
    assert model.predict(x[:3], verbose=0).shape == (3, 10)


def test_small_cnn_gradient_tape_step_matches_a_manual_update():
    model = _small_cnn()
    x = RNG.standard_normal((4, 8, 8, 1)).astype(np.float32)
    y = np.array([0, 3, 9, 1])
    loss_fn = tg.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tg.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    assert [g.shape for g in grads] == [w.shape for w in model.trainable_weights]
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)
    before = [w.numpy().copy() for w in model.trainable_weights]
    tg.optimizers.SGD(0.1).apply_gradients(zip(grads, model.trainable_weights, strict=True))
    for b, g, w in zip(before, grads, model.trainable_weights, strict=True):
        np.testing.assert_allclose(w.numpy(), b - 0.1 * np.asarray(g), rtol=1e-6, atol=1e-7)


def test_small_cnn_save_and_load(tmp_path):
    model = _small_cnn()
    x = RNG.standard_normal((3, 8, 8, 1)).astype(np.float32)
    path = tmp_path / "cnn.tapegrad"
    model.save(path)
    loaded = tg.models.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# -- configs -----------------------------------------------------------------------------
CONFIG_CASES = [
    layers.Conv1D(
        3, 5, strides=2, padding="causal", dilation_rate=1, use_bias=False, kernel_regularizer="l2"
    ),
    layers.Conv2D(
        8,
        (3, 1),
        padding="same",
        data_format="channels_first",
        dilation_rate=(2, 1),
        groups=2,
        activation="relu",
        kernel_initializer="he_normal",
        bias_initializer="ones",
    ),
    layers.Conv3D(2, 3, strides=(1, 2, 1)),
    layers.MaxPooling1D(3, strides=1, padding="same"),
    layers.MaxPooling2D((2, 3), data_format="channels_first"),
    layers.AveragePooling2D(3, strides=2, padding="same"),
    layers.AveragePooling3D(),
    layers.GlobalAveragePooling1D(keepdims=True),
    layers.GlobalMaxPooling2D(data_format="channels_first"),
]


@pytest.mark.parametrize("layer", CONFIG_CASES, ids=lambda layer: type(layer).__name__)
def test_config_round_trips_through_json(layer):
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    assert clone.get_config() == layer.get_config()


def test_config_holds_the_keras_keys():
    config = layers.Conv2D(4, 3, strides=2).get_config()
    assert config["kernel_size"] == [3, 3] and config["strides"] == [2, 2]
    assert config["padding"] == "valid" and config["data_format"] == "channels_last"
    assert config["dilation_rate"] == [1, 1] and config["groups"] == 1
    assert layers.MaxPooling2D().get_config()["strides"] == [2, 2]


# -- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.Conv2D(4, 3, padding="full"), "padding"),
        (lambda: layers.Conv2D(4, 3, padding="causal"), "padding"),
        (lambda: layers.Conv2D(5, 3, groups=2), "groups"),
        (lambda: layers.Conv2D(4, (3, 3, 3)), "kernel_size"),
        (lambda: layers.Conv2D(4, 3, strides=2, dilation_rate=2), "dilation_rate"),
        (lambda: layers.Conv2D(4, 3, data_format="NHWC"), "data_format"),
        (lambda: layers.MaxPooling2D(padding="causal"), "padding"),
        (lambda: layers.AveragePooling1D(0), "pool_size"),
        (lambda: layers.GlobalMaxPooling2D(data_format="nchw"), "data_format"),
    ],
)
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_wrong_inputs_name_the_layer_and_shapes():
    conv = layers.Conv2D(2, 3, name="my_conv")
    with pytest.raises(ValueError, match=r"my_conv.*\(2, 8, 8\)"):
        conv(np.ones((2, 8, 8), np.float32))
    conv(np.ones((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        conv(np.ones((2, 8, 8, 4), np.float32))
    conv(np.ones((1, 5, 6, 3), np.float32))  # other spatial sizes are fine
    with pytest.raises(ValueError, match="groups=2"):
        layers.Conv2D(2, 3, groups=2)(np.ones((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="spatial dims"):
        layers.MaxPooling2D()(np.ones((2, 8, 3), np.float32))
