"""Keras 3 initializer names added to `tapegrad.initializers`: the snake_case class aliases,
`IdentityInitializer`, `OrthogonalInitializer` and `STFT` (kernels against Keras 3.15's)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import initializers as I

ALIASES = {
    "constant": I.Constant,
    "zeros": I.Zeros,
    "ones": I.Ones,
    "identity": I.Identity,
    "orthogonal": I.Orthogonal,
    "random_normal": I.RandomNormal,
    "random_uniform": I.RandomUniform,
    "truncated_normal": I.TruncatedNormal,
    "variance_scaling": I.VarianceScaling,
    "glorot_normal": I.GlorotNormal,
    "glorot_uniform": I.GlorotUniform,
    "he_normal": I.HeNormal,
    "he_uniform": I.HeUniform,
    "lecun_normal": I.LecunNormal,
    "lecun_uniform": I.LecunUniform,
    "stft": I.STFT,
    "IdentityInitializer": I.Identity,
    "OrthogonalInitializer": I.Orthogonal,
    "STFTInitializer": I.STFT,
}


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_aliases_are_the_classes_and_names_resolve(name: str) -> None:
    cls = ALIASES[name]
    assert getattr(I, name) is cls
    assert type(I.get(name)) is cls


def test_aliases_are_called_like_keras() -> None:
    a = I.glorot_uniform(seed=3)((4, 5))
    b = I.GlorotUniform(seed=3)((4, 5))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(I.constant(2.0)((2,)), [2.0, 2.0])
    np.testing.assert_array_equal(I.identity()((2, 2)), np.eye(2))
    q = I.orthogonal(seed=1)((4, 4))
    np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-5)


# Keras 3.15: keras.initializers.STFT(*args)((6, 1, 5))[:, 0, :], rounded to 6 digits.
KERAS_STFT = {
    ("imag", "hamming", "spectrum", True): [
        [-0.0, -0.0, -0.0, -0.0, -0.0],
        [-0.0, -0.067655, -0.095679, -0.067655, 0.0],
        [-0.0, -0.237654, 0.0, 0.237654, -0.0],
        [-0.0, -0.218243, 0.308642, -0.218243, 0.0],
        [-0.0, 0.0, -0.0, 0.0, -0.0],
        [-0.0, 0.067655, -0.095679, 0.067655, 0.0],
    ],
    ("real", "hann", "density", False): [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [0.252311, 0.178411, -0.0, -0.178411, -0.252311],
        [0.66056, -0.0, -0.66056, 0.0, 0.66056],
        [0.66056, -0.467086, 0.0, 0.467086, -0.66056],
        [0.252311, -0.252311, 0.252311, -0.252311, 0.252311],
        [0.0, -0.0, -0.0, 0.0, -0.0],
    ],
}


@pytest.mark.parametrize("args", sorted(KERAS_STFT))
def test_stft_kernel_matches_keras(args: tuple) -> None:
    kernel = I.STFT(*args)((6, 1, 5))
    assert kernel.shape == (6, 1, 5) and kernel.dtype == np.float32
    np.testing.assert_allclose(kernel[:, 0, :], KERAS_STFT[args], atol=2e-6)


def test_stft_plain_fourier_basis_and_array_window() -> None:
    real = I.STFT("real", None, None)((8, 1, 5))[:, 0, :]
    imag = I.STFT("imag", None, None)((8, 1, 5))[:, 0, :]
    # Frame @ (real + i imag) is NumPy's rfft of the frame.
    frame = np.random.default_rng(0).normal(size=8)
    np.testing.assert_allclose(frame @ real + 1j * (frame @ imag), np.fft.rfft(frame), atol=1e-5)
    window = np.linspace(0.5, 1.0, 8)
    windowed = I.STFT("real", window, None)((8, 1, 5))[:, 0, :]
    np.testing.assert_allclose(windowed, real * window[:, None], atol=1e-6)


def test_stft_config_round_trip_and_errors() -> None:
    init = I.STFT("imag", "blackman", "spectrum", True)
    config = json.loads(json.dumps(I.serialize(init)))
    back = I.deserialize(config)
    assert isinstance(back, I.STFT) and back.get_config() == init.get_config()
    with pytest.raises(ValueError, match="side"):
        I.STFT(side="both")
    with pytest.raises(ValueError, match="unknown window 'kaiser'"):
        I.STFT(window="kaiser")
    with pytest.raises(ValueError, match="scaling"):
        I.STFT(scaling="l2")
    with pytest.raises(ValueError, match="frame_length"):
        I.STFT(window=np.ones(3))((4, 1, 3))


def test_alias_in_a_layer_round_trips() -> None:
    layer = tg.layers.Dense(2, kernel_initializer=I.he_normal(seed=2))
    config = json.loads(json.dumps(layer.get_config()))
    assert config["kernel_initializer"]["class_name"] == "HeNormal"
    assert isinstance(tg.layers.Dense.from_config(config).kernel_initializer, I.HeNormal)


def test_fans_from_input_and_output_axes_like_keras() -> None:
    assert I.compute_fans((4, 2, 8), input_axes=[0], output_axes=[1, 2]) == (4, 16)
    init = I.VarianceScaling(2.0, "fan_in", "uniform", seed=0, input_axes=[0], output_axes=[1, 2])
    values = init((4, 2, 8))
    limit = (3 * 2.0 / 4) ** 0.5  # fan_in 4, not the rank-3 guess 4 * 2 = 8
    assert np.abs(values).max() <= limit and np.abs(values).max() > (3 * 2.0 / 8) ** 0.5
    glorot = I.GlorotUniform(seed=1, input_axes=[0], output_axes=[1])
    # Keras 3.15: GlorotUniform(seed=1).get_config() has the axes too.
    assert glorot.get_config() == {"seed": 1, "input_axes": [0], "output_axes": [1]}
    back = I.deserialize(json.loads(json.dumps(I.serialize(glorot))))
    np.testing.assert_array_equal(back((3, 5)), glorot((3, 5)))
    with pytest.raises(ValueError, match="input_axes"):
        I.HeNormal(input_axes="a")
    with pytest.raises(ValueError, match="must be lists of axes"):
        I.LecunNormal(input_axes=[5], output_axes=[0])((2, 2))
