"""`tapegrad.numpy`'s polynomial functions against NumPy's values, with gradients checked
against finite differences to second order (both modes); the op samples cover dtypes."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

RNG = np.random.default_rng(0)
X = np.linspace(-1.0, 1.5, 7) + RNG.uniform(-0.05, 0.05, 7)
Y = RNG.normal(size=7)
YS = RNG.normal(size=(7, 2))
W = RNG.uniform(0.5, 1.5, 7)
P4 = RNG.normal(size=4)
P2 = RNG.normal(size=2) + np.array([1.0, 0.0])
SYM = RNG.normal(size=(3, 3))
SYM = SYM + SYM.T
WITH_ROOTS = np.poly([1.0, -2.0, 3.0])

# (name, tapegrad call, NumPy call, arguments): values equal and gradients checked.
CASES: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple[np.ndarray, ...]]] = [
    ("vander", tnp.vander, np.vander, (X,)),
    (
        "vander_n_increasing",
        lambda x: tnp.vander(x, 3, True),
        lambda x: np.vander(x, 3, True),
        (X,),
    ),
    ("polyval", tnp.polyval, np.polyval, (P4, X)),
    ("polyval_matrix", tnp.polyval, np.polyval, (P4, YS)),
    ("polyfit", lambda x, y: tnp.polyfit(x, y, 2), lambda x, y: np.polyfit(x, y, 2), (X, Y)),
    (
        "polyfit_weights_columns",
        lambda x, y, w: tnp.polyfit(x, y, 3, w=w),
        lambda x, y, w: np.polyfit(x, y, 3, w=w),
        (X, YS, W),
    ),
    (
        "polyfit_cov",
        lambda x, y: tnp.polyfit(x, y, 2, cov=True),
        lambda x, y: np.polyfit(x, y, 2, cov=True),
        (X, Y),
    ),
    (
        "polyfit_cov_unscaled_columns",
        lambda x, y: tnp.polyfit(x, y, 1, cov="unscaled"),
        lambda x, y: np.polyfit(x, y, 1, cov="unscaled"),
        (X, YS),
    ),
    ("poly_roots", tnp.poly, np.poly, (P4,)),
    ("poly_symmetric_matrix", tnp.poly, np.poly, (SYM,)),
    ("poly_matrix", tnp.poly, np.poly, (np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0], [1, 1, 1]]),)),
    ("polyadd", tnp.polyadd, np.polyadd, (P2, P4)),
    ("polysub", tnp.polysub, np.polysub, (P4, P2)),
    ("polymul", tnp.polymul, np.polymul, (P4, P2)),
    ("polydiv", tnp.polydiv, np.polydiv, (P4, P2)),
    ("polydiv_shorter", tnp.polydiv, np.polydiv, (P2, P4)),
    ("polyder", lambda p: tnp.polyder(p, 2), lambda p: np.polyder(p, 2), (P4,)),
    (
        "polyint",
        lambda p: tnp.polyint(p, 2, k=[1.0, 2.0]),
        lambda p: np.polyint(p, 2, k=[1.0, 2.0]),
        (P4,),
    ),
    ("roots", tnp.roots, np.roots, (WITH_ROOTS,)),
]


@pytest.mark.parametrize("name, op, ref, args", CASES, ids=[c[0] for c in CASES])
def test_values_equal_numpy_and_gradients_match_finite_differences(
    name: str, op: Callable[..., Any], ref: Callable[..., Any], args: tuple[np.ndarray, ...]
) -> None:
    expected = ref(*args)
    got = op(*[tg.tensor(a) for a in args])
    pairs = zip(got, expected, strict=True) if isinstance(expected, tuple) else [(got, expected)]
    for g, e in pairs:
        assert np.shape(g) == np.shape(e), name
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-9, atol=1e-12, err_msg=name)
    tg.check_grads(op, args, order=2, modes=("fwd", "rev"))


def test_edge_cases_equal_numpy() -> None:
    assert tnp.vander(X, 0).shape == (7, 0)
    np.testing.assert_array_equal(tnp.polyder(P4, 5), np.polyder(P4, 5))
    np.testing.assert_array_equal(tnp.polyder(P4, 0), P4)
    np.testing.assert_array_equal(tnp.polyint(P4, 0), P4)
    np.testing.assert_array_equal(tnp.polyadd([1, 2], [3]), np.polyadd([1, 2], [3]))
    np.testing.assert_array_equal(tnp.vander(np.array([1, 2, 3])), np.vander([1, 2, 3]))
    quotient_remainder = tnp.polydiv([1.0], [1.0, 2.0])
    for got, expected in zip(quotient_remainder, np.polydiv([1.0], [1.0, 2.0]), strict=True):
        np.testing.assert_array_equal(got, expected)
    with_zeros = np.array([0.0, 1.0, -3.0, 2.0, 0.0, 0.0])
    np.testing.assert_allclose(tnp.roots(tg.tensor(with_zeros)).numpy(), np.roots(with_zeros))
    assert tnp.roots(tg.tensor([0.0, 0.0])).shape == (0,)
    full = tnp.polyfit(X, Y, 2, full=True)
    for got, expected in zip(full, np.polyfit(X, Y, 2, full=True), strict=True):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-9)


def test_roots_of_a_real_polynomial_with_complex_roots_have_implicit_gradients() -> None:
    p = np.array([1.0, 0.5, 2.0, 1.0])

    def loss(roots: Any, np_: Any) -> Any:
        return np_.sum(np_.real(roots) * np.array([1.0, 2.0, 3.0]) + np_.abs(roots) ** 2)

    np.testing.assert_allclose(tnp.roots(tg.tensor(p)).numpy(), np.roots(p), rtol=1e-12)
    grad = tg.grad(lambda p: loss(tnp.roots(p), tnp))(p)
    steps = 1e-6 * np.eye(4)
    numeric = [(loss(np.roots(p + s), np) - loss(np.roots(p - s), np)) / 2e-6 for s in steps]
    np.testing.assert_allclose(np.asarray(grad), numeric, rtol=1e-6)


def test_polyfit_warns_and_refuses_as_numpy() -> None:
    with pytest.warns(np.exceptions.RankWarning):
        tnp.polyfit(np.array([0.0, 1.0]), np.array([1.0, 2.0]), 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tnp.polyfit(X, Y, 2)
    for bad, error in [
        (lambda: tnp.polyfit(X, Y, -1), ValueError),
        (lambda: tnp.polyfit(YS, YS, 1), TypeError),
        (lambda: tnp.polyfit(X, Y[:3], 1), TypeError),
        (lambda: tnp.polyfit(X[:3], Y[:3], 2, cov=True), ValueError),
        (lambda: tnp.polyder(P4, -1), ValueError),
        (lambda: tnp.polyint(P4, 3, k=[1.0, 2.0]), ValueError),
        (lambda: tnp.poly(np.ones((2, 3))), ValueError),
    ]:
        with pytest.raises(error):
            bad()


def test_polyint_constants_and_polyfit_weights_get_gradients() -> None:
    k = tg.tensor([1.0, 2.0])
    grad = tg.grad(lambda k: tnp.sum(tnp.polyval(tnp.polyint(P4, 2, k=k), 2.0)))(k)
    # The constants enter as k0 * x + k1.
    np.testing.assert_allclose(grad.numpy(), [2.0, 1.0])
    tg.check_grads(lambda w: tnp.polyfit(X, Y, 2, w=w), (W,), order=1)
