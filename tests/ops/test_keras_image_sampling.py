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


def _homography(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    rows = []
    rhs = []
    for (sx, _), (ex, ey) in zip(start, end, strict=True):
        rows.append([ex, ey, 1, 0, 0, 0, -sx * ex, -sx * ey])
        rhs.append(sx)
    for (_, sy), (ex, ey) in zip(start, end, strict=True):
        rows.append([0, 0, 0, ex, ey, 1, -sy * ex, -sy * ey])
        rhs.append(sy)
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float))


def test_perspective_transform() -> None:
    images = RNG.uniform(size=(2, 7, 8, 2))
    start = np.array([[[0, 0], [7, 0], [0, 6], [7, 6]], [[1, 1], [6, 0], [0, 5], [7, 6]]], float)
    end = np.array(
        [[[0.5, 0.2], [6.5, 0], [0.3, 6], [7, 5.5]], [[0, 0], [7, 0.4], [0.6, 6], [6.8, 6]]], float
    )
    got = ops.image.perspective_transform(images, start, end).numpy()
    y, x, ch = np.meshgrid(np.arange(7), np.arange(8), np.arange(2), indexing="ij")
    for i in range(2):
        t = _homography(start[i].astype(np.float32), end[i].astype(np.float32))
        denominator = t[6] * x + t[7] * y + 1
        cols = (t[0] * x + t[1] * y + t[2]) / denominator
        rows = (t[3] * x + t[4] * y + t[5]) / denominator
        expected = ndimage.map_coordinates(
            images[i], [rows, cols, ch], order=1, mode="grid-constant"
        )
        np.testing.assert_allclose(got[i], expected, atol=1e-5)  # the homography is float32
    same = ops.image.perspective_transform(images[0], start[0], start[0]).numpy()
    np.testing.assert_allclose(same, images[0], atol=1e-6)
    tg.check_grads(
        lambda im: ops.image.perspective_transform(im, start[0], end[0]),
        (tg.tensor(images[:1]),),
        order=1,
    )
    # The points' gradient, against a central difference of a scalar loss (the homography
    # is solved in float32, as Keras, so the step is large and the tolerance loose).
    weights = RNG.normal(size=(1, 7, 8, 2))

    def loss(e):
        return (ops.image.perspective_transform(images[:1], start[0], e) * weights).sum()

    direction = RNG.normal(size=(4, 2))
    analytic = float((tg.grad(loss)(tg.tensor(end[0])) * direction).sum())
    step = 1e-3
    numeric = (float(loss(end[0] + step * direction)) - float(loss(end[0] - step * direction))) / (
        2 * step
    )
    assert analytic == pytest.approx(numeric, rel=2e-2)
    with pytest.raises(ValueError, match="perspective_transform: start_points must have shape"):
        ops.image.perspective_transform(images, start[:, :3], end[:, :3])


def test_ssim_and_3d_patches() -> None:
    a = RNG.uniform(size=(2, 14, 13, 3))
    b = np.clip(a + RNG.normal(scale=0.1, size=a.shape), 0, 1)
    offsets = np.arange(11) - 5
    g = np.exp(-(offsets**2) / (2 * 1.5**2))
    kernel = np.outer(g, g) / g.sum() ** 2

    def local(t: np.ndarray) -> np.ndarray:
        full = ndimage.correlate(t, kernel[None, :, :, None], mode="constant")
        return full[:, 5:-5, 5:-5]

    mu1, mu2 = local(a), local(b)
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * (local(a * b) - mu1 * mu2) + c2)) / (
        (mu1**2 + mu2**2 + c1) * (local(a * a) - mu1**2 + local(b * b) - mu2**2 + c2)
    )
    np.testing.assert_allclose(ops.image.ssim(a, b).numpy(), ssim_map.mean((1, 2, 3)), rtol=1e-10)
    assert float(ops.image.ssim(a[0], a[0])) == pytest.approx(1.0)
    tg.check_grads(
        lambda t: ops.image.ssim(t, b[0, :6, :6], filter_size=3),
        (tg.tensor(a[0, :6, :6]),),
        order=1,
    )
    volumes = RNG.uniform(size=(2, 4, 6, 5, 2))
    patches = ops.image.extract_patches_3d(volumes, (2, 3, 2)).numpy()
    assert patches.shape == (2, 2, 2, 2, 24)
    np.testing.assert_array_equal(patches[1, 1, 0, 1], volumes[1, 2:4, 0:3, 2:4].reshape(-1))
    np.testing.assert_array_equal(ops.image.extract_patches(volumes, (2, 3, 2)).numpy(), patches)


def test_elastic_transform() -> None:
    images = RNG.uniform(size=(2, 8, 9, 3)).astype(np.float32)
    first = ops.image.elastic_transform(images, alpha=5.0, sigma=2.0, seed=3)
    again = ops.image.elastic_transform(images, alpha=5.0, sigma=2.0, seed=3)
    assert first.shape == images.shape and first.dtype == np.float32
    np.testing.assert_array_equal(first.numpy(), again.numpy())  # a seed fixes the field
    assert np.abs(first.numpy() - images).max() > 0.01
    still = ops.image.elastic_transform(images, alpha=0.0, sigma=2.0, seed=3)
    np.testing.assert_allclose(still.numpy(), images, atol=1e-6)  # no displacement
    flat = ops.image.elastic_transform(np.full((5, 5, 2), 0.7), seed=1, fill_mode="nearest")
    np.testing.assert_allclose(flat.numpy(), 0.7)
    # Inside tapegrad.function the field is drawn anew on every run (never frozen).
    warp = tg.function(lambda t: ops.image.elastic_transform(t, sigma=1.0))
    assert np.abs(warp(images).numpy() - warp(images).numpy()).max() > 0
    with pytest.raises(ValueError, match="elastic_transform: fill_mode"):
        ops.image.elastic_transform(images, fill_mode="edge")
