"""keras.ops math, linalg, image and spatial names: values against NumPy/SciPy references
(and a few numbers recorded from Keras 3.15, JAX backend, where noted), gradients by
finite differences, Keras's dtypes, and errors naming the op."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg as scipy_linalg
from scipy import special

import tapegrad as tg
from tapegrad import ops
from tapegrad.graph import TracerValueError

RNG = np.random.default_rng(11)
# The first channel of the first image of the Keras comparison (5 x 6).
IMAGE = np.array(
    [
        [0.543625, 0.0027385, 0.72965544, 0.5414612, 0.02831967, 0.6471895],
        [0.9972099, 0.6504593, 0.1350965, 0.31024188, 0.9340435, 0.3218694],
        [0.391619, 0.6231871, 0.7870983, 0.05856803, 0.45033938, 0.0520213],
        [0.09075305, 0.67199486, 0.36511016, 0.92715454, 0.4998958, 0.9950965],
        [0.7577289, 0.7857857, 0.7111429, 0.7290151, 0.01470631, 0.9572102],
    ],
    np.float32,
).reshape(1, 5, 6, 1)


def test_segment_reductions() -> None:
    data = RNG.normal(size=(5, 2)).astype(np.float32)
    ids = np.array([0, 2, 2, 1, 0])
    expected_sum = np.stack([data[ids == s].sum(0) for s in range(4)])
    np.testing.assert_allclose(
        ops.segment_sum(data, ids, num_segments=4).numpy(), expected_sum, rtol=1e-6
    )
    np.testing.assert_allclose(ops.segment_sum(data, ids).numpy(), expected_sum[:3], rtol=1e-6)
    got_max = ops.segment_max(data, ids, num_segments=4).numpy()
    np.testing.assert_allclose(got_max[:3], [data[ids == s].max(0) for s in range(3)])
    assert (got_max[3] == -np.inf).all()  # an empty segment, as JAX
    np.testing.assert_allclose(
        ops.segment_min(data, ids).numpy(), [data[ids == s].min(0) for s in range(3)]
    )
    np.testing.assert_allclose(
        ops.segment_prod(data, ids).numpy(), [data[ids == s].prod(0) for s in range(3)], rtol=1e-6
    )
    x = tg.tensor(data.astype(np.float64))
    tg.check_grads(lambda d: ops.segment_sum(d, ids, num_segments=4), (x,), order=2)
    tg.check_grads(lambda d: ops.segment_max(d, ids), (x,), order=2)
    tg.check_grads(lambda d: ops.segment_prod(d, ids), (x,), order=2)
    traced = tg.function(lambda d, i: ops.segment_sum(d, i, num_segments=3))
    np.testing.assert_allclose(traced(x, tg.tensor(ids)).numpy(), expected_sum[:3], rtol=1e-6)
    with pytest.raises(ValueError, match=r"segment_sum: segment_ids must be in \[0, 2\)"):
        ops.segment_sum(data, ids, num_segments=2)
    with pytest.raises(TracerValueError, match="segment_sum without num_segments"):
        tg.function(lambda d, i: ops.segment_sum(d, i))(x, tg.tensor(ids))
    with pytest.raises(ValueError, match="segment_max: segment_ids must be 1-D"):
        ops.segment_max(data, ids[:3])


def test_top_k_and_in_top_k() -> None:
    m = np.array([[0.1, 0.9, 0.5, 0.9], [3.0, -1.0, 2.0, 0.0]], np.float32)
    values, indices = ops.top_k(m, 3)
    np.testing.assert_array_equal(values.numpy(), np.float32([[0.9, 0.9, 0.5], [3.0, 2.0, 0.0]]))
    np.testing.assert_array_equal(indices.numpy(), [[1, 3, 2], [0, 2, 3]])  # ties: lower first
    assert indices.dtype == np.int32
    x = tg.tensor(RNG.normal(size=(3, 5)))
    tg.check_grads(lambda t: ops.top_k(t, 2)[0], (x,), order=2)
    np.testing.assert_array_equal(ops.in_top_k(np.array([2, 1]), m, 2).numpy(), [False, False])
    np.testing.assert_array_equal(ops.in_top_k(np.array([3, 2]), m, 2).numpy(), [True, True])
    with pytest.raises(ValueError, match="top_k: k must be in"):
        ops.top_k(m, 5)


def test_math_extras() -> None:
    x = np.array([-2.5, -1.0, 0.0, 0.4, 3.0], np.float32)
    d = np.array([0.0, 1.0, 2.0, 0.0, 0.5], np.float32)
    np.testing.assert_array_equal(ops.divide_no_nan(x, d).numpy(), [0.0, -1.0, 0.0, 0.0, 6.0])
    tg.check_grads(
        lambda a, b: ops.divide_no_nan(a, b),
        (tg.tensor(x.astype(float)), tg.tensor(d.astype(float) + 0.3)),
        order=2,
    )
    frames = ops.extract_sequences(np.arange(10.0, dtype=np.float32).reshape(1, 10), 4, 3).numpy()
    np.testing.assert_array_equal(frames, [[[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]])
    spd = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
    assert float(ops.logdet(spd)) == pytest.approx(np.log(np.linalg.det(spd)))
    sign, logabs = ops.slogdet(-spd)
    assert (float(sign), float(logabs)) == pytest.approx(np.linalg.slogdet(-spd))
    grid = np.linspace(-4, 6, 11)
    np.testing.assert_allclose(ops.i0(tg.tensor(grid)).numpy(), special.i0(grid), rtol=3e-7)
    tg.check_grads(ops.i0, (tg.tensor([-4.2, 0.3, 2.0, 5.5]),), order=1, rtol=1e-4)
    assert float(ops.nextafter(tg.tensor(1.0), 2.0)) == np.nextafter(np.float32(1), np.float32(2))
    assert ops.view(np.array([1.0], np.float32), "int32").numpy()[0] == 1065353216
    np.testing.assert_array_equal(ops.bitwise_invert(np.array([0, 5])).numpy(), [-1, -6])


def test_windows_geomspace_vander_cdist() -> None:
    for op, reference in (
        (ops.bartlett, np.bartlett),
        (ops.blackman, np.blackman),
        (ops.hamming, np.hamming),
        (ops.hanning, np.hanning),
    ):
        out = op(7)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.numpy(), reference(7), atol=1e-7)
    np.testing.assert_allclose(ops.kaiser(6, 3.5).numpy(), np.kaiser(6, 3.5), rtol=1e-6)
    np.testing.assert_allclose(ops.geomspace(2, 200, 5).numpy(), np.geomspace(2, 200, 5), rtol=1e-6)
    assert ops.geomspace(1, 10, 3).dtype == np.float32
    x = np.array([1.5, -2.0, 0.0])
    np.testing.assert_allclose(ops.vander(x).numpy(), np.vander(x))
    np.testing.assert_allclose(
        ops.vander(x, 4, increasing=True).numpy(), np.vander(x, 4, increasing=True)
    )
    tg.check_grads(lambda t: ops.vander(t, 4), (tg.tensor(x),), order=2)
    a, b = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 5, 4))
    expected = np.sqrt(((a[:, :, None] - b[:, None]) ** 2).sum(-1))
    np.testing.assert_allclose(ops.cdist(a, b).numpy(), expected)
    tg.check_grads(ops.cdist, (tg.tensor(a), tg.tensor(b)), order=2)
    with pytest.raises(ValueError, match="cdist: the last dims"):
        ops.cdist(a, b[..., :2])
    with pytest.raises(ValueError, match="hanning: the window length"):
        ops.hanning(2.5)


def test_linalg() -> None:
    gen = np.array(
        [
            [-0.18888038, -0.2543, 0.67200714],
            [-0.5319434, -0.4385777, 0.5419388],
            [-0.23531485, 0.21645473, 0.6693357],
        ],
        np.float32,
    )
    lu, piv = ops.lu_factor(gen)
    # Keras 3.15 (JAX backend) numbers, and SciPy's.
    np.testing.assert_allclose(
        lu.numpy(),
        [
            [-0.531943, -0.438578, 0.541939],
            [0.442368, 0.410468, 0.429599],
            [0.355076, -0.240145, 0.582744],
        ],
        atol=2e-6,
    )
    np.testing.assert_array_equal(piv.numpy(), [1, 2, 2])
    scipy_lu, scipy_piv = scipy_linalg.lu_factor(gen.astype(np.float64))
    np.testing.assert_allclose(lu.numpy(), scipy_lu, atol=1e-6)
    np.testing.assert_array_equal(piv.numpy(), scipy_piv)
    assert piv.dtype == np.int32
    batch = RNG.normal(size=(2, 4, 4))
    lu_b, piv_b = ops.lu_factor(batch)
    for k in range(2):
        np.testing.assert_allclose(lu_b.numpy()[k], scipy_linalg.lu_factor(batch[k])[0], atol=1e-12)
        np.testing.assert_array_equal(piv_b.numpy()[k], scipy_linalg.lu_factor(batch[k])[1])

    b = RNG.normal(size=(3, 2))
    for lower in (True, False):
        expected = scipy_linalg.solve_triangular(gen.astype(float), b, lower=lower)
        np.testing.assert_allclose(
            ops.solve_triangular(gen.astype(float), b, lower=lower).numpy(), expected, rtol=1e-10
        )
    tg.check_grads(
        lambda a, y: ops.solve_triangular(a, y, lower=True),
        (tg.tensor(np.tril(gen.astype(float)) + 2 * np.eye(3)), tg.tensor(b)),
        order=2,
    )

    spd = gen.astype(float) @ gen.T.astype(float) + np.eye(3)
    low = np.linalg.cholesky(spd)
    np.testing.assert_allclose(ops.cholesky(spd).numpy(), low, rtol=1e-10)
    np.testing.assert_allclose(ops.cholesky(spd, upper=True).numpy(), low.T, rtol=1e-10)
    np.testing.assert_allclose(ops.cholesky_inverse(low).numpy(), np.linalg.inv(spd), rtol=1e-9)
    np.testing.assert_allclose(
        ops.cholesky_inverse(low.T, upper=True).numpy(), np.linalg.inv(spd), rtol=1e-9
    )
    tg.check_grads(ops.cholesky_inverse, (tg.tensor(low),), order=2)

    rect = RNG.normal(size=(5, 3))
    y = RNG.normal(size=5)
    np.testing.assert_allclose(
        ops.lstsq(rect, y).numpy(), np.linalg.lstsq(rect, y, rcond=None)[0], rtol=1e-10
    )
    rank = ops.matrix_rank(np.array([[1.0, 2.0], [2.0, 4.0]]))
    assert int(rank) == 1 and rank.dtype == np.int32
    assert (
        float(ops.norm(np.array([3, 4]))) == 5.0 and ops.norm(np.array([3, 4])).dtype == np.float32
    )
    q, r = ops.qr(rect)
    np.testing.assert_allclose((q @ r).numpy(), rect, atol=1e-12)
    u, s, vh = ops.svd(rect, full_matrices=False)
    np.testing.assert_allclose((u * s @ vh).numpy(), rect, atol=1e-12)
    w, v = ops.eigh(spd)
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(spd), rtol=1e-10)
    w, _ = ops.eig(np.diag([2.0, 3.0]))
    np.testing.assert_allclose(np.sort(w.numpy().real), [2.0, 3.0])
    np.testing.assert_allclose(ops.inv(spd).numpy(), np.linalg.inv(spd), rtol=1e-10)
    assert float(ops.det(spd)) == pytest.approx(np.linalg.det(spd))
    np.testing.assert_allclose(ops.solve(spd, y[:3]).numpy(), np.linalg.solve(spd, y[:3]))
    np.testing.assert_allclose(ops.pinv(rect).numpy(), np.linalg.pinv(rect), atol=1e-12)
    assert ops.linalg.solve_triangular is not None and ops.linalg.lu_factor is not None
    with pytest.raises(ValueError, match="inv: expected square matrices"):
        ops.inv(rect)
    with pytest.raises(ValueError, match="qr: mode"):
        ops.qr(rect, mode="r")
    with pytest.raises(TracerValueError, match="ops.lu_factor"):
        tg.function(ops.lu_factor)(tg.tensor(gen))


def _bilinear_reference(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Half-pixel-centre bilinear resize with clamped borders (jax.image.resize, no antialias)."""

    def axis_weights(n_in: int, n_out: int) -> np.ndarray:
        weights = np.zeros((n_out, n_in))
        for i in range(n_out):
            pos = np.clip((i + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
            lo = int(np.floor(pos))
            hi = min(lo + 1, n_in - 1)
            weights[i, lo] += 1 - (pos - lo)
            weights[i, hi] += pos - lo
        return weights

    wh, ww = axis_weights(image.shape[1], out_h), axis_weights(image.shape[2], out_w)
    return np.einsum("ih,nhwc,jw->nijc", wh, image, ww)


def test_resize() -> None:
    # Keras 3.15 (JAX backend) numbers for IMAGE resized to 3 x 4.
    np.testing.assert_allclose(
        ops.image.resize(IMAGE, (3, 4)).numpy()[0, :, :, 0],
        [
            [0.575776, 0.453263, 0.430848, 0.486619],
            [0.449511, 0.74612, 0.156511, 0.151601],
            [0.588516, 0.633813, 0.640405, 0.771488],
        ],
        atol=2e-6,
    )
    np.testing.assert_allclose(
        ops.image.resize(IMAGE, (3, 4), interpolation="nearest").numpy()[0, :, :, 0],
        [
            [0.543625, 0.729655, 0.541461, 0.64719],
            [0.391619, 0.787098, 0.058568, 0.052021],
            [0.757729, 0.711143, 0.729015, 0.95721],
        ],
        atol=2e-6,
    )
    images = RNG.uniform(size=(2, 5, 6, 3))
    for size in ((8, 9), (3, 4), (5, 2)):
        np.testing.assert_allclose(
            ops.image.resize(images, size).numpy(), _bilinear_reference(images, *size), rtol=1e-12
        )
    first = ops.image.resize(
        images.transpose(0, 3, 1, 2), (8, 9), data_format="channels_first"
    ).numpy()
    np.testing.assert_allclose(
        first.transpose(0, 2, 3, 1), _bilinear_reference(images, 8, 9), rtol=1e-12
    )
    single = ops.image.resize(images[0], (4, 4), crop_to_aspect_ratio=True).numpy()
    np.testing.assert_allclose(single, _bilinear_reference(images[:1, :, :5], 4, 4)[0], rtol=1e-12)
    padded = ops.image.resize(images, (4, 8), pad_to_aspect_ratio=True).numpy()
    np.testing.assert_allclose(
        padded,
        _bilinear_reference(np.pad(images, ((0, 0), (0, 0), (2, 2), (0, 0))), 4, 8),
        rtol=1e-12,
    )
    tg.check_grads(lambda t: ops.image.resize(t, (4, 7)), (tg.tensor(images[:1]),), order=2)
    assert ops.image.resize(np.ones((4, 4, 1), np.uint8), (2, 2)).dtype == np.float32
    with pytest.raises(ValueError, match="resize: interpolation .area."):
        ops.image.resize(images, (2, 2), interpolation="area")
    with pytest.raises(ValueError, match="resize: expected an image"):
        ops.image.resize(images[0, 0], (2, 2))


def test_crop_pad_grayscale_patches() -> None:
    images = RNG.uniform(size=(2, 5, 6, 3)).astype(np.float32)
    cropped = ops.image.crop_images(
        images, top_cropping=1, bottom_cropping=1, left_cropping=2, target_width=3
    )
    np.testing.assert_array_equal(cropped.numpy(), images[:, 1:4, 2:5])
    padded = ops.image.pad_images(
        images, top_padding=1, bottom_padding=2, left_padding=0, target_width=8
    )
    np.testing.assert_array_equal(padded.numpy(), np.pad(images, ((0, 0), (1, 2), (0, 2), (0, 0))))
    with pytest.raises(ValueError, match="crop_images: give exactly two"):
        ops.image.crop_images(images, 1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="pad_images: the target size is smaller"):
        ops.image.pad_images(images, 0, 0, target_height=3, target_width=6)
    gray = ops.image.rgb_to_grayscale(images)
    assert gray.shape == (2, 5, 6, 1) and gray.dtype == np.float32
    np.testing.assert_allclose(
        gray.numpy()[..., 0], images @ np.array([0.2989, 0.5870, 0.1140]), rtol=1e-6
    )
    chw = ops.image.rgb_to_grayscale(images[0].transpose(2, 0, 1), data_format="channels_first")
    np.testing.assert_allclose(chw.numpy()[0], gray.numpy()[0, ..., 0], rtol=1e-6)
    patches = ops.image.extract_patches(images, (2, 3)).numpy()
    assert patches.shape == (2, 2, 2, 18)
    np.testing.assert_array_equal(patches[1, 1, 0], images[1, 2:4, 0:3].reshape(-1))
    same = ops.image.extract_patches(images[0], 2, strides=1, padding="same").numpy()
    assert same.shape == (5, 6, 12)
    np.testing.assert_array_equal(
        same[4, 5], np.pad(images[0], ((0, 1), (0, 1), (0, 0)))[4:6, 5:7].reshape(-1)
    )


def test_depth_space_unfold_fold_adaptive() -> None:
    x = RNG.normal(size=(2, 4, 6, 8)).astype(np.float32)
    d2s = ops.depth_to_space(x, 2).numpy()
    reference = x.reshape(2, 4, 6, 2, 2, 2).transpose(0, 1, 3, 2, 4, 5).reshape(2, 8, 12, 2)
    np.testing.assert_array_equal(d2s, reference)
    np.testing.assert_array_equal(ops.space_to_depth(d2s, 2).numpy(), x)
    first = ops.depth_to_space(x, 2, data_format="channels_first")
    np.testing.assert_array_equal(
        ops.space_to_depth(first, 2, data_format="channels_first").numpy(), x
    )
    with pytest.raises(ValueError, match="depth_to_space: channels"):
        ops.depth_to_space(x, 3)

    cols = ops.unfold(x, (2, 3), padding=1, stride=2).numpy()
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    blocks = [
        xp[:, :, i : i + 2, j : j + 3].reshape(2, -1)
        for i in range(0, 7, 2)
        for j in range(0, 8, 2)
    ]
    np.testing.assert_array_equal(cols, np.stack(blocks, axis=-1))
    back = ops.fold(cols, (6, 8), (2, 3), padding=1, stride=2).numpy()
    counts = ops.fold(
        ops.unfold(np.ones_like(x), (2, 3), padding=1, stride=2),
        (6, 8),
        (2, 3),
        padding=1,
        stride=2,
    ).numpy()
    np.testing.assert_allclose(back, x * counts, rtol=1e-6)
    xt = tg.tensor(x[:1, :1].astype(np.float64))
    tg.check_grads(lambda t: ops.unfold(t, 2, dilation=2), (xt,), order=2)
    with pytest.raises(ValueError, match="fold: x has"):
        ops.fold(cols, (5, 8), (2, 3), padding=1, stride=2)

    images = RNG.uniform(size=(2, 5, 6, 3))
    avg = ops.adaptive_average_pool(images, (3, 4)).numpy()
    rows = [(0, 2), (1, 4), (3, 5)]
    columns = [(0, 2), (1, 3), (3, 5), (4, 6)]
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(columns):
            np.testing.assert_allclose(avg[:, i, j], images[:, r0:r1, c0:c1].mean((1, 2)))
    biggest = ops.adaptive_max_pool(
        images.transpose(0, 3, 1, 2), (3, 4), data_format="channels_first"
    ).numpy()
    np.testing.assert_allclose(biggest[:, :, 1, 2], images[:, 1:4, 3:5].max((1, 2)))
    tg.check_grads(lambda t: ops.adaptive_average_pool(t, 2), (tg.tensor(images[:1, 0]),), order=2)


# Keras 3.15 (JAX backend: jax.image.resize) numbers for one row of 8 pixels resized to 5.
SIGNAL = np.array([0.0, 1.0, 4.0, 2.0, -1.0, 3.0, 5.0, 0.5], np.float32).reshape(1, 8, 1)
KERAS_DOWN = {
    ("bicubic", False): [0.152306, 3.893499, 0.125, 3.310248, 1.640194],
    ("bicubic", True): [0.311721, 3.130899, 0.476486, 2.972782, 2.41877],
    ("lanczos3", False): [0.021433, 3.869071, -0.192935, 3.514419, 1.662627],
    ("lanczos3", True): [0.194642, 3.339604, 0.319651, 3.006027, 2.574944],
    ("lanczos5", False): [0.002533, 3.862103, -0.182333, 3.585324, 1.55797],
    ("lanczos5", True): [0.022733, 3.538024, 0.184458, 3.00768, 2.70158],
    ("bilinear", True): [0.409091, 2.851852, 0.75, 2.777778, 2.340908],
}


@pytest.mark.parametrize(("interpolation", "antialias"), sorted(KERAS_DOWN))
def test_resize_kernels_match_keras(interpolation: str, antialias: bool) -> None:
    out = ops.image.resize(SIGNAL, (1, 5), interpolation=interpolation, antialias=antialias)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy().ravel(), KERAS_DOWN[interpolation, antialias], atol=2e-6)
    # Upsampling: antialias changes nothing (the kernel is stretched only when downsampling).
    up = ops.image.resize(SIGNAL, (1, 11), interpolation=interpolation, antialias=antialias)
    same = ops.image.resize(SIGNAL, (1, 11), interpolation=interpolation, antialias=not antialias)
    np.testing.assert_allclose(up.numpy(), same.numpy(), atol=1e-6)
    tg.check_grads(
        lambda t: ops.image.resize(t, (3, 5), interpolation=interpolation, antialias=antialias),
        (tg.tensor(RNG.uniform(size=(4, 8, 1))),),
        order=1,
    )


def test_scale_and_translate() -> None:
    out = ops.image.scale_and_translate(SIGNAL, (1, 6, 1), [0.7], [0.4], (1,), "cubic")
    # Keras 3.15 (JAX backend) numbers.
    np.testing.assert_allclose(
        out.numpy().ravel(), [-0.151004, 1.510276, 3.14443, -0.166603, 3.918706, 1.99268], atol=2e-6
    )
    # Without antialiasing, "linear" at scale out/in and no shift is bilinear resizing.
    images = RNG.uniform(size=(2, 5, 6, 3))
    linear = ops.image.scale_and_translate(
        images, (2, 8, 4, 3), [8 / 5, 4 / 6], [0.0, 0.0], (1, 2), "linear", antialias=False
    )
    np.testing.assert_allclose(linear.numpy(), ops.image.resize(images, (8, 4)).numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="scale_and_translate: method must be one of"):
        ops.image.scale_and_translate(
            images, (2, 8, 4, 3), [1.0, 1.0], [0.0, 0.0], (1, 2), "nearest"
        )
    with pytest.raises(ValueError, match="scale_and_translate: axis 3 is not spatial"):
        ops.image.scale_and_translate(images, (2, 8, 4, 1), [1.0, 1.0], [0.0, 0.0], (1, 2), "cubic")
