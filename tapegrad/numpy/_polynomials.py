"""NumPy's polynomial functions on coefficient arrays (highest power first), differentiable:
``vander``, ``polyval``, ``polyfit``, ``poly``, ``polyadd``, ``polysub``, ``polymul``,
``polydiv``, ``polyder``, ``polyint``, ``roots``.

Each follows NumPy's own algorithm written with differentiable operations (Horner's rule,
the scaled least-squares fit through ``lstsq``, synthetic division), so values agree with
NumPy's and gradients flow to coefficients, sample points, data and weights. Only what
decides a result's *shape* is read from the values: ``polydiv`` and ``roots`` trim leading
zeros (refused on traced tensors, as every value-dependent shape).

Examples:
    >>> import tapegrad as tg
    >>> float(polyval([3.0, 0.0, 1.0], 2.0))
    13.0
    >>> p = tg.tensor([3.0, 0.0, 1.0])
    >>> tg.grad(lambda p: polyval(p, 2.0))(p).numpy()  # d/dp of 3 x^2 + 0 x + 1
    array([4., 2., 1.], dtype=float32)
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor
from tapegrad.core.tracing import is_traced
from tapegrad.numpy._arguments import as_array as _array
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import read as _read
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._signals import convolve
from tapegrad.numpy.linalg import eigvals, inv, lstsq, pinv

__all__ = [
    "poly",
    "polyadd",
    "polyder",
    "polydiv",
    "polyfit",
    "polyint",
    "polymul",
    "polysub",
    "polyval",
    "roots",
    "vander",
]


def _1d(a: Any) -> Any:
    a = _array(a)
    return P.reshape_p(a, shape=(1,)) if _ndim(a) == 0 else a


def _item(a: Any, i: Any) -> Any:
    return P.getitem_p(a, index=(i,))


def vander(x: Any, N: int | None = None, increasing: bool = False) -> Any:  # noqa: N803
    """Differentiable ``numpy.vander``: columns are powers of ``x``.

    Args:
        x: 1-D input.
        N: Number of columns (default ``len(x)``).
        increasing: Powers left to right increasing (default decreasing, as NumPy).

    Returns:
        The ``(len(x), N)`` Vandermonde matrix.

    Examples:
        >>> import numpy as np
        >>> vander(np.array([1, 2, 3]), 3)
        array([[1, 1, 1],
               [4, 2, 1],
               [9, 3, 1]])
    """
    x = _array(x)
    if _ndim(x) != 1:
        raise ValueError(f"vander: x must be a one-dimensional array or sequence, got {_shape(x)}")
    dtype = np.promote_types(_dtype(x), int)  # NumPy's: float32 becomes float64
    if dtype != _dtype(x):
        x = P.cast_p(x, dtype=dtype)
    n = _shape(x)[0] if N is None else int(N)
    column = P.reshape_p(x, shape=(_shape(x)[0], 1))
    # Running products, as NumPy's multiply.accumulate: exact gradients at x == 0.
    # x**0 is 1 even at inf or NaN (as NumPy): a where, a Tensor when x is one.
    ones = P.where_p(np.ones((1, 1), bool), np.ones((1, 1), dtype), column)
    powers: list[Any] = [ones] if n else []
    for _ in range(1, n):
        powers.append(powers[-1] * column)
    if not increasing:
        powers.reverse()
    if not powers:
        return P.broadcast_to_p(np.ones((1, 1), dtype), shape=(_shape(x)[0], 0))
    return P.concatenate_p(*powers, axis=1)


def polyval(p: Any, x: Any) -> Any:
    """Differentiable ``numpy.polyval`` (Horner's rule, as NumPy).

    Examples:
        >>> import numpy as np
        >>> polyval([3, 0, 1], np.array([1.0, 2.0]))
        array([ 4., 13.])
    """
    p, x = _array(p), _array(x)
    y: Any = np.zeros(_shape(x), _dtype(x))
    for i in range(_shape(p)[0] if _ndim(p) else 0):
        y = y * x + _item(p, i)
    return y


def polyadd(a1: Any, a2: Any) -> Any:
    """Differentiable ``numpy.polyadd`` (the shorter padded with leading zeros).

    Examples:
        >>> polyadd([1, 2], [9, 5, 4])
        array([9, 6, 6])
    """
    a1, a2 = _1d(a1), _1d(a2)
    diff = _shape(a2)[0] - _shape(a1)[0]
    if diff > 0:
        a1 = P.pad_p(a1, pad_width=((diff, 0),), constant_values=0)
    elif diff < 0:
        a2 = P.pad_p(a2, pad_width=((-diff, 0),), constant_values=0)
    return a1 + a2


def polysub(a1: Any, a2: Any) -> Any:
    """Differentiable ``numpy.polysub``.

    Examples:
        >>> polysub([2, 10, -2], [3, 10, -4])
        array([-1,  0,  2])
    """
    a1, a2 = _1d(a1), _1d(a2)
    diff = _shape(a2)[0] - _shape(a1)[0]
    if diff > 0:
        a1 = P.pad_p(a1, pad_width=((diff, 0),), constant_values=0)
    elif diff < 0:
        a2 = P.pad_p(a2, pad_width=((-diff, 0),), constant_values=0)
    return a1 - a2


def polymul(a1: Any, a2: Any) -> Any:
    """Differentiable ``numpy.polymul`` (a full convolution).

    Examples:
        >>> polymul([1, 2, 3], [9, 5, 1])
        array([ 9, 23, 38, 17,  3])
    """
    return convolve(_1d(a1), _1d(a2))


def polydiv(u: Any, v: Any) -> tuple[Any, Any]:
    """Differentiable ``numpy.polydiv``: quotient and remainder by synthetic division.

    The remainder's leading (near-)zeros are trimmed as NumPy does, which reads the values.

    Examples:
        >>> polydiv([3.0, 5.0, 2.0], [2.0, 1.0])
        (array([1.5 , 1.75]), array([0.25]))
    """
    u, v = _1d(u) + 0.0, _1d(v) + 0.0
    dtype = np.result_type(_dtype(u), _dtype(v))
    m, n = _shape(u)[0] - 1, _shape(v)[0] - 1
    scale = 1.0 / _item(v, 0)
    r = P.cast_p(u, dtype=dtype) if _dtype(u) != dtype else u
    quotient = []
    for k in range(0, m - n + 1):
        d = scale * _item(r, k)
        quotient.append(P.reshape_p(d, shape=(1,)))
        r = r - P.pad_p(d * v, pad_width=((k, m - n - k),), constant_values=0)
    q = P.concatenate_p(*quotient, axis=0) if quotient else np.zeros((1,), dtype)
    start = 0
    values = np.asarray(_read(r))
    while start < values.shape[-1] - 1 and np.allclose(values[start], 0, rtol=1e-14):
        start += 1
    return q, P.getitem_p(r, index=(slice(start, None),)) if start else r


def polyder(p: Any, m: int = 1) -> Any:
    """Differentiable ``numpy.polyder``: the ``m``-th derivative's coefficients.

    Examples:
        >>> polyder([1.0, 1.0, 1.0, 1.0], 2)
        array([6., 2.])
    """
    m = int(m)
    if m < 0:
        raise ValueError("Order of derivative must be positive (see polyint)")
    p = _array(p)
    for _ in range(m):
        n = _shape(p)[0] - 1
        p = P.getitem_p(p, index=(slice(None, -1),)) * np.arange(n, 0, -1)
    return p


def polyint(p: Any, m: int = 1, k: Any = None) -> Any:
    """Differentiable ``numpy.polyint``: the ``m``-th antiderivative.

    Args:
        p: Coefficients, highest power first.
        m: Order of the antiderivative.
        k: Integration constants (a scalar, or ``m`` of them, highest-order term's first;
            Tensors get gradients too). Default zeros.

    Examples:
        >>> polyint([1.0, 2.0], 2, k=[3.0, 4.0])
        array([0.16666667, 1.        , 3.        , 4.        ])
    """
    m = int(m)
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    constants = _1d(np.zeros(m) if k is None else k)
    count = _shape(constants)[0]
    if count == 1 and m > 1:
        constants = P.broadcast_to_p(constants, shape=(m,))
    elif count < m:
        raise ValueError("k must be a scalar or a rank-1 array of length 1 or >m.")
    p = _array(p)
    for i in range(m):
        length = _shape(p)[0]
        p = P.concatenate_p(
            p / np.arange(length, 0, -1), P.getitem_p(constants, index=(slice(i, i + 1),)), axis=0
        )
    return p


def polyfit(
    x: Any,
    y: Any,
    deg: int,
    rcond: float | None = None,
    full: bool = False,
    w: Any = None,
    cov: bool | str = False,
) -> Any:
    """Differentiable ``numpy.polyfit``: NumPy's scaled least-squares fit.

    Args:
        x: Sample points, 1-D.
        y: Values, 1-D or 2-D (one fit per column).
        deg: Degree of the polynomial.
        rcond: Relative cutoff of small singular values (default ``len(x) * eps``).
        full: Also return ``residuals, rank, singular_values, rcond``.
        w: Weights applied to the unsquared residuals.
        cov: Also return the coefficients' covariance (``"unscaled"``: not scaled by the
            residuals).

    Returns:
        The coefficients, highest power first (and the extras ``full``/``cov`` ask for).
        Gradients flow to ``x``, ``y`` and ``w`` through ``lstsq``.

    Examples:
        >>> import numpy as np
        >>> x = np.array([0.0, 1.0, 2.0, 3.0])
        >>> polyfit(x, 2 * x**2 - 1, 2).round(6) + 0.0  # (+ 0.0: no -0.)
        array([ 2.,  0., -1.])
    """
    order = int(deg) + 1
    x, y = _array(x) + 0.0, _array(y) + 0.0
    if deg < 0:
        raise ValueError("expected deg >= 0")
    if _ndim(x) != 1:
        raise TypeError("expected 1D vector for x")
    if _shape(x)[0] == 0:
        raise TypeError("expected non-empty vector for x")
    if _ndim(y) not in (1, 2):
        raise TypeError("expected 1D or 2D array for y")
    if _shape(x)[0] != _shape(y)[0]:
        raise TypeError("expected x and y to have same length")
    if rcond is None:
        rcond = _shape(x)[0] * float(np.finfo(_dtype(x)).eps)
    lhs, rhs = vander(x, order), y
    if w is not None:
        w = _array(w) + 0.0
        if _ndim(w) != 1:
            raise TypeError("expected a 1-d array for weights")
        if _shape(w)[0] != _shape(y)[0]:
            raise TypeError("expected w and y to have the same length")
        lhs = lhs * P.reshape_p(w, shape=(-1, 1))
        rhs = rhs * (P.reshape_p(w, shape=(-1, 1)) if _ndim(rhs) == 2 else w)
    # Columns scaled to unit norm: a better conditioned least-squares problem (as NumPy).
    scale = P.sqrt_p(P.sum_p(lhs * lhs, axis=(0,), keepdims=False))
    lhs = lhs / scale
    if full or cov:
        c, residuals, rank, singular = lstsq(lhs, rhs, rcond)
    else:
        # lstsq's solution without its residuals, whose shape depends on the rank (a value):
        # the plain fit stays traceable.
        c = P.matmul_p(pinv(lhs, rcond=rcond), rhs)
        if not is_traced(lhs):
            singular = np.linalg.svd(np.asarray(_read(lhs)), compute_uv=False)
            rank = int(np.sum(singular > rcond * singular.max()))
            if rank != order:
                warnings.warn(
                    "Polyfit may be poorly conditioned", np.exceptions.RankWarning, stacklevel=2
                )
    c = c / (P.reshape_p(scale, shape=(-1, 1)) if _ndim(c) == 2 else scale)
    if full:
        return c, residuals, rank, singular, rcond
    if not cov:
        return c
    base = inv(P.matmul_p(P.transpose_p(lhs, axes=(1, 0)), lhs))
    base = base / (P.reshape_p(scale, shape=(-1, 1)) * P.reshape_p(scale, shape=(1, -1)))
    if cov == "unscaled":
        factor: Any = 1.0
    else:
        if _shape(x)[0] <= order:
            raise ValueError(
                "the number of data points must exceed order to scale the covariance matrix"
            )
        factor = residuals / (_shape(x)[0] - order)
    if _ndim(y) == 1:
        return c, base * factor
    return c, P.reshape_p(base, shape=(order, order, 1)) * factor


def poly(seq_of_zeros: Any) -> Any:
    """Differentiable ``numpy.poly``: the monic polynomial with the given roots (or a
    square matrix's characteristic polynomial).

    Examples:
        >>> poly([1.0, 2.0])
        array([ 1., -3.,  2.])
    """
    zeros = _array(seq_of_zeros)
    shape = _shape(zeros)
    if len(shape) == 2 and shape[0] == shape[1] and shape[0] != 0:
        zeros = eigvals(zeros)  # complex in general; conjugate pairs give real coefficients
    elif len(shape) in (0, 1):
        zeros = _1d(zeros)
        if _dtype(zeros).kind in "iub":  # NumPy's mintypecode: integers become float64
            zeros = P.cast_p(zeros, dtype=np.dtype(np.float64))
    else:
        raise ValueError("input must be 1d or non-empty square 2d array.")
    if _shape(zeros)[0] == 0:
        return 1.0
    dtype = _dtype(zeros)
    coefficients: Any = np.ones((1,), dtype)
    for i in range(_shape(zeros)[0]):
        root = P.reshape_p(_item(zeros, i), shape=(1,))
        factor = P.concatenate_p(np.ones((1,), dtype), -root, axis=0)
        coefficients = convolve(coefficients, factor)
    if dtype.kind == "c":
        # Complex roots in conjugate pairs give real coefficients (NumPy's check).
        values = np.asarray(_read(zeros))
        if np.array_equal(np.sort(values), np.sort(np.conjugate(values))):
            coefficients = P.real_p(coefficients)
    return coefficients


def roots(p: Any) -> Any:
    """``numpy.roots``, differentiable in the coefficients.

    The roots are NumPy's (its companion-matrix eigenvalues, leading and trailing zeros
    stripped: the count depends on the values, so they are read). Gradients come from
    two Newton steps taken from those roots as constants: at a simple root the first
    step's derivative is the implicit function's, ``dr/dp_k = -r**(n-k) / p'(r)``, and the
    second makes second derivatives exact too. A repeated root has an infinite derivative.

    Examples:
        >>> import numpy as np
        >>> np.sort(roots([1.0, -3.0, 2.0])).round(6)
        array([1., 2.])
    """
    p = _1d(p)
    if _ndim(p) != 1:
        raise ValueError("Input must be a rank-1 array.")
    values = np.asarray(_read(p))
    found = np.roots(values)
    nonzero = np.nonzero(values)[0]
    if not isinstance(p, Tensor) or len(nonzero) == 0 or found.size == 0:
        return found
    leading, trailing = int(nonzero[0]), _shape(p)[0] - int(nonzero[-1]) - 1
    p = P.getitem_p(p, index=(slice(leading, int(nonzero[-1]) + 1),))
    derivative = polyder(p)
    # The zeros from trailing zero coefficients are exact: no step moves them.
    moving = found[: found.size - trailing] if trailing else found
    r: Any = moving
    for _ in range(2):
        r = r - polyval(p, r) / polyval(derivative, r)
    if trailing:
        r = P.concatenate_p(r, np.zeros((trailing,), found.dtype), axis=0)
    return r
