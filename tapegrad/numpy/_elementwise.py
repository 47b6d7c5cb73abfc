"""Elementwise functions beyond `_math`: remainders and signs, floating-point
decomposition (``frexp``, ``ldexp``, ``modf``), and the real and imaginary parts.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tg.grad(lambda x: tnp.fmod(x, 3.0))(tg.tensor(-7.0)).numpy()
    array(1., dtype=float32)
    >>> tnp.copysign(np.array([1.0, 2.0]), -1.0)
    array([-1., -2.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor
from tapegrad.numpy._arguments import PY_SCALAR as _PY_SCALAR
from tapegrad.numpy._arguments import cast_to as _as
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import read as _read
from tapegrad.numpy._arguments import shape_of as _shape

__all__ = [
    "angle",
    "copysign",
    "divmod",
    "float_power",
    "fmod",
    "frexp",
    "heaviside",
    "imag",
    "ldexp",
    "modf",
    "real_if_close",
    "sort_complex",
]


def _result_dtype(ufunc: np.ufunc, *args: Any) -> np.dtype:
    """The dtype NumPy's ``ufunc`` gives for these arguments (Python scalars stay weak)."""
    probes = [a if isinstance(a, _PY_SCALAR) else np.zeros((), _dtype(a)) for a in args]
    with np.errstate(all="ignore"):
        out = ufunc(*probes)
    return np.result_type(out[0] if isinstance(out, tuple) else out)


def _unit(flip: Any, dtype: np.dtype) -> Any:
    """-1 where ``flip`` holds, else 1: multiplying by it is exact."""
    return P.where_p(flip, dtype.type(-1), dtype.type(1))


# Signs are read with the `signbit` primitive (not from the values at hand), so traced
# graphs take the signs of the values they run on.
def fmod(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.fmod`` (sign of ``x1``): d/dx1 = 1, d/dx2 = -trunc(x1/x2)."""
    dtype = _result_dtype(np.fmod, x1, x2)
    x1, x2 = _as(x1, dtype), _as(x2, dtype)
    # fmod(x1, x2) = s * remainder(|x1|, |x2|) with s the sign of x1; the absolute values
    # are products with +-1, exact, and keep d/dx1 = 1 at x1 = 0 (abs would give 0).
    s1 = _unit(P.signbit_p(x1), dtype)
    s2 = _unit(P.signbit_p(x2), dtype)
    return s1 * P.remainder_p(s1 * x1, s2 * x2)


def copysign(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.copysign`` in ``x1`` (``x2`` only contributes its sign)."""
    dtype = _result_dtype(np.copysign, x1, x2)
    x1 = _as(x1, dtype)
    return x1 * _unit(P.not_equal_p(P.signbit_p(x1), P.signbit_p(x2)), dtype)


def float_power(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.float_power``: ``power`` in float64 (or complex128)."""
    dtype = _result_dtype(np.float_power, x1, x2)
    return P.power_p(_as(x1, dtype), _as(x2, dtype))


def heaviside(x1: Any, x2: Any, /) -> Any:
    """``numpy.heaviside``: 0 below zero, 1 above, ``x2`` at zero (its gradient flows)."""
    dtype = _result_dtype(np.heaviside, x1, x2)
    below = P.where_p(P.less_p(x1, 0), dtype.type(0), dtype.type(1))
    step = P.where_p(P.isnan_p(x1), dtype.type(np.nan), below)
    return P.where_p(P.equal_p(x1, 0), _as(x2, dtype), step)


def _times_pow2(x: Any, k: Any, dtype: np.dtype) -> Any:
    """``x * 2**k``, exact: two factors, so none overflows where ``2**k`` alone would."""
    half = P.floor_divide_p(k, 2)
    one = np.ones((), dtype)
    return x * P.ldexp_p(one, half) * P.ldexp_p(one, k - half)


def ldexp(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.ldexp`` in ``x1``: ``x1 * 2**x2`` for integer ``x2``."""
    if _dtype(x2).kind not in "iub":
        raise TypeError(f"ldexp: the exponent x2 must be integer, got {_dtype(x2)}")
    dtype = _result_dtype(np.ldexp, x1, x2)
    return _times_pow2(_as(x1, dtype), x2, dtype)


def frexp(x: Any, /) -> tuple[Any, Any]:
    """``numpy.frexp``: the mantissa is differentiable (2**-exponent), the exponent not."""
    dtype = _result_dtype(np.frexp, x)
    exponent = P.frexp_exponent_p(x)
    scale = P.negative_p(P.cast_p(exponent, dtype=np.int64))
    return _times_pow2(_as(x, dtype), scale, dtype), exponent


def modf(x: Any, /) -> tuple[Any, Any]:
    """``numpy.modf``: the fractional part is differentiable (slope 1), the integral not."""
    dtype = _result_dtype(np.modf, x)
    x = _as(x, dtype)
    whole = P.trunc_p(x)
    finite = P.where_p(P.isinf_p(x), 0, x)  # inf - trunc(inf) would be NaN; modf gives 0
    # The fractional part keeps the sign of x, also when it is zero (modf(-2.0) is -0.0).
    return copysign(finite - P.trunc_p(finite), x), whole


def divmod(x1: Any, x2: Any, /) -> tuple[Any, Any]:  # noqa: A001 - NumPy's name
    """``numpy.divmod``: the quotient has no gradient, the remainder is differentiable."""
    return P.floor_divide_p(x1, x2), P.remainder_p(x1, x2)


def real_if_close(a: Any, tol: float = 100) -> Any:
    """``numpy.real_if_close``: real inputs are returned unchanged (gradient passes)."""
    if _dtype(a).kind != "c":
        return a
    if isinstance(a, Tensor):
        # The decision reads the values (as NumPy's); the result is differentiable.
        dtype = _dtype(a)
        if np.all(np.abs(np.imag(_read(a))) < tol * np.finfo(dtype).eps):
            return P.real_p(a)
        return a
    return np.real_if_close(a, tol)


def sort_complex(a: Any) -> Any:
    """``numpy.sort_complex``: sorted along the last axis by real part, then imaginary
    part, as a complex array; differentiable (a gather of the sorted positions).

    Examples:
        >>> import numpy as np
        >>> import tapegrad.numpy as tnp
        >>> tnp.sort_complex(np.array([1 + 2j, 1 - 1j, -3 + 0j]))
        array([-3.+0.j,  1.-1.j,  1.+2.j])
    """
    dtype = np.sort_complex(np.zeros(1, _dtype(a))).dtype  # NumPy's result dtype
    values = _read(a)
    if not isinstance(a, Tensor):
        return np.sort_complex(values)
    if _shape(a) == ():
        return _as(a, dtype)
    # NumPy orders complex numbers by real part, then imaginary part.
    order = np.argsort(np.asarray(values), axis=-1, kind="stable")
    index = tuple(np.indices(order.shape, sparse=True)[:-1]) + (order,)
    return _as(P.getitem_p(a, index=index), dtype)


def imag(val: Any) -> Any:
    """``numpy.imag``: differentiable for complex inputs (JAX's cotangent ``-1j g``);
    zeros for real inputs."""
    if _dtype(val).kind == "c":
        return P.imag_p(val) if isinstance(val, Tensor) else np.imag(val)
    return np.imag(np.zeros(_shape(val), _dtype(val)))


def angle(z: Any, deg: bool = False) -> Any:
    """``numpy.angle``: ``arctan2(imag, real)``, differentiable for complex inputs (0 or
    pi for real inputs; no gradient)."""
    if _dtype(z).kind == "c":
        if not isinstance(z, Tensor):
            return np.angle(z, deg)
        a = P.arctan2_p(P.imag_p(z), P.real_p(z))
        return a * (180 / np.pi) if deg else a
    # NumPy's arctan2(0, z), with the primitive: traced graphs see the signs they run on.
    if isinstance(z, Tensor):
        z = P.stop_gradient_p(z)
    a = P.arctan2_p(0, z if isinstance(z, Tensor) else np.asarray(z))
    return a * (180 / np.pi) if deg else a
