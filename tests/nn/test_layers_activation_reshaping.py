"""Activation layers (ReLU, LeakyReLU, PReLU, ELU, Softmax), Identity, Masking and the
reshaping layers (Permute, RepeatVector, ZeroPadding*, Cropping*, UpSampling*):
`run_layer_test` (gradients included), values against Keras 3.15 (JAX backend) or NumPy,
configs as Keras writes them, errors."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test

X = np.linspace(-3, 4, 8, dtype=np.float32).reshape(2, 4)

# Outputs of Keras 3.15 (JAX backend) on X.
KERAS_ACTIVATIONS = [
    (layers.ReLU, {}, [[0, 0, 0, 0], [1, 2, 3, 4]]),
    (layers.ReLU, {"max_value": 2.0}, [[0, 0, 0, 0], [1, 2, 2, 2]]),
    (
        layers.ReLU,
        {"negative_slope": 0.1, "threshold": 0.5},
        [[-0.35, -0.25, -0.15, -0.05], [1, 2, 3, 4]],
    ),
    (
        layers.ReLU,
        {"max_value": 3.0, "negative_slope": 0.2, "threshold": 1.0},
        [[-0.8, -0.6, -0.4, -0.2], [0, 2, 3, 3]],
    ),
    (layers.LeakyReLU, {}, [[-0.9, -0.6, -0.3, 0], [1, 2, 3, 4]]),
    (
        layers.ELU,
        {"alpha": 0.5},
        [[-0.47510648, -0.43233237, -0.31606027, 0], [1, 2, 3, 4]],
    ),
    (layers.Softmax, {}, [[0.0320586, 0.08714432, 0.23688284, 0.64391428]] * 2),
    (
        layers.Softmax,
        {"axis": [0, 1]},
        [
            [0.00057661271, 0.0015673959, 0.0042606238, 0.011581576],
            [0.031481989, 0.085576922, 0.23262218, 0.63233262],
        ],
    ),
    (
        layers.PReLU,
        {"alpha_initializer": tg.initializers.Constant(0.25)},
        [[-0.75, -0.5, -0.25, 0], [1, 2, 3, 4]],
    ),
]


@pytest.mark.parametrize(("cls", "kwargs", "expected"), KERAS_ACTIVATIONS)
def test_activation_layers_match_keras(cls, kwargs, expected):
    np.testing.assert_allclose(cls(**kwargs)(X).numpy(), expected, rtol=1e-5, atol=1e-7)


def test_softmax_mask_matches_keras():
    mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0]], bool)
    # Keras 3.15: masked positions 0; a fully masked row is all zeros.
    expected = [[0.04201007, 0.1141952, 0.0, 0.8437947], [0, 0, 0, 0]]
    np.testing.assert_allclose(
        layers.Softmax()(X, mask=mask).numpy(), expected, rtol=1e-5, atol=1e-7
    )
    with pytest.raises(ValueError, match="broadcastable"):
        layers.Softmax()(X, mask=np.ones((3, 4), bool))


# Inputs kept away from the kinks (0 and the threshold) for the finite differences.
SMOOTH = np.array([[-2.1, -0.7, 0.8, 1.9], [2.6, -1.3, 0.3, -0.4]])


@pytest.mark.parametrize(
    ("cls", "kwargs", "weights"),
    [
        (layers.ReLU, {"negative_slope": 0.1, "max_value": 2.0}, 0),
        (layers.LeakyReLU, {"negative_slope": 0.2}, 0),
        (layers.ELU, {"alpha": 0.7}, 0),
        (layers.Softmax, {"axis": 0}, 0),
        (layers.PReLU, {"alpha_initializer": "ones"}, 1),
        (layers.Identity, {}, 0),
    ],
)
def test_activation_layer_test(cls, kwargs, weights):
    run_layer_test(
        cls,
        kwargs,
        input_shape=(2, 4),
        input_data=SMOOTH,
        expected_output_shape=(2, 4),
        expected_num_trainable_weights=weights,
        grad_order=2,
    )


def test_prelu_shared_axes_and_config():
    layer = layers.PReLU(shared_axes=[1, 2])
    layer(np.ones((1, 2, 3, 4), np.float32))
    assert layer.alpha.shape == (1, 1, 4)
    config = layer.get_config()
    assert config["shared_axes"] == [1, 2]
    assert {"alpha_initializer", "alpha_regularizer"} <= set(config)
    with pytest.raises(ValueError, match="shared_axes"):
        layers.PReLU(shared_axes=0)


def test_activation_arguments_checked():
    with pytest.raises(ValueError, match="max_value"):
        layers.ReLU(max_value=-1.0)
    with pytest.raises(ValueError, match="negative_slope"):
        layers.LeakyReLU(negative_slope=-0.1)
    with pytest.raises(ValueError, match="threshold"):
        layers.ReLU(threshold=-1.0)
    assert layers.LeakyReLU(alpha=0.1).negative_slope == 0.1  # Keras 2's name


def test_masking_matches_keras():
    layer = layers.Masking(mask_value=1.0)
    seq = np.array([[[1, 1], [2, 1], [1, 1]]], np.float32)
    # Keras 3.15: the fully masked steps are zeroed; the mask marks the others.
    np.testing.assert_allclose(layer(seq).numpy(), [[[0, 0], [2, 1], [0, 0]]])
    assert layer.compute_mask(seq).numpy().tolist() == [[False, True, False]]
    assert layer.get_config()["mask_value"] == 1.0
    run_layer_test(layers.Masking, {}, input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4))


IMAGE = np.arange(12, dtype=np.float32).reshape(2, 2, 3, 1)
# Keras 3.15 (JAX backend): UpSampling2D((2, 3), interpolation="bilinear") on IMAGE[0].
KERAS_BILINEAR_0 = [
    [0.0, 0.0, 1 / 3, 2 / 3, 1.0, 4 / 3, 5 / 3, 2.0, 2.0],
    [0.75, 0.75, 1.0833334, 1.4166667, 1.75, 2.0833335, 2.4166667, 2.75, 2.75],
    [2.25, 2.25, 2.5833333, 2.9166667, 3.25, 3.5833333, 3.916667, 4.25, 4.25],
    [3.0, 3.0, 3.3333335, 3.6666667, 4.0, 4.3333335, 4.666667, 5.0, 5.0],
]
# Keras 3.15: UpSampling2D(2, "channels_first", "bilinear") on IMAGE as (2, 1, 2, 3).
KERAS_BILINEAR_CF_0 = [
    [0.0, 0.25, 0.75, 1.25, 1.75, 2.0],
    [0.75, 1.0, 1.5, 2.0, 2.5, 2.75],
    [2.25, 2.5, 3.0, 3.5, 4.0, 4.25],
    [3.0, 3.25, 3.75, 4.25, 4.75, 5.0],
]


def test_bilinear_upsampling_matches_keras():
    out = layers.UpSampling2D((2, 3), interpolation="bilinear")(IMAGE).numpy()
    np.testing.assert_allclose(out[0, :, :, 0], KERAS_BILINEAR_0, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[1, :, :, 0], np.asarray(KERAS_BILINEAR_0) + 6, rtol=1e-6)
    layer = layers.UpSampling2D(2, data_format="channels_first", interpolation="bilinear")
    out = layer(IMAGE.reshape(2, 1, 2, 3)).numpy()
    np.testing.assert_allclose(out[0, 0], KERAS_BILINEAR_CF_0, rtol=1e-6, atol=1e-6)


def _pad_ref(x, widths):
    return np.pad(x, widths)


# (class, kwargs, input shape, NumPy reference)
RESHAPING = [
    (layers.ZeroPadding1D, {}, (2, 3, 2), lambda x: _pad_ref(x, [(0, 0), (1, 1), (0, 0)])),
    (
        layers.ZeroPadding1D,
        {"padding": (2, 0), "data_format": "channels_first"},
        (2, 3, 2),
        lambda x: _pad_ref(x, [(0, 0), (0, 0), (2, 0)]),
    ),
    (
        layers.ZeroPadding2D,
        {"padding": ((1, 0), (2, 1))},
        (2, 3, 2, 2),
        lambda x: _pad_ref(x, [(0, 0), (1, 0), (2, 1), (0, 0)]),
    ),
    (
        layers.ZeroPadding2D,
        {"padding": (1, 2), "data_format": "channels_first"},
        (2, 2, 3, 2),
        lambda x: _pad_ref(x, [(0, 0), (0, 0), (1, 1), (2, 2)]),
    ),
    (
        layers.ZeroPadding3D,
        {"padding": 1},
        (1, 2, 2, 2, 1),
        lambda x: _pad_ref(x, [(0, 0), (1, 1), (1, 1), (1, 1), (0, 0)]),
    ),
    (layers.Cropping1D, {}, (2, 4, 2), lambda x: x[:, 1:-1]),
    (layers.Cropping1D, {"cropping": (2, 0)}, (2, 4, 2), lambda x: x[:, 2:]),
    (layers.Cropping2D, {"cropping": ((1, 0), (0, 2))}, (2, 3, 4, 2), lambda x: x[:, 1:, :2]),
    (
        layers.Cropping2D,
        {"cropping": 1, "data_format": "channels_first"},
        (2, 2, 3, 4),
        lambda x: x[:, :, 1:-1, 1:-1],
    ),
    (layers.Cropping3D, {}, (1, 3, 3, 4, 2), lambda x: x[:, 1:-1, 1:-1, 1:-1]),
    (layers.UpSampling1D, {"size": 3}, (2, 2, 3), lambda x: np.repeat(x, 3, axis=1)),
    (
        layers.UpSampling2D,
        {"size": (2, 1)},
        (2, 2, 3, 1),
        lambda x: np.repeat(x, 2, axis=1),
    ),
    (
        layers.UpSampling2D,
        {"size": 2, "data_format": "channels_first"},
        (1, 2, 2, 3),
        lambda x: np.repeat(np.repeat(x, 2, axis=2), 2, axis=3),
    ),
    (
        layers.UpSampling3D,
        {"size": (1, 2, 3)},
        (1, 2, 2, 2, 1),
        lambda x: np.repeat(np.repeat(x, 2, axis=2), 3, axis=3),
    ),
    (layers.Permute, {"dims": (2, 1)}, (2, 3, 4), lambda x: x.transpose(0, 2, 1)),
    (layers.Permute, {"dims": (3, 1, 2)}, (2, 3, 4, 5), lambda x: x.transpose(0, 3, 1, 2)),
    (layers.RepeatVector, {"n": 3}, (2, 4), lambda x: np.repeat(x[:, None], 3, axis=1)),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape", "reference"), RESHAPING)
def test_reshaping_layers(cls, kwargs, shape, reference):
    x = np.random.default_rng(0).standard_normal(shape)
    expected = reference(x)
    out = run_layer_test(cls, kwargs, input_shape=shape, input_data=x)
    np.testing.assert_allclose(out, expected)
    layer = cls(**kwargs)
    assert layer.compute_output_shape((None, *shape[1:])) == (None, *expected.shape[1:])
    compiled = tg.function(lambda v: layer(v))(tg.tensor(x))
    np.testing.assert_allclose(compiled.numpy(), expected)


def test_bilinear_upsampling_gradients():
    run_layer_test(
        layers.UpSampling2D,
        {"size": (2, 3), "interpolation": "bilinear"},
        input_shape=(2, 2, 3, 2),
        expected_output_shape=(2, 4, 9, 2),
    )


# Keras 3.15's configs (tuples are lists once written as JSON).
KERAS_CONFIGS = [
    (layers.ZeroPadding1D, {"padding": [1, 1], "data_format": "channels_last"}),
    (layers.ZeroPadding2D, {"padding": [[1, 1], [1, 1]], "data_format": "channels_last"}),
    (
        layers.ZeroPadding3D,
        {"padding": [[1, 1], [1, 1], [1, 1]], "data_format": "channels_last"},
    ),
    (layers.Cropping1D, {"cropping": [1, 1]}),
    (layers.Cropping2D, {"cropping": [[0, 0], [0, 0]], "data_format": "channels_last"}),
    (
        layers.Cropping3D,
        {"cropping": [[1, 1], [1, 1], [1, 1]], "data_format": "channels_last"},
    ),
    (layers.UpSampling1D, {"size": 2}),
    (
        layers.UpSampling2D,
        {"size": [2, 2], "data_format": "channels_last", "interpolation": "nearest"},
    ),
    (layers.UpSampling3D, {"size": [2, 2, 2], "data_format": "channels_last"}),
    (layers.ReLU, {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}),
    (layers.LeakyReLU, {"negative_slope": 0.3}),
    (layers.ELU, {"alpha": 1.0}),
    (layers.Softmax, {"axis": -1}),
    (layers.Masking, {"mask_value": 0.0}),
    (layers.Identity, {}),
]


@pytest.mark.parametrize(("cls", "expected"), KERAS_CONFIGS)
def test_default_configs_as_keras(cls, expected):
    config = cls().get_config()
    for key in ("name", "trainable", "dtype"):
        config.pop(key)
    assert config == expected


def test_reshaping_errors():
    with pytest.raises(ValueError, match="leaves nothing"):
        layers.Cropping1D((2, 2))(np.ones((1, 4, 1), np.float32))
    with pytest.raises(ValueError, match="permutation"):
        layers.Permute((1, 3))
    with pytest.raises(ValueError, match="padding"):
        layers.ZeroPadding2D(padding=(1, 2, 3))
    with pytest.raises(ValueError, match="interpolation"):
        layers.UpSampling2D(interpolation="bicubic")
    with pytest.raises(ValueError, match="2 spatial axes"):
        layers.ZeroPadding2D()(np.ones((1, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(batch, features\)"):
        layers.RepeatVector(2)(np.ones((1, 3, 3), np.float32))


def test_sequential_model_with_new_layers(tmp_path):
    model = tg.Sequential(
        [
            layers.Input((6, 6, 1)),
            layers.ZeroPadding2D(1),
            layers.Conv2D(2, 3),
            layers.PReLU(shared_axes=[1, 2]),
            layers.UpSampling2D(interpolation="bilinear"),
            layers.Cropping2D(((1, 1), (2, 2))),
            layers.LeakyReLU(),
            layers.Flatten(),
            layers.RepeatVector(2),
            layers.Permute((2, 1)),
            layers.Softmax(axis=1),
        ]
    )
    x = np.random.default_rng(0).standard_normal((3, 6, 6, 1)).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, np.ones((3, 160, 2), np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = tg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
