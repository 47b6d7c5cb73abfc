"""Conv1D/2D/3DTranspose, DepthwiseConv1D/2D and SeparableConv1D/2D: values against NumPy
references written from Keras 3's definitions (each reference was checked against Keras
3.15 on the JAX backend for every case below), Keras literals for small cases, output
shapes by Keras' formula, `run_layer_test` (gradients included), compiled calls, configs."""

import itertools

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test


def _to_last(x, data_format):
    return np.moveaxis(x, 1, -1) if data_format == "channels_first" else x


def _from_last(x, data_format):
    return np.moveaxis(x, -1, 1) if data_format == "channels_first" else x


def conv_transpose_reference(x, kernel, bias, strides, padding, output_padding, dilation):
    """Keras' conv_transpose: scatter every input element's kernel over a full output,
    then keep the window JAX's padding (Keras' padding rule for it) selects."""
    nd = x.ndim - 2
    window = kernel.shape[:nd]
    spans = [(k - 1) * d + 1 for k, d in zip(window, dilation, strict=True)]
    full_shape = [
        (n - 1) * s + span for n, s, span in zip(x.shape[1:-1], strides, spans, strict=True)
    ]
    full = np.zeros((x.shape[0], *full_shape, kernel.shape[-2]))
    for position in itertools.product(*(range(k) for k in window)):
        contribution = np.einsum("n...c,fc->n...f", x, kernel[position])
        index = tuple(
            slice(p * d, p * d + (n - 1) * s + 1, s)
            for p, d, n, s in zip(position, dilation, x.shape[1:-1], strides, strict=True)
        )
        full[(slice(None), *index)] += contribution
    out = full
    for axis in range(nd):
        n, s, span = x.shape[1 + axis], strides[axis], spans[axis]
        extra = None if output_padding is None else output_padding[axis]
        if padding == "valid":
            extra = max(span, s) - span if extra is None else extra
            left, right = span - 1, span - 1 + extra
        else:
            total = s + span - 2 if extra is None else span + span % 2 - 2 + extra
            left = min(total // 2 + total % 2, span - 1)
            right = total - left
        length = (n - 1) * s + 1 + left + right - span + 1
        start = span - 1 - left
        out = np.moveaxis(out, axis + 1, 0)
        out = np.pad(out, [(0, max(0, start + length - out.shape[0]))] + [(0, 0)] * (out.ndim - 1))
        out = np.moveaxis(out[start : start + length], 0, axis + 1)
    return out + bias


def depthwise_reference(x, kernel, strides, padding, dilation):
    """Each channel convolved with its own filters (TensorFlow's "same" padding)."""
    nd = x.ndim - 2
    window = kernel.shape[:nd]
    spans = [(k - 1) * d + 1 for k, d in zip(window, dilation, strict=True)]
    pads, outs = [], []
    for n, s, span in zip(x.shape[1:-1], strides, spans, strict=True):
        out = (n - span) // s + 1 if padding == "valid" else -(-n // s)
        total = max((out - 1) * s + span - n, 0)
        pads.append((total // 2, total - total // 2))
        outs.append(out)
    padded = np.pad(x, [(0, 0), *pads, (0, 0)])
    result = np.zeros((x.shape[0], *outs, x.shape[-1], kernel.shape[-1]))
    for position in itertools.product(*(range(k) for k in window)):
        index = tuple(
            slice(p * d, p * d + (o - 1) * s + 1, s)
            for p, d, o, s in zip(position, dilation, outs, strides, strict=True)
        )
        result += padded[(slice(None), *index)][..., None] * kernel[position]
    return result.reshape(*result.shape[:-2], -1)


# (rank, kernel, strides, padding, output_padding, dilation, data_format)
TRANSPOSE_CASES = [
    (rank, *case)
    for rank in (1, 2, 3)
    for case in [
        (3, 1, "valid", None, 1, "channels_last"),
        (3, 2, "valid", None, 1, "channels_last"),
        (3, 2, "same", None, 1, "channels_last"),
        (2, 3, "valid", None, 1, "channels_last"),
        (2, 3, "same", None, 1, "channels_last"),
        (3, 2, "same", 1, 1, "channels_last"),
        (3, 2, "valid", 1, 1, "channels_first"),
        (4, 3, "same", 2, 1, "channels_last"),
        (3, 1, "same", None, 2, "channels_last"),
        (3, 1, "valid", 0, 2, "channels_first"),
        (1, 2, "valid", None, 1, "channels_last"),
        (4, 2, "same", None, 1, "channels_last"),
    ]
    if not (rank == 3 and case[0] == 4)
]


@pytest.mark.parametrize(
    ("rank", "kernel", "strides", "padding", "output_padding", "dilation", "data_format"),
    TRANSPOSE_CASES,
)
def test_conv_transpose_values_and_shapes(
    rank, kernel, strides, padding, output_padding, dilation, data_format
):
    rng = np.random.default_rng(rank * 100 + kernel * 10 + strides)
    cls = getattr(layers, f"Conv{rank}DTranspose")
    spatial = (4, 3, 2)[:rank]
    shape = (2, 2, *spatial) if data_format == "channels_first" else (2, *spatial, 2)
    x = rng.standard_normal(shape)
    layer = cls(
        3,
        kernel,
        strides=strides,
        padding=padding,
        output_padding=output_padding,
        dilation_rate=dilation,
        data_format=data_format,
        bias_initializer="random_normal",
        dtype="float64",
    )
    out = layer(x).numpy()
    expected = conv_transpose_reference(
        _to_last(x, data_format),
        layer.kernel.numpy(),
        layer.bias.numpy(),
        (strides,) * rank,
        padding,
        None if output_padding is None else (output_padding,) * rank,
        (dilation,) * rank,
    )
    np.testing.assert_allclose(out, _from_last(expected, data_format), rtol=1e-10, atol=1e-10)
    assert layer.compute_output_shape((None, *shape[1:])) == (None, *out.shape[1:])
    assert layer.kernel.shape == (*(kernel,) * rank, 3, 2)


# Keras 3.15 (JAX backend): Conv1DTranspose(1, 3, strides=2, padding="same",
# kernel_initializer=Constant([[[1.0]], [[2.0]], [[3.0]]] as (3, 1, 1)), no bias) on
# [1, 10, 100].
KERAS_TRANSPOSE_1D = [1.0, 2.0, 13.0, 20.0, 130.0, 200.0]


def test_conv_transpose_matches_keras_literal():
    layer = layers.Conv1DTranspose(1, 3, strides=2, padding="same", use_bias=False)
    layer.build((None, 3, 1))
    layer.set_weights([np.array([1.0, 2.0, 3.0], np.float32).reshape(3, 1, 1)])
    out = layer(np.array([[[1.0], [10.0], [100.0]]], np.float32)).numpy()
    np.testing.assert_allclose(out[0, :, 0], KERAS_TRANSPOSE_1D)


@pytest.mark.parametrize(
    ("cls", "kwargs", "shape", "out_shape"),
    [
        (
            layers.Conv1DTranspose,
            {"filters": 2, "kernel_size": 3, "strides": 2},
            (2, 3, 2),
            (2, 7, 2),
        ),
        (
            layers.Conv2DTranspose,
            {"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same"},
            (2, 2, 3, 1),
            (2, 4, 6, 2),
        ),
        (
            layers.Conv3DTranspose,
            {"filters": 1, "kernel_size": 2, "activation": "tanh"},
            (1, 2, 2, 1, 2),
            (1, 3, 3, 2, 1),
        ),
    ],
)
def test_conv_transpose_layer_test(cls, kwargs, shape, out_shape):
    run_layer_test(
        cls,
        {**kwargs, "bias_initializer": "random_normal"},
        input_shape=shape,
        expected_output_shape=out_shape,
        expected_num_trainable_weights=2,
    )


DEPTHWISE_CASES = [
    (rank, *case)
    for rank in (1, 2)
    for case in [
        (3, 1, "valid", 1, 1, "channels_last"),
        (3, 2, "same", 2, 1, "channels_last"),
        (2, 1, "same", 3, 2, "channels_first"),
    ]
]


@pytest.mark.parametrize(
    ("rank", "kernel", "strides", "padding", "multiplier", "dilation", "data_format"),
    DEPTHWISE_CASES,
)
@pytest.mark.parametrize("separable", [False, True])
def test_depthwise_and_separable_values(
    rank, kernel, strides, padding, multiplier, dilation, data_format, separable
):
    rng = np.random.default_rng(rank + kernel + strides)
    spatial = (5, 4)[:rank]
    shape = (2, 3, *spatial) if data_format == "channels_first" else (2, *spatial, 3)
    x = rng.standard_normal(shape)
    options = {
        "strides": strides,
        "padding": padding,
        "depth_multiplier": multiplier,
        "dilation_rate": dilation,
        "data_format": data_format,
        "bias_initializer": "random_normal",
        "dtype": "float64",
    }
    if separable:
        layer = getattr(layers, f"SeparableConv{rank}D")(4, kernel, **options)
    else:
        layer = getattr(layers, f"DepthwiseConv{rank}D")(kernel, **options)
    out = layer(x).numpy()
    weights = layer.get_weights()
    expected = depthwise_reference(
        _to_last(x, data_format), weights[0], (strides,) * rank, padding, (dilation,) * rank
    )
    if separable:
        assert weights[1].shape == (*(1,) * rank, 3 * multiplier, 4)
        expected = expected @ weights[1].reshape(3 * multiplier, 4)
    expected = expected + weights[-1]
    np.testing.assert_allclose(out, _from_last(expected, data_format), rtol=1e-10, atol=1e-10)
    names = [w.name.split("/")[-1] for w in layer.weights]
    assert names == (
        ["depthwise_kernel", "pointwise_kernel", "bias"] if separable else ["kernel", "bias"]
    )


@pytest.mark.parametrize(
    ("cls", "kwargs", "shape", "out_shape", "weights"),
    [
        (
            layers.DepthwiseConv1D,
            {"kernel_size": 2, "depth_multiplier": 2},
            (2, 4, 2),
            (2, 3, 4),
            2,
        ),
        (
            layers.DepthwiseConv2D,
            {"kernel_size": 2, "padding": "same"},
            (2, 3, 3, 2),
            (2, 3, 3, 2),
            2,
        ),
        (layers.SeparableConv1D, {"filters": 3, "kernel_size": 2}, (2, 4, 2), (2, 3, 3), 3),
        (
            layers.SeparableConv2D,
            {"filters": 3, "kernel_size": 2, "strides": 2, "use_bias": False},
            (2, 4, 4, 2),
            (2, 2, 2, 3),
            2,
        ),
    ],
)
def test_depthwise_separable_layer_test(cls, kwargs, shape, out_shape, weights):
    run_layer_test(
        cls,
        kwargs,
        input_shape=shape,
        expected_output_shape=out_shape,
        expected_num_trainable_weights=weights,
    )


# Keras 3.15 get_config keys (besides name, trainable, dtype).
KERAS_CONFIG_KEYS = {
    layers.Conv2DTranspose: {
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "output_padding",
        "data_format",
        "dilation_rate",
        "activation",
        "use_bias",
        "kernel_initializer",
        "bias_initializer",
        "kernel_regularizer",
        "bias_regularizer",
    },
    layers.DepthwiseConv2D: {
        "depth_multiplier",
        "kernel_size",
        "strides",
        "padding",
        "data_format",
        "dilation_rate",
        "activation",
        "use_bias",
        "depthwise_initializer",
        "bias_initializer",
        "depthwise_regularizer",
        "bias_regularizer",
    },
    layers.SeparableConv2D: {
        "depth_multiplier",
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "data_format",
        "dilation_rate",
        "activation",
        "use_bias",
        "depthwise_initializer",
        "pointwise_initializer",
        "bias_initializer",
        "depthwise_regularizer",
        "pointwise_regularizer",
        "bias_regularizer",
    },
}


@pytest.mark.parametrize("cls", list(KERAS_CONFIG_KEYS))
def test_configs_and_saving(cls, tmp_path):
    args = (3, 2) if cls is not layers.DepthwiseConv2D else (2,)
    layer = cls(*args)
    config = layer.get_config()
    assert KERAS_CONFIG_KEYS[cls] <= set(config)
    model = tg.Sequential([layers.Input((5, 5, 2)), layer, layers.GlobalAveragePooling2D()])
    x = np.random.default_rng(0).standard_normal((2, 5, 5, 2)).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, np.ones((2, model.output_shape[-1]), np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = tg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_compiled_step_matches_eager():
    layer = layers.Conv2DTranspose(2, 3, strides=2, padding="same")
    x = tg.tensor(np.random.default_rng(0).standard_normal((2, 3, 3, 2)).astype(np.float32))

    def step(x):
        with tg.GradientTape() as tape:
            loss = tg.numpy.sum(layer(x) ** 2)
        return loss, tape.gradient(loss, layer.trainable_weights)

    eager, compiled = step(x), tg.function(step)(x)
    np.testing.assert_allclose(compiled[0].numpy(), eager[0].numpy(), rtol=1e-5)
    for a, b in zip(compiled[1], eager[1], strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="output_padding"):
        layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="padding"):
        layers.Conv1DTranspose(2, 3, padding="causal")
    with pytest.raises(ValueError, match="depth_multiplier"):
        layers.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match="dilation_rate"):
        layers.SeparableConv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="channels"):
        layer = layers.DepthwiseConv2D(2)
        layer(np.ones((1, 4, 4, 2), np.float32))
        layer(np.ones((1, 4, 4, 3), np.float32))
