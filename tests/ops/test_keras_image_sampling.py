"""keras.ops.image resampling and colour ops against SciPy / colorsys references.

``map_coordinates`` follows ``jax.scipy.ndimage.map_coordinates`` (Keras's JAX backend),
whose modes are SciPy's with ``constant`` and ``wrap`` meaning SciPy's ``grid-constant``
and ``grid-wrap``; ``affine_transform`` maps output pixel (x, y) to input
(a0 x + a1 y + a2, b0 x + b1 y + b2). These were also checked against Keras 3.15 (JAX
backend) in the side venv for every fill mode and both interpolations.
"""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
from scipy import ndimage

import tapegrad as tg
from tapegrad import ops

RNG = np.random.default_rng(21)
SCIPY_MODE = {
    "constant": "grid-constant",
    "nearest": "nearest",
    "wrap": "grid-wrap",
    "mirror": "mirror",
    "reflect": "reflect",
}


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", sorted(SCIPY_MODE))
def test_map_coordinates_matches_scipy(order: int, mode: str) -> None:
    values = RNG.normal(size=(4, 5))
    coords = np.stack([RNG.uniform(-3, 7, size=(3, 6)), RNG.uniform(-3, 8, size=(3, 6))])
    got = ops.image.map_coordinates(values, coords, order, fill_mode=mode, fill_value=-1.5)
    expected = ndimage.map_coordinates(
        values, coords, order=order, mode=SCIPY_MODE[mode], cval=-1.5
    )
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_map_coordinates_gradients_dtypes_and_errors() -> None:
    values = tg.tensor(RNG.normal(size=(4, 5)))
    coords = tg.tensor(np.stack([RNG.uniform(0.2, 2.8, size=5), RNG.uniform(0.2, 3.8, size=5)]))
    tg.check_grads(
        lambda v, c: ops.image.map_coordinates(v, c, 1, fill_mode="reflect"),
        (values, coords),
        order=1,
    )
    ints = ops.image.map_coordinates(np.array([0, 10, 20]), [[0.4, 1.5]], 1)
    np.testing.assert_array_equal(ints.numpy(), [4, 15])  # rounded back to int, as JAX
    assert ops.image.map_coordinates(np.ones(3, np.float32), [[0.5]], 1).dtype == np.float32
    traced = tg.function(lambda v, c: ops.image.map_coordinates(v, c, 1))
    np.testing.assert_allclose(
        traced(values, coords).numpy(), ops.image.map_coordinates(values, coords, 1).numpy()
    )
    with pytest.raises(ValueError, match="map_coordinates: order must be 0 or 1"):
        ops.image.map_coordinates(values, coords, 3)
    with pytest.raises(ValueError, match="map_coordinates: coordinates must have shape"):
        ops.image.map_coordinates(values, coords[:1], 1)


def _affine_reference(images, transforms, order, mode, cval):
    n, h, w, c = images.shape
    y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    out = np.empty_like(images)
    for i in range(n):
        a0, a1, a2, b0, b1, b2, c0, c1 = transforms[i]
        rows = b0 * x + b1 * y + b2 + c0 * ch
        cols = a0 * x + a1 * y + a2 + c1 * ch
        out[i] = ndimage.map_coordinates(
            images[i], [rows, cols, ch], order=order, mode=SCIPY_MODE[mode], cval=cval
        )
    return out


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("mode", sorted(SCIPY_MODE))
def test_affine_transform(interpolation: str, mode: str) -> None:
    images = RNG.uniform(size=(2, 5, 6, 3))
    angle = 0.3
    rotation = [np.cos(angle), -np.sin(angle), 1.5, np.sin(angle), np.cos(angle), -0.7, 0, 0]
    zoom = [1.3, 0.1, -0.37, 0.05, 0.8, 0.6, 0, 0]
    transforms = np.array([rotation, zoom])
    got = ops.image.affine_transform(
        images, transforms, interpolation=interpolation, fill_mode=mode, fill_value=0.25
    )
    order = 1 if interpolation == "bilinear" else 0
    expected = _affine_reference(images, transforms, order, mode, 0.25)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_affine_transform_layouts_and_gradients() -> None:
    images = RNG.uniform(size=(2, 5, 6, 3))
    shift = np.array([1.0, 0.0, 0.5, 0.0, 1.0, -0.25, 0.0, 0.0])
    single = ops.image.affine_transform(images[0], shift).numpy()
    np.testing.assert_allclose(
        single, _affine_reference(images[:1], [shift], 1, "constant", 0)[0], rtol=1e-12
    )
    first = ops.image.affine_transform(
        images.transpose(0, 3, 1, 2), shift, data_format="channels_first"
    )
    np.testing.assert_allclose(
        first.numpy().transpose(0, 2, 3, 1),
        _affine_reference(images, [shift, shift], 1, "constant", 0),
        rtol=1e-12,
    )
    assert ops.image.affine_transform(images.astype(np.float32), shift).dtype == np.float32
    tg.check_grads(
        lambda im, t: ops.image.affine_transform(im, t, fill_mode="nearest"),
        (
            tg.tensor(images[:1, :3, :4]),
            tg.tensor(np.array([0.9, 0.2, 0.31, -0.1, 1.1, 0.47, 0.0, 0.0])),
        ),
        order=1,
    )
    with pytest.raises(ValueError, match="affine_transform: interpolation"):
        ops.image.affine_transform(images, shift, interpolation="bicubic")
    with pytest.raises(ValueError, match="affine_transform: 3 transforms for 2 images"):
        ops.image.affine_transform(images, np.stack([shift] * 3))


def test_hsv_round_trip_and_colorsys() -> None:
    images = RNG.uniform(size=(2, 3, 4, 3)).astype(np.float32)
    hsv = ops.image.rgb_to_hsv(images).numpy()
    expected = np.array([colorsys.rgb_to_hsv(*pixel) for pixel in images.reshape(-1, 3)])
    np.testing.assert_allclose(hsv.reshape(-1, 3), expected, atol=2e-6)
    np.testing.assert_allclose(ops.image.hsv_to_rgb(hsv).numpy(), images, atol=2e-6)
    first = ops.image.rgb_to_hsv(images.transpose(0, 3, 1, 2), data_format="channels_first").numpy()
    np.testing.assert_allclose(first.transpose(0, 2, 3, 1), hsv, atol=1e-7)
    tg.check_grads(
        ops.image.hsv_to_rgb, (tg.tensor(RNG.uniform(0.05, 0.95, size=(2, 2, 3))),), order=2
    )
    with pytest.raises(ValueError, match="rgb_to_hsv: images must be floats"):
        ops.image.rgb_to_hsv(np.ones((2, 2, 3), np.uint8))


def test_gaussian_blur_and_sobel_edges() -> None:
    images = RNG.uniform(size=(2, 5, 6, 3))

    def gaussian(n: int, s: float) -> np.ndarray:
        x = np.arange(n) - (n - 1) / 2
        k = np.exp(-0.5 * (x / s) ** 2)
        return k / k.sum()

    # kernel_size[1] and sigma[1] along the height, [0] along the width (Keras's kernel).
    kernel = np.outer(gaussian(5, 2.0), gaussian(3, 1.0))
    expected = ndimage.correlate(images, kernel[None, :, :, None], mode="constant")
    got = ops.image.gaussian_blur(images, kernel_size=(3, 5), sigma=(1.0, 2.0)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    sigma = tg.tensor([0.8, 1.3])
    tg.check_grads(lambda s: ops.image.gaussian_blur(images[0], sigma=s), (sigma,), order=1)
    edges = ops.image.sobel_edges(images).numpy()
    assert edges.shape == (2, 5, 6, 3, 2)
    sobel_y = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    np.testing.assert_allclose(
        edges[..., 0],
        ndimage.correlate(images, sobel_y[None, :, :, None], mode="constant"),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        edges[..., 1],
        ndimage.correlate(images, sobel_y.T[None, :, :, None], mode="constant"),
        rtol=1e-12,
    )
