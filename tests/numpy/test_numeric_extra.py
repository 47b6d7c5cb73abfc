"""``gradient``, ``unwrap``, ``i0``, ``trim_zeros``, ``apply_along_axis``,
``apply_over_axes``, ``spacing``/``nextafter`` and the window functions against NumPy,
with gradients checked against finite differences (the op samples add dtypes, both
modes and compiled parity)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

RNG = np.random.default_rng(0)
F2 = RNG.normal(size=(4, 5))
COORDS = np.cumsum(RNG.uniform(0.5, 1.5, 5))


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((), {}),
        ((0.5,), {}),
        ((0.5, 2.0), {}),
        ((2.0, COORDS), {"edge_order": 2}),
        ((COORDS,), {"axis": 1}),
        ((), {"axis": (1, 0), "edge_order": 2}),
        ((np.arange(5),), {"axis": -1}),
    ],
)
def test_gradient_equals_numpy_and_differentiates(args: tuple, kwargs: dict[str, Any]) -> None:
    expected = np.gradient(F2, *args, **kwargs)
    got = tnp.gradient(tg.tensor(F2), *args, **kwargs)
    if isinstance(expected, tuple):
        assert isinstance(got, tuple)
        assert len(got) == len(expected)
    else:
        got, expected = (got,), (expected,)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-12, atol=1e-12)
    tg.check_grads(lambda f: tnp.gradient(f, *args, **kwargs), (F2,), order=2)


def test_gradient_with_coordinates_is_differentiable_in_them() -> None:
    tg.check_grads(lambda x: tnp.gradient(F2, x, axis=1, edge_order=2), (COORDS,), order=2)
    tg.check_grads(lambda h: tnp.gradient(F2, h, axis=0), (np.array(0.7),), order=2)


def test_gradient_dtypes_and_errors_as_numpy() -> None:
    assert tnp.gradient(np.arange(4)).dtype == np.gradient(np.arange(4)).dtype
    assert tnp.gradient(tg.tensor(F2.astype(np.float32)), 2.0)[0].dtype == np.float32
    with pytest.raises(ValueError, match="too small"):
        tnp.gradient(np.ones(2), edge_order=2)
    with pytest.raises(ValueError, match="must match the length"):
        tnp.gradient(np.ones(4), np.ones(3))
    with pytest.raises(TypeError, match="invalid number"):
        tnp.gradient(F2, 1.0, 2.0, 3.0)


def test_unwrap_equals_numpy_and_passes_the_gradient() -> None:
    phase = np.cumsum(RNG.uniform(-2.5, 2.5, (3, 8)), axis=-1) % (2 * np.pi)
    for kwargs in ({}, {"axis": 0}, {"discont": 4.0}, {"period": 5.0}):
        np.testing.assert_allclose(
            tnp.unwrap(tg.tensor(phase), **kwargs).numpy(), np.unwrap(phase, **kwargs), rtol=1e-12
        )
    np.testing.assert_array_equal(
        tnp.unwrap(np.array([0, 7, 15, 2]), period=8), np.unwrap(np.array([0, 7, 15, 2]), period=8)
    )
    grad = tg.grad(lambda p: tnp.sum(tnp.unwrap(p) * np.arange(8.0)))(tg.tensor(phase))
    np.testing.assert_array_equal(grad.numpy(), np.broadcast_to(np.arange(8.0), (3, 8)))


def test_i0_values_and_its_derivative_is_i1() -> None:
    x = np.array([-12.0, -3.0, -0.5, 0.25, 2.0, 7.9, 8.1, 30.0])
    np.testing.assert_allclose(tnp.i0(tg.tensor(x)).numpy(), np.i0(x), rtol=1e-14)
    assert tnp.i0(np.arange(3)).dtype == np.i0(np.arange(3)).dtype
    # i1 by its series: sum (x/2)^(2k+1) / (k! (k+1)!).
    k = np.arange(60)[:, None]
    log_terms = (2 * k + 1) * np.log(np.abs(x) / 2) - np.cumsum(np.log(np.maximum(k, 1)), 0)
    log_terms = log_terms - np.cumsum(np.log(k + 1), 0)
    i1 = np.sign(x) * np.exp(log_terms).sum(axis=0)
    grad = tg.grad(lambda x: tnp.sum(tnp.i0(x)))(tg.tensor(x))
    np.testing.assert_allclose(grad.numpy(), i1, rtol=1e-12)
    tg.check_grads(tnp.i0, (x,), order=2)
    with pytest.raises(TypeError, match="complex"):
        tnp.i0(np.array([1j]))


def test_trim_zeros_keeps_the_gradient_of_what_it_keeps() -> None:
    a = np.array([0.0, 0.0, 1.0, 0.0, 2.0, 0.0])
    for trim in ("fb", "f", "b", "BF"):
        np.testing.assert_array_equal(
            tnp.trim_zeros(tg.tensor(a), trim).numpy(), np.trim_zeros(a, trim)
        )
    assert tnp.trim_zeros([0, 1, 0]) == [1]
    m = np.zeros((4, 5))
    m[1:3, 2:4] = 1.0
    for axis in (None, 0, -1):
        np.testing.assert_array_equal(tnp.trim_zeros(m, axis=axis), np.trim_zeros(m, axis=axis))
    assert tnp.trim_zeros(np.zeros(3)).shape == (0,)
    grad = tg.grad(lambda x: tnp.sum(tnp.trim_zeros(x) * 3.0))(tg.tensor(a))
    np.testing.assert_array_equal(grad.numpy(), [0.0, 0.0, 3.0, 3.0, 3.0, 0.0])
    with pytest.raises(ValueError, match="unexpected"):
        tnp.trim_zeros(a, "x")


def test_apply_along_axis_shapes_equal_numpy() -> None:
    x = RNG.normal(size=(2, 3, 4))
    for axis, func in [
        (0, np.sum),
        (1, lambda v: v[:2]),
        (-1, lambda v: np.outer(v, v)),
        (2, lambda v: np.stack([v.max(), v.min()])),
    ]:
        expected = np.apply_along_axis(func, axis, x)
        tfunc = {np.sum: tnp.sum}.get(func, func)
        got = tnp.apply_along_axis(tfunc, axis, tg.tensor(x))
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    scale = tnp.apply_along_axis(lambda v, s: v * s, 1, x, 2.0)
    np.testing.assert_allclose(scale, x * 2.0)
    tg.check_grads(lambda x: tnp.apply_along_axis(lambda v: tnp.outer(v, v), 1, x), (x,), order=2)
    with pytest.raises(ValueError, match="iteration dimensions"):
        tnp.apply_along_axis(np.sum, 0, np.ones((3, 0)))


def test_apply_over_axes_equals_numpy() -> None:
    x = RNG.normal(size=(2, 3, 4))
    for axes in ([0, 2], (1,), -1):
        np.testing.assert_allclose(
            tnp.apply_over_axes(tnp.sum, tg.tensor(x), axes).numpy(),
            np.apply_over_axes(np.sum, x, axes),
            rtol=1e-12,
        )
    tg.check_grads(lambda x: tnp.apply_over_axes(tnp.mean, x, [0, 1]), (x,), order=2)
    with pytest.raises(ValueError, match="correct shape"):
        tnp.apply_over_axes(lambda a, axis: tnp.sum(a), x, [0])


def test_spacing_and_nextafter_are_values() -> None:
    x = tg.tensor(np.array([1.0, -2.5, 1e10], np.float32))
    np.testing.assert_array_equal(tnp.spacing(x), np.spacing(x.numpy()))
    np.testing.assert_array_equal(tnp.nextafter(x, 0.0), np.nextafter(x.numpy(), np.float32(0)))
    assert tnp.spacing(x).dtype == np.float32


@pytest.mark.parametrize("name", ["bartlett", "blackman", "hamming", "hanning"])
def test_windows_equal_numpy(name: str) -> None:
    for m in (0, 1, 2, 7, 8):
        np.testing.assert_array_equal(getattr(tnp, name)(m), getattr(np, name)(m))


def test_kaiser_equals_numpy_and_beta_is_differentiable() -> None:
    for m, beta in [(1, 3.0), (2, 0.5), (7, 4.0), (8, 14.0)]:
        np.testing.assert_allclose(
            tnp.kaiser(m, tg.tensor(beta)).numpy(), np.kaiser(m, beta), rtol=1e-6
        )
        np.testing.assert_array_equal(tnp.kaiser(m, beta), np.kaiser(m, beta))
    tg.check_grads(lambda b: tnp.kaiser(6, b), (np.array(5.0),), order=2)
