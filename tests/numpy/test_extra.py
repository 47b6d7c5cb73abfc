"""Tests of NumPy's functions beyond HIPS autograd (`tapegrad.numpy`'s `_differences`,
`_elementwise`, `_signals`, `_rearranging`, `_value_only`, `_quantiles`, `_nan_reductions`,
`_covariance` and `_histograms`), driven by two tables.

* ``DIFFERENTIABLE``: every case is checked forward against NumPy (values, shape, dtype;
  on arrays and on Tensors) and with `check_grads` to second order in both modes. Inputs
  are float64 and kept away from ties and kinks (distinct values, fractional positions).
* ``PASS_THROUGH``: values equal NumPy's for Tensor inputs, and differentiating through
  them gives a zero gradient without an error.

Explicit tests at the end pin down what finite differences cannot: NaN handling, dtypes,
exact values, errors, and shapes/axes drawn by hypothesis for the order statistics.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.core.tree import tree_flatten


# -- inputs ------------------------------------------------------------------------------
def distinct(*shape: int, seed: int = 0) -> np.ndarray:
    """Values at least 0.25 apart (no ties, finite differences never reorder them)."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2) * 0.3 + rng.uniform(-0.05, 0.05, size)
    return values.reshape(shape)


def uniform(low: float, high: float, *shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape)


def with_nans(x: np.ndarray, *positions: tuple[int, ...]) -> np.ndarray:
    x = x.copy()
    for position in positions:
        x[position] = np.nan
    return x


X35 = distinct(3, 5)
X46 = distinct(4, 6, seed=1)
V7 = distinct(7, seed=2)
V4 = distinct(4, seed=3)
NAN35 = with_nans(X35, (0, 1), (2, 0), (2, 4))
POS35 = uniform(0.5, 1.5, 3, 5, seed=4)
Q = np.array([0.37, 0.62, 0.91])  # fractional positions for every continuous method, n=5


# -- differentiable ------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """``tnp.<name>(*args, **kwargs)`` vs ``np.<name>``; ``pick`` selects a tuple output."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    pick: int | None = None
    label: str = ""

    def fn(self, *args: Any) -> Any:
        out = getattr(tnp, self.name)(*args, **self.kwargs)
        return out if self.pick is None else out[self.pick]

    def ref(self, *args: Any) -> Any:
        out = getattr(np, self.name)(*args, **self.kwargs)
        return out if self.pick is None else out[self.pick]

    @property
    def id(self) -> str:
        return self.name + (f"-{self.label}" if self.label else "")


def case(name: str, *args: Any, pick: int | None = None, label: str = "", **kwargs: Any) -> Case:
    return Case(name, args, kwargs, pick, label)


DIFFERENTIABLE = [
    case("diff", X35),
    case("diff", X35, n=2, axis=0, label="n2-axis0"),
    case("diff", X35, n=3, prepend=0.5, append=X35[:, :2], label="prepend-append"),
    case("ediff1d", X35, to_end=np.array([1.0, 2.0]), to_begin=-3.0),
    case("rot90", distinct(2, 3, 4)),
    case("rot90", distinct(2, 3, 4), k=3, axes=(2, 0), label="k3"),
    case("rot90", distinct(2, 3, 4), k=2, axes=(1, 2), label="k2"),
    case("fmod", np.array([-7.3, 5.2, 2.9, -1.4]), np.array([3.1, -2.3, 1.7, 2.2])),
    case("copysign", np.array([-7.3, 5.2, 2.9, -1.4]), np.array([3.1, -2.3, -1.7, 2.2])),
    case("float_power", POS35, distinct(3, 5, seed=5) / 5),
    case("ldexp", X35, np.arange(15).reshape(3, 5) - 7),
    case("frexp", X35, pick=0),
    case("modf", X35 + 0.01, pick=0),
    case("divmod", np.array([-7.3, 5.2, 2.9, -1.4]), np.array([3.1, -2.3, 1.7, 2.2]), pick=1),
    case("real_if_close", X35),
    case("median", X35),
    case("median", X46, axis=1, label="even-axis1"),
    case("median", distinct(2, 3, 4), axis=(0, 2), keepdims=True, label="axes-keepdims"),
    case("nanmedian", NAN35, axis=1),
    case("quantile", X35, Q, axis=1),
    case("quantile", X35, 0.41, label="scalar-q"),
    case("quantile", X46, Q, axis=0, keepdims=True, label="keepdims"),
    case("percentile", X35, Q * 100, axis=1),
    case("nanquantile", NAN35, Q, axis=1),
    case("nanpercentile", NAN35, 37.0),
    *[
        case("quantile", X35, Q, axis=1, method=m, label=m)
        for m in (
            "hazen",
            "weibull",
            "median_unbiased",
            "normal_unbiased",
            "interpolated_inverted_cdf",
        )
    ],
    *[
        Case("quantile", (X35,), {"q": Q, "axis": 1, "method": m}, label=m)
        for m in (
            "lower",
            "higher",
            "nearest",
            "midpoint",
            "inverted_cdf",
            "averaged_inverted_cdf",
            "closest_observation",
        )
    ],
    case("nanmax", NAN35, axis=1),
    case("nanmin", NAN35),
    case("nanprod", with_nans(POS35, (1, 1)), axis=0),
    case("nanvar", NAN35, axis=1),
    case("nanstd", NAN35, ddof=1),
    case("nancumsum", NAN35, axis=1),
    case("nancumprod", with_nans(POS35, (0, 3))),
    case("cov", X35),
    case("cov", X35.T, distinct(5, 2, seed=6), rowvar=False, label="y-rowvar"),
    case(
        "cov",
        X35,
        fweights=np.array([1, 2, 1, 3, 1]),
        aweights=uniform(0.5, 2, 5, seed=7),
        label="weights",
    ),
    case("cov", V7, bias=True, label="1d"),
    case("corrcoef", X35),
    case("corrcoef", V7, V7[::-1] ** 2, label="xy"),
    *[case("convolve", V7, V4, mode=m, label=m) for m in ("full", "same", "valid")],
    *[case("correlate", V4, V7, mode=m, label=m) for m in ("full", "same", "valid")],
    case("correlate", V7, V4, mode="same", label="long-first"),
    case("trapezoid", X35),
    case("trapezoid", X35, np.cumsum(uniform(0.2, 1, 5)), label="x"),
    case("trapezoid", X35, np.cumsum(POS35, axis=0), axis=0, label="x-2d"),
    case("vecdot", distinct(2, 3, 4), X35[:, 1:]),
    case("vecdot", X35, X46[:3, :5], axis=0, label="axis0"),
    case("matvec", distinct(2, 3, 4), distinct(2, 1, 4, seed=8)),
    case("vecmat", X35[:, :4], distinct(3, 4, 2, seed=9)),
    case("unstack", X35, axis=1),
    case("delete", X35, obj=[0, 3], axis=1),
    case("delete", X35, obj=slice(2, 9, 3), label="flat"),
    case("insert", X35, obj=[1, 4], values=V4[:2], label="flat"),
    case("insert", X35, obj=2, values=V4[:3, None], axis=1, label="axis1"),
    case("resize", X35, new_shape=(4, 6)),
    case(
        "interp",
        np.array([-1.0, 0.3, 1.7, 2.9, 4.5]),
        np.array([0.0, 1.0, 2.5, 4.0]),
        np.array([1.0, -2.0, 3.0, 0.5]),
    ),
    case(
        "interp",
        np.array([-1.0, 0.3, 4.5]),
        np.array([0.0, 1.0, 2.5, 4.0]),
        np.array([1.0, -2.0, 3.0, 0.5]),
        7.5,
        -2.5,
        label="left-right",
    ),
    case(
        "interp",
        np.array([15.0, 95.0, 355.0, -160.0]),
        np.array([350.0, 10.0, 170.0, 190.0]),
        np.array([1.0, -2.0, 3.0, 0.5]),
        period=360,
        label="period",
    ),
]
assert len({c.id for c in DIFFERENTIABLE}) == len(DIFFERENTIABLE), "duplicate case ids"

# Not in the NumPy namespace form above: nested lists, callables, index closures.
COMPOSED: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple[Any, ...]]] = [
    (
        "block",
        lambda a, b, c, d: tnp.block([[a, b], [c, d]]),
        lambda a, b, c, d: np.block([[a, b], [c, d]]),
        (X35[:2, :2], X35[:2, 2:], X46[:1, :2], X46[:1, 2:5]),
    ),
    ("block-1d", lambda a, b: tnp.block([a, b]), lambda a, b: np.block([a, b]), (V7, V4)),
    (
        "choose",
        lambda a, b: tnp.choose(np.array([[0, 1, 0, 1, 1], [1, 0, 0, 1, 0]]), [a, b]),
        lambda a, b: np.choose(np.array([[0, 1, 0, 1, 1], [1, 0, 0, 1, 0]]), [a, b]),
        (X35[0], X35[1:]),
    ),
    (
        "piecewise",
        lambda x: tnp.piecewise(x, [x < 0, x > 1], [tnp.sin, tnp.exp, 0.25]),
        lambda x: np.piecewise(x, [x < 0, x > 1], [np.sin, np.exp, 0.25]),
        (X35 / 2,),
    ),
    (
        "heaviside-x2",
        lambda h: tnp.heaviside(np.array([-1.0, 0.0, 2.0, 0.0]), h),
        lambda h: np.heaviside(np.array([-1.0, 0.0, 2.0, 0.0]), h),
        (np.array([0.3, 0.6, 0.1, 0.9]),),
    ),
    (
        "bincount-weights",
        lambda w: tnp.bincount(np.array([0, 2, 2, 5, 0]), w, minlength=7),
        lambda w: np.bincount(np.array([0, 2, 2, 5, 0]), w, minlength=7),
        (V7[:5],),
    ),
    (
        "trapezoid-dx",
        lambda y, dx: tnp.trapezoid(y, dx=dx, axis=0),
        lambda y, dx: np.trapezoid(y, dx=dx, axis=0),
        (X35, np.array(0.3)),
    ),
    (
        "quantile-q-only",
        lambda q: tnp.quantile(X35, q, axis=0),
        lambda q: np.quantile(X35, q, axis=0),
        (Q,),
    ),
    (
        "insert-values",
        lambda v: tnp.insert(X35, [0, 2], v, axis=0),
        lambda v: np.insert(X35, [0, 2], v, axis=0),
        (X46[:2, :5],),
    ),
]
ALL = [pytest.param(c.fn, c.ref, c.args, id=c.id) for c in DIFFERENTIABLE] + [
    pytest.param(fn, ref, args, id=name) for name, fn, ref, args in COMPOSED
]


def _leaves(out: Any) -> list[np.ndarray]:
    return [
        np.asarray(leaf._value if isinstance(leaf, tg.Tensor) else leaf)
        for leaf in tree_flatten(out)[0]
    ]


def _assert_same(out: Any, expected: Any) -> None:
    got, want = _leaves(out), _leaves(expected)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize(("fn", "ref", "args"), ALL)
def test_forward_matches_numpy(fn: Callable, ref: Callable, args: tuple) -> None:
    expected = ref(*args)
    _assert_same(fn(*args), expected)
    tensors = [
        tg.tensor(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args
    ]
    _assert_same(fn(*tensors), expected)


@pytest.mark.parametrize(("fn", "ref", "args"), ALL)
def test_grads(fn: Callable, ref: Callable, args: tuple) -> None:
    tg.check_grads(fn, args, order=2, modes=("fwd", "rev"))


# -- pass-through --------------------------------------------------------------------------
FLOATS = np.array([-2.0, -0.0, 0.0, 1.5, np.inf, -np.inf, np.nan, 3.0])
INTS = np.array([12, 18, -4, 7, 0, 9])
PASS_THROUGH: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("signbit", (FLOATS,), {}),
    ("isneginf", (FLOATS,), {}),
    ("isposinf", (FLOATS,), {}),
    ("iscomplex", (FLOATS,), {}),
    ("isreal", (FLOATS,), {}),
    ("isin", (X35, X35[1]), {}),
    ("isin", (X35, X35[1]), {"invert": True}),
    ("unique", (np.array([3.0, 1.0, 3.0, 2.0, 1.0]),), {}),
    (
        "unique",
        (np.array([3.0, 1.0, 3.0, 2.0, 1.0]),),
        {"return_index": True, "return_inverse": True, "return_counts": True},
    ),
    ("unique_values", (np.array([3.0, 1.0, 3.0]),), {}),
    ("unique_counts", (np.array([3.0, 1.0, 3.0]),), {}),
    ("unique_inverse", (np.array([3.0, 1.0, 3.0]),), {}),
    ("unique_all", (np.array([3.0, 1.0, 3.0]),), {}),
    ("nanargmax", (NAN35,), {"axis": 1}),
    ("nanargmin", (NAN35,), {}),
    ("digitize", (X35, np.array([-1.0, 0.0, 1.0])), {}),
    ("histogram", (X35,), {"bins": 4}),
    ("histogram_bin_edges", (X35,), {"bins": 3}),
    ("histogram2d", (X35[0], X35[1]), {"bins": 2}),
    ("histogramdd", (X35.T,), {"bins": 2}),
    ("imag", (X35,), {}),
    ("angle", (FLOATS[:4],), {"deg": True}),
    ("lexsort", (X35,), {}),
    ("tril_indices_from", (X46,), {"k": 1}),
    ("triu_indices_from", (X46,), {}),
    ("diag_indices_from", (X46[:4, :4],), {}),
    ("iscomplexobj", (X35,), {}),
    ("isrealobj", (X35,), {}),
    ("iterable", (X35,), {}),
    ("gcd", (INTS, 6), {}),
    ("lcm", (INTS, 4), {}),
    ("left_shift", (INTS[INTS >= 0], 2), {}),
    ("right_shift", (INTS[INTS >= 0], 1), {}),
    ("bitwise_left_shift", (INTS[INTS >= 0], 3), {}),
    ("bitwise_right_shift", (INTS[INTS >= 0], 2), {}),
    ("bincount", (INTS[INTS >= 0],), {"minlength": 20}),
    ("unravel_index", (np.array([5, 11]), (3, 4)), {}),
    ("ravel_multi_index", ((np.array([1, 2]), np.array([3, 0])), (3, 4)), {}),
    ("ix_", (np.array([0, 2]), np.array([1, 3])), {}),
]


def _tensors(args: tuple[Any, ...]) -> list[Any]:
    def convert(a: Any) -> Any:
        if isinstance(a, tuple):
            return tuple(convert(item) for item in a)
        return tg.tensor(a) if isinstance(a, np.ndarray) else a

    return [convert(a) for a in args]


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [pytest.param(*p, id=f"{p[0]}-{i}") for i, p in enumerate(PASS_THROUGH)],
)
def test_pass_through_values_and_no_gradient(name: str, args: tuple, kwargs: dict) -> None:
    expected = getattr(np, name)(*args, **kwargs)
    out = getattr(tnp, name)(*_tensors(args), **kwargs)
    got, want = _leaves(out), _leaves(expected)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    first = args[0]
    if isinstance(first, np.ndarray) and first.dtype.kind == "f":

        def total(x: Any) -> Any:
            leaves = _leaves(getattr(tnp, name)(x, *args[1:], **kwargs))
            return sum(float(np.sum(np.where(np.isfinite(v), v, 0))) for v in leaves)

        gradient = tg.grad(total)(first)
        assert gradient is None or not np.any(np.asarray(gradient))


@pytest.mark.parametrize(
    "name", ["tril_indices", "triu_indices", "diag_indices", "broadcast_shapes", "isscalar"]
)
def test_pass_through_without_arrays(name: str) -> None:
    args = {"broadcast_shapes": ((2, 1), (1, 3)), "isscalar": (2.5,)}.get(name, (4,))
    _assert_same(getattr(tnp, name)(*args), getattr(np, name)(*args))


def test_isscalar_is_false_for_tensors_like_arrays() -> None:
    assert not tnp.isscalar(tg.tensor(1.0)) and not np.isscalar(np.array(1.0))


def test_integer_results_have_no_gradient() -> None:
    assert tg.grad(lambda x: tnp.sum(tnp.divmod(x, 2.0)[0]))(V4).numpy().tolist() == [0.0] * 4
    assert not tg.grad(lambda x: tnp.frexp(x)[1].sum() * 1.0)(V4).numpy().any()


# -- exact values, NaNs, dtypes and errors -----------------------------------------------
def test_fmod_and_copysign_are_exact_and_keep_signed_zeros() -> None:
    x = np.array([-7.5, -6.0, -0.0, 0.0, 6.0, 1e300, np.inf, 5.0])
    y = np.array([3.0, 3.0, 2.0, -2.0, -3.0, 0.7, 1.0, np.inf])
    for name in ("fmod", "copysign"):
        got, want = getattr(tnp, name)(x, y), getattr(np, name)(x, y)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_fmod_gradient_at_zero_is_one() -> None:
    assert tg.grad(lambda x: tnp.fmod(x, 3.0))(tg.tensor(0.0)).item() == 1.0
    assert tg.grad(lambda y: tnp.fmod(-7.0, y))(tg.tensor(3.0)).item() == 2.0  # -trunc(-7/3)


def test_frexp_ldexp_and_modf_extremes() -> None:
    x = np.array([5e-324, 1e-310, -3.5, 0.0, -0.0, 1e308, np.inf, -np.inf, np.nan])
    for got, want in zip(tnp.frexp(x), np.frexp(x), strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(tnp.modf(x), np.modf(x), strict=True):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    k = np.array([1074, 1074, 3, 0, 5, -1, -1, 2, 0])
    np.testing.assert_array_equal(tnp.ldexp(x, k), np.ldexp(x, k))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int64])
@pytest.mark.parametrize("method", ["linear", "hazen", "lower", "midpoint", "inverted_cdf"])
def test_quantile_dtype_follows_numpy(dtype: Any, method: str) -> None:
    a = (X35 * 10).astype(dtype)
    for q in (0.3, np.array([0.3, 0.8]), np.float32(0.55)):
        got, want = (
            tnp.quantile(a, q, axis=1, method=method),
            np.quantile(a, q, axis=1, method=method),
        )
        assert np.result_type(got) == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-3)


def test_order_statistics_propagate_nan_and_all_nan_slices() -> None:
    a = with_nans(X35, (1, 2))
    a[2] = np.nan
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = [
            np.median(a, axis=1),
            np.nanmedian(a, axis=1),
            np.quantile(a, 0.4, axis=1),
            np.nanquantile(a, 0.4, axis=1),
            np.nanmax(a, axis=1),
            np.nanvar(a, axis=1),
        ]
    got = [
        tnp.median(a, axis=1),
        tnp.nanmedian(a, axis=1),
        tnp.quantile(a, 0.4, axis=1),
        tnp.nanquantile(a, 0.4, axis=1),
        tnp.nanmax(a, axis=1),
        tnp.nanvar(a, axis=1),
    ]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, equal_nan=True)
    gradient = tg.grad(lambda x: tnp.nansum(tnp.nanmedian(x, axis=1)))(a).numpy()
    assert np.isfinite(gradient).all() and gradient[2].sum() == 0


def test_median_gradient_splits_between_middle_elements() -> None:
    x = tg.tensor(np.array([4.0, 1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(tg.grad(tnp.median)(x).numpy(), [0.0, 0.0, 0.5, 0.5])


def test_nanmax_ties_share_gradient() -> None:
    x = np.array([1.0, 3.0, np.nan, 3.0])
    np.testing.assert_array_equal(tg.grad(tnp.nanmax)(x).numpy(), [0.0, 0.5, 0.0, 0.5])


def test_corrcoef_diagonal_and_scalar() -> None:
    np.testing.assert_allclose(np.diag(tnp.corrcoef(X35)), 1.0)
    assert float(tnp.corrcoef(V7)) == 1.0


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: tnp.quantile(X35, 1.5), ValueError),
        (lambda: tnp.percentile(X35, -1), ValueError),
        (lambda: tnp.quantile(X35, 0.5, method="bogus"), ValueError),
        (lambda: tnp.convolve(np.array([]), V4), ValueError),
        (lambda: tnp.correlate(X35, V4), ValueError),
        (lambda: tnp.correlate(V4, V7, mode="wide"), ValueError),
        (lambda: tnp.rot90(X35, axes=(0, 0)), ValueError),
        (lambda: tnp.diff(np.array(1.0)), ValueError),
        (lambda: tnp.diff(V4, n=-1), ValueError),
        (lambda: tnp.block([[X35], X35]), ValueError),
        (lambda: tnp.block([]), ValueError),
        (lambda: tnp.block((X35, X35)), TypeError),
        (lambda: tnp.interp(V4, np.array([]), np.array([])), ValueError),
        (lambda: tnp.interp(V4, V7, V4), ValueError),
        (lambda: tnp.ldexp(V4, 1.5), TypeError),
        (lambda: tnp.ediff1d(np.arange(3), to_begin=0.5), TypeError),
        (lambda: tnp.piecewise(V4, [V4 > 0], [np.sin, np.cos, np.exp]), ValueError),
        (lambda: tnp.cov(np.ones((2, 2, 2))), ValueError),
        (lambda: tnp.vecdot(X35, V4), ValueError),
    ],
)
def test_errors(call: Callable[[], Any], error: type) -> None:
    with pytest.raises(error):
        call()


def test_pieces_see_only_their_elements() -> None:
    x = np.array([-4.0, 1.0, 9.0])
    out = tnp.piecewise(x, [x < 0], [lambda v: tnp.sqrt(-v), tnp.sqrt])
    np.testing.assert_array_equal(out, [2.0, 1.0, 3.0])


# -- shapes and axes by hypothesis ------------------------------------------------------
@st.composite
def _array_and_axis(draw: st.DrawFn) -> tuple[np.ndarray, Any]:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    a = draw(hnp.arrays(np.float64, shape, elements=st.floats(-100, 100) | st.just(np.nan)))
    axis = draw(
        st.none()
        | st.integers(-len(shape), len(shape) - 1)
        | st.sets(st.integers(0, len(shape) - 1), min_size=1).map(tuple)
    )
    return a, axis


@given(
    _array_and_axis(),
    st.booleans(),
    st.lists(st.floats(0, 1), min_size=1, max_size=3),
    st.sampled_from(["linear", "nearest", "hazen", "closest_observation"]),
)
def test_order_statistics_match_numpy(
    data: tuple[np.ndarray, Any], keepdims: bool, q: list[float], method: str
) -> None:
    a, axis = data
    q_arr = np.array(q)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pairs = [
            (tnp.median(a, axis, keepdims=keepdims), np.median(a, axis, keepdims=keepdims)),
            (tnp.nanmedian(a, axis, keepdims=keepdims), np.nanmedian(a, axis, keepdims=keepdims)),
            (
                tnp.quantile(a, q_arr, axis, method=method, keepdims=keepdims),
                np.quantile(a, q_arr, axis, method=method, keepdims=keepdims),
            ),
            (
                tnp.nanquantile(a, q_arr, axis, method=method, keepdims=keepdims),
                np.nanquantile(a, q_arr, axis, method=method, keepdims=keepdims),
            ),
            (tnp.nanmax(a, axis, keepdims=keepdims), np.nanmax(a, axis, keepdims=keepdims)),
            (
                tnp.nanvar(a, axis, keepdims=keepdims, ddof=1),
                np.nanvar(a, axis, keepdims=keepdims, ddof=1),
            ),
        ]
    for got, want in pairs:
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, equal_nan=True)
