"""Convolution and pooling: values against naive NumPy loops, derivatives of every rule of the
family checked by finite differences (order 2, forward and reverse), max-pool ties."""

import itertools
import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.core import prims as P

RNG = np.random.default_rng(11)


# -- naive references (loops over output positions) --------------------------------------
def same_pads(spatial, window, strides, dilation):
    """TF/Keras "same": total padding so that out = ceil(n / s), the odd one at the end."""
    pads = []
    for n, k, s, d in zip(spatial, window, strides, dilation, strict=True):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def naive_conv(x, k, strides, pads, dilation, groups=1):
    nd = x.ndim - 2
    xp = np.pad(x, ((0, 0), *pads, (0, 0)))
    window, c_group, c_out = k.shape[:nd], k.shape[-2], k.shape[-1]
    out_group = c_out // groups
    out = [
        (xp.shape[1 + i] - dilation[i] * (window[i] - 1) - 1) // strides[i] + 1 for i in range(nd)
    ]
    y = np.zeros((x.shape[0], *out, c_out), np.result_type(x, k))
    for o in np.ndindex(*out):
        for w in np.ndindex(*window):
            pos = tuple(o[i] * strides[i] + w[i] * dilation[i] for i in range(nd))
            v = xp[(slice(None), *pos)]
            for g in range(groups):
                cin = slice(g * c_group, (g + 1) * c_group)
                cout = slice(g * out_group, (g + 1) * out_group)
                y[(slice(None), *o, cout)] += v[:, cin] @ k[w][:, cout]
    return y


def naive_pool(x, window, strides, pads, kind):
    nd = x.ndim - 2
    fill = -np.inf if kind == "max" else np.nan
    xp = np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=fill)
    out = [(xp.shape[1 + i] - window[i]) // strides[i] + 1 for i in range(nd)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]), x.dtype)
    for o in np.ndindex(*out):
        box = (
            slice(None),
            *(slice(o[i] * strides[i], o[i] * strides[i] + window[i]) for i in range(nd)),
        )
        patch = xp[box].reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None), *o)] = patch.max(1) if kind == "max" else np.nanmean(patch, 1)
    return y


def naive_conv_transpose(x, k, strides, left_right, dilation):
    """Keras' transposed convolution: scatter ``x @ k.T`` over a full output, then crop or
    pad it by the padding of the stride-dilated input (``left_right``)."""
    nd = x.ndim - 2
    window = k.shape[:nd]
    span = [(window[i] - 1) * dilation[i] + 1 for i in range(nd)]
    full = np.zeros(
        (x.shape[0], *((x.shape[1 + i] - 1) * strides[i] + span[i] for i in range(nd)), k.shape[-2])
    )
    for i in np.ndindex(*x.shape[1:-1]):
        for w in np.ndindex(*window):
            pos = tuple(i[d] * strides[d] + w[d] * dilation[d] for d in range(nd))
            full[(slice(None), *pos)] += x[(slice(None), *i)] @ k[w].T
    # The full output corresponds to padding (span - 1) on both sides: adjust to left/right.
    adjust = [(lo - (s - 1), hi - (s - 1)) for (lo, hi), s in zip(left_right, span, strict=True)]
    crop = tuple(
        slice(max(-lo, 0), full.shape[1 + d] - max(-hi, 0)) for d, (lo, hi) in enumerate(adjust)
    )
    return np.pad(
        full[(slice(None), *crop)],
        ((0, 0), *((max(lo, 0), max(hi, 0)) for lo, hi in adjust), (0, 0)),
    )


# -- forward values ----------------------------------------------------------------------
CONV_CASES = [
    # spatial, window, strides, dilation, C_in, C_out
    ((9,), (3,), (1,), (1,), 2, 3),
    ((10,), (4,), (3,), (2,), 3, 2),
    ((6, 7), (3, 3), (1, 1), (1, 1), 3, 4),
    ((7, 6), (3, 2), (2, 3), (1, 1), 2, 3),
    ((8, 9), (3, 3), (2, 1), (2, 2), 2, 2),
    ((5, 5), (1, 1), (2, 2), (1, 1), 3, 2),
    ((6, 5), (2, 3), (1, 2), (1, 1), 6, 3),  # more channels: im2col in row-major order
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_matches_naive(case, padding, dtype):
    spatial, window, strides, dilation, c_in, c_out = case
    x = RNG.standard_normal((2, *spatial, c_in)).astype(dtype)
    k = RNG.standard_normal((*window, c_in, c_out)).astype(dtype)
    pads = same_pads(spatial, window, strides, dilation) if padding == "same" else [(0, 0)] * 2
    expected = naive_conv(
        x.astype(np.float64), k.astype(np.float64), strides, pads[: len(spatial)], dilation
    )
    y = ops.conv(x, k, strides, padding, dilation_rate=dilation)
    assert y.dtype == dtype
    if padding == "same":
        expected_out = tuple(math.ceil(n / s) for n, s in zip(spatial, strides, strict=True))
        assert y.shape[1:-1] == expected_out
    np.testing.assert_allclose(
        y,
        expected,
        rtol=1e-5 if dtype == np.float32 else 1e-12,
        atol=1e-5 if dtype == np.float32 else 1e-12,
    )
    # channels_first: the same numbers, channels moved (the kernel layout is unchanged).
    first = ops.conv(np.moveaxis(x, -1, 1), k, strides, padding, "channels_first", dilation)
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), y, rtol=1e-6, atol=1e-6)


def test_same_padding_puts_the_odd_element_at_the_end():
    x = RNG.standard_normal((1, 6, 6, 1))
    k = RNG.standard_normal((3, 3, 1, 1))
    # n=6, k=3, s=2: out 3, total padding (3-1)*2+3-6 = 1, all of it at the end.
    np.testing.assert_allclose(
        ops.conv(x, k, 2, "same"),
        P.conv_p(x, k, strides=(2, 2), padding=((0, 1), (0, 1))),
        rtol=1e-12,
    )
    # n=5, k=4, s=1: total 3 -> (1, 2).
    x5 = RNG.standard_normal((1, 5, 1))
    k4 = RNG.standard_normal((4, 1, 1))
    np.testing.assert_allclose(
        ops.conv(x5, k4, 1, "same"), naive_conv(x5, k4, (1,), [(1, 2)], (1,)), rtol=1e-12
    )


def test_conv_3d_groups_depthwise_and_tensors():
    x = RNG.standard_normal((2, 4, 5, 3, 4))
    k = RNG.standard_normal((2, 3, 2, 2, 6))  # groups = 4 // 2
    expected = naive_conv(x, k, (1, 2, 1), [(1, 0), (0, 1), (1, 1)], (1, 1, 2), groups=2)
    got = P.conv_p(
        x, k, strides=(1, 2, 1), padding=((1, 0), (0, 1), (1, 1)), dilation=(1, 1, 2), groups=2
    )
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(
        ops.conv(x, k, (1, 2, 1), dilation_rate=(1, 1, 2)),
        naive_conv(x, k, (1, 2, 1), [(0, 0)] * 3, (1, 1, 2), groups=2),
        rtol=1e-12,
    )
    # Depthwise: output channel c * m + j is channel c with kernel[..., c, j].
    x2 = RNG.standard_normal((2, 6, 5, 3))
    dk = RNG.standard_normal((3, 2, 3, 2))
    y = ops.depthwise_conv(tg.tensor(x2), tg.tensor(dk), padding="same")
    assert isinstance(y, tg.Tensor)
    for c, j in itertools.product(range(3), range(2)):
        ref = naive_conv(
            x2[..., c : c + 1],
            dk[:, :, c : c + 1, j : j + 1],
            (1, 1),
            same_pads((6, 5), (3, 2), (1, 1), (1, 1)),
            (1, 1),
        )
        np.testing.assert_allclose(y.numpy()[..., c * 2 + j], ref[..., 0], rtol=1e-12)
    pk = RNG.standard_normal((1, 1, 6, 4))
    np.testing.assert_allclose(
        ops.separable_conv(x2, dk, pk, padding="same"),
        naive_conv(y.numpy(), pk, (1, 1), [(0, 0)] * 2, (1, 1)),
        rtol=1e-12,
    )


TRANSPOSE_CASES = [
    # spatial, window, strides, dilation, output_padding
    ((5,), (3,), (2,), (1,), None),
    ((6,), (4,), (2,), (1,), 1),
    ((4, 3), (3, 2), (2, 3), (1, 1), None),
    ((3, 4), (3, 3), (1, 1), (2, 1), None),
    ((3, 3), (2, 2), (4, 3), (1, 1), None),  # stride > window: the output grows past it
]


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose_matches_naive(case, padding):
    spatial, window, strides, dilation, extra = case
    x = RNG.standard_normal((2, *spatial, 3))
    k = RNG.standard_normal((*window, 2, 3))
    left_right = []
    for w, s, d in zip(window, strides, dilation, strict=True):
        span = (w - 1) * d + 1
        if padding == "valid":
            e = max(span, s) - span if extra is None else extra
            left_right.append((span - 1, span - 1 + e))
        else:
            total = s + span - 2 if extra is None else span + span % 2 - 2 + extra
            left = min(total // 2 + total % 2, span - 1)
            left_right.append((left, total - left))
    y = ops.conv_transpose(x, k, strides, padding, extra, dilation_rate=dilation)
    np.testing.assert_allclose(
        y, naive_conv_transpose(x, k, strides, left_right, dilation), rtol=1e-12, atol=1e-12
    )
    if padding == "same" and extra is None:
        assert y.shape[1:-1] == tuple(n * s for n, s in zip(spatial, strides, strict=True))
    first = ops.conv_transpose(
        np.moveaxis(x, -1, 1), k, strides, padding, extra, "channels_first", dilation
    )
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), y, rtol=1e-12)


POOL_CASES = [
    # spatial, pool_size, strides
    ((8,), (2,), None),
    ((9,), (3,), (2,)),
    ((6, 8), (2, 2), None),
    ((7, 9), (3, 3), (2, 2)),
    ((7, 5), (2, 3), (1, 2)),
    ((5, 4), (2, 2), (3, 3)),  # stride > pool: skipped elements get no gradient
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_matches_naive(case, kind, padding, dtype):
    spatial, window, strides = case
    steps = strides or window
    x = RNG.standard_normal((2, *spatial, 3)).astype(dtype)
    pads = (
        same_pads(spatial, window, steps, (1,) * len(window))
        if padding == "same"
        else [(0, 0)] * len(window)
    )
    pool = ops.max_pool if kind == "max" else ops.average_pool
    y = pool(x, window, strides, padding)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, naive_pool(x, window, steps, pads, kind), rtol=1e-6)
    first = pool(np.moveaxis(x, -1, 1), window, strides, padding, "channels_first")
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), y, rtol=1e-6)


# -- derivatives -------------------------------------------------------------------------
GRAD_CONV_CASES = [
    # x shape, kernel shape, strides, padding, dilation
    ((1, 7, 2), (3, 2, 3), 2, "same", 1),
    ((1, 5, 4, 4), (3, 2, 2, 4), (2, 1), "same", (1, 2)),  # groups = 2
    ((2, 5, 5, 2), (2, 3, 2, 3), 1, "valid", 1),
    ((1, 3, 5, 1), (3, 3, 1, 2), (1, 2), "same", 1),
    ((1, 4, 3, 5), (2, 2, 5, 2), 1, "same", 1),
    # stride 1: the input gradient is a convolution with the flipped kernel
    ((1, 6, 5, 4), (3, 2, 2, 4), 1, "same", (2, 1)),  # groups = 2, dilation
    ((2, 4, 3), (3, 3, 2), 1, "valid", 1),
]


@pytest.mark.parametrize("case", GRAD_CONV_CASES)
def test_conv_grads(case):
    x_shape, k_shape, strides, padding, dilation = case
    x, k = RNG.standard_normal(x_shape), RNG.standard_normal(k_shape)

    def f(x, k):
        return ops.conv(x, k, strides, padding, dilation_rate=dilation)

    tg.check_grads(f, (x, k), order=2, modes=("fwd", "rev"))
    # The gradient of a nonlinear function of the conv runs every VJP of the family on
    # arguments that depend on (x, k): its derivatives check every rule, VJP and JVP.
    tg.check_grads(lambda x, k: tnp.tanh(f(x, k)), (x, k), order=2, modes=("fwd", "rev"))
    grad_f = tg.grad(lambda x, k: tnp.sum(tnp.tanh(f(x, k))), argnums=(0, 1))
    tg.check_grads(grad_f, (x, k), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("first", [False, True])
def test_conv_with_bias(first):
    x, k, b = (
        RNG.standard_normal((2, 5, 4, 3)),
        RNG.standard_normal((3, 3, 3, 4)),
        RNG.standard_normal(4),
    )
    fmt = "channels_first" if first else None
    xs = np.moveaxis(x, -1, 1) if first else x
    expected = ops.conv(xs, k, 1, "same", fmt)
    expected = expected + (b.reshape(4, 1, 1) if first else b)
    np.testing.assert_allclose(ops.conv(xs, k, 1, "same", fmt, bias=b), expected, rtol=1e-12)

    def f(x, k, b):
        return tnp.tanh(ops.conv(x, k, (2, 1), "same", fmt, bias=b))

    tg.check_grads(f, (xs, k, b), order=2, modes=("fwd", "rev"))
    grad_f = tg.grad(lambda x, k, b: tnp.sum(f(x, k, b)), argnums=(0, 1, 2))
    tg.check_grads(grad_f, (xs, k, b), order=1, modes=("fwd", "rev"))


def test_conv_bias_gradient_keeps_float32_and_sums_every_position():
    x = np.ones((3, 4, 4, 2), np.float32)
    k = np.zeros((3, 3, 2, 5), np.float32)
    b = tg.Variable(np.zeros(5, np.float32))
    with tg.GradientTape() as tape:
        y = ops.conv(x, k, padding="same", bias=b)
    gb = tape.gradient(y, b)
    assert gb.dtype == np.float32
    np.testing.assert_array_equal(gb.numpy(), np.full(5, 3 * 4 * 4, np.float32))
    with pytest.raises(ValueError, match="bias"):
        ops.conv(x, k, bias=np.zeros(4))


def test_conv_transpose_grads():
    x, k = RNG.standard_normal((1, 3, 2, 2)), RNG.standard_normal((3, 2, 3, 2))

    def f(x, k):
        return tnp.tanh(ops.conv_transpose(x, k, (2, 1), "same"))

    tg.check_grads(f, (x, k), order=2, modes=("fwd", "rev"))
    tg.check_grads(tg.grad(lambda x, k: tnp.sum(f(x, k)), argnums=(0, 1)), (x, k), order=1)


POOL_GRAD_CASES = [
    ((1, 7, 2), 3, 2, "same"),
    ((1, 6, 4, 2), 2, None, "valid"),
    ((1, 5, 7, 1), (3, 2), (2, 1), "same"),  # overlapping windows
    ((2, 5, 5, 1), 2, 3, "valid"),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_GRAD_CASES)
def test_pool_grads(case, kind):
    shape, pool_size, strides, padding = case
    # Distinct values: no ties, so max pooling is differentiable at the point.
    x = RNG.permutation(np.prod(shape)).reshape(shape) / 7.0 - 1.0
    pool = ops.max_pool if kind == "max" else ops.average_pool

    def f(x):
        return tnp.tanh(pool(tnp.sin(x), pool_size, strides, padding))

    tg.check_grads(lambda x: pool(x, pool_size, strides, padding), (x,), order=2)
    tg.check_grads(f, (x,), order=2, modes=("fwd", "rev"))
    tg.check_grads(tg.grad(lambda x: tnp.sum(f(x))), (x,), order=2, modes=("fwd", "rev"))


def test_max_pool_ties_go_to_the_first_maximum():
    # Windows in row-major order; ties everywhere (as between ReLU zeros).
    x = np.array(
        [[1.0, 3.0, 0.0, 0.0], [3.0, 2.0, 0.0, 0.0], [5.0, 5.0, 1.0, 7.0], [5.0, 5.0, 7.0, 7.0]]
    ).reshape(1, 4, 4, 1)
    g = tg.grad(
        lambda x: tnp.sum(ops.max_pool(x, 2) * np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1))
    )(x).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(g, [[0, 1, 2, 0], [0, 0, 0, 0], [3, 0, 0, 4], [0, 0, 0, 0]])
    # Overlapping windows: a shared first maximum collects from every window that picks it.
    row = np.array([2.0, 2.0, 2.0, 1.0]).reshape(1, 4, 1)
    g1 = tg.grad(lambda x: tnp.sum(ops.max_pool(x, 2, 1)))(row).numpy().ravel()
    np.testing.assert_array_equal(g1, [1, 1, 1, 0])
    # Forward mode picks the same element.
    _, t = tg.jvp(lambda x: ops.max_pool(x, 2), (x,), (np.arange(16.0).reshape(x.shape),))
    np.testing.assert_array_equal(t.numpy().ravel(), [1, 2, 8, 11])


@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_argmax_given_the_maxima_matches_the_running_argmax(case):
    spatial, window, strides = case
    steps = strides or window
    # Few distinct values: ties in most windows.
    x = RNG.integers(0, 3, (2, *spatial, 3)).astype(np.float64)
    for padding in ("valid", "same"):
        pads = (
            tuple(same_pads(spatial, window, steps, (1,) * len(window)))
            if padding == "same"
            else ((0, 0),) * len(window)
        )
        params = {"window": tuple(window), "strides": tuple(steps), "padding": pads}
        index = P.pool_argmax_p(x, P.max_pool_p(x, **params), **params)
        np.testing.assert_array_equal(index, P.pool_argmax_p(x, **params))
        # The offset of the first maximum, by a loop over windows.
        xp = np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=-np.inf)
        for o in np.ndindex(*index.shape[1:-1]):
            box = (
                slice(None),
                *(slice(o[i] * steps[i], o[i] * steps[i] + window[i]) for i in range(len(window))),
            )
            flat = xp[box].reshape(x.shape[0], -1, x.shape[-1])
            np.testing.assert_array_equal(index[(slice(None), *o)], flat.argmax(axis=1))


def test_max_pool_non_finite_values_stay_in_their_window():
    # Masks multiply on the fast path; 0 * inf must not leak NaN into unselected elements.
    x = np.array([1.0, -np.inf, 2.0, 0.0]).reshape(1, 4, 1)
    g = np.array([np.inf, 1.0]).reshape(1, 2, 1)
    _, pullback = tg.vjp(lambda x: ops.max_pool(x, 2), x)
    np.testing.assert_array_equal(pullback(g)[0].numpy().ravel(), [np.inf, 0, 1, 0])
    _, t = tg.jvp(
        lambda x: ops.max_pool(x, 2, 1), (x,), (np.array([1.0, np.inf, 3.0, 4.0]).reshape(1, 4, 1),)
    )
    np.testing.assert_array_equal(t.numpy().ravel(), [1, 3, 3])
    # Overlapping windows take the accumulating path.
    _, pullback = tg.vjp(lambda x: ops.max_pool(x, 2, 1), x)
    np.testing.assert_array_equal(
        pullback(np.array([1.0, np.inf, 2.0]).reshape(1, 3, 1))[0].numpy().ravel(),
        [1, 0, np.inf + 2, 0],
    )


def test_same_padding_never_wins_a_max_and_is_not_averaged():
    x = -np.ones((1, 3, 1))
    np.testing.assert_array_equal(ops.max_pool(x, 2, padding="same").ravel(), [-1, -1])
    np.testing.assert_array_equal(ops.average_pool(x, 2, padding="same").ravel(), [-1, -1])
    g = tg.grad(lambda x: tnp.sum(ops.average_pool(x, 2, padding="same")))(x).numpy().ravel()
    np.testing.assert_allclose(g, [0.5, 0.5, 1.0])


def test_float32_gradients_keep_their_dtype():
    x = tg.tensor(RNG.standard_normal((2, 6, 6, 1)), dtype=np.float32)
    k = tg.Variable(RNG.standard_normal((3, 3, 1, 4)).astype(np.float32))

    def loss(k):
        y = ops.relu(ops.conv(x, k, padding="same"))
        return tnp.mean(ops.average_pool(ops.max_pool(y, 2), 3, 1))

    gk = tg.grad(loss)(k)
    assert gk.dtype == np.float32 and gk.shape == (3, 3, 1, 4)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ops.conv(np.ones((1, 5, 3)), np.ones((3, 2, 4))), "C_in / groups"),
        (lambda: ops.conv(np.ones((1, 2, 1)), np.ones((3, 1, 1))), "does not fit"),
        (lambda: ops.conv(np.ones((1, 5, 1)), np.ones((3, 1, 1)), padding="full"), "padding"),
        (lambda: ops.max_pool(np.ones((1, 5, 5, 1)), (2, 2, 2)), "pool_size"),
        (lambda: ops.average_pool(np.ones((5, 1)), 2), "batch"),
        (lambda: ops.max_pool(np.ones((1, 5, 1)), 2, data_format="nwc"), "data_format"),
    ],
)
def test_errors_name_the_op_and_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("groups", [1, 2])
def test_convolutions_in_chunks_of_the_batch_match_one_chunk(monkeypatch, groups):
    # Batches whose patches pass `_CHUNK_BYTES` run chunk by chunk: the same values.
    from tapegrad.core.prims import conv as prims_conv

    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 6, 7, 4))
    kernel = rng.standard_normal((3, 3, 4 // groups, 6))
    bias = rng.standard_normal(6)
    params = {"strides": (1, 2), "padding": ((1, 1), (0, 1)), "groups": groups}

    def run() -> list[np.ndarray]:
        y = P.conv_p(x, kernel, bias, **params)
        g = np.cos(y)
        return [
            y,
            P.conv_kernel_grad_p(x, g, window=(3, 3), **params),
            P.conv_input_grad_p(g, kernel, input_shape=(6, 7), **params),
        ]

    whole = run()
    monkeypatch.setattr(prims_conv, "_CHUNK_BYTES", 1)  # one image per chunk
    for got, want in zip(run(), whole, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
