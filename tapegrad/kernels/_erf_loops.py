"""numba loops of the `numba_erf` kernels (imported on their first call, where numba is installed).

float64 arrays go through libm's ``erf``/``exp`` (scalar calls, the impls' own functions).
float32 arrays go through loops with no libm call, which LLVM vectorizes (packed ymm/zmm
arithmetic): each element is widened to float64, computed with polynomials to a relative
error near 1e-10 and rounded once, so the float32 result is the exact value correctly
rounded except within about 1e-10 of a rounding boundary (at most one ulp off).

The pieces, for ``t >= 0``:

* ``erfc(t) = exp(-t**2) * erfcx(t)``, with ``erfcx`` (the scaled complementary error
  function) a degree-12 polynomial in ``u = (t - 3) / (t + 3)``: a least-squares fit of
  ``1 / erfcx`` weighted at 600 Chebyshev nodes of ``t`` in [0, 12], relative error
  4.4e-11 there. Written this way, ``Phi(x) = erfc(-x / sqrt 2) / 2`` keeps its relative
  accuracy in the far negative tail, where ``1 + erf`` cancels.
* ``exp(-a)`` for ``0 <= a <= 128``: ``a = k ln 2 + r`` with ``|r| <= ln 2 / 2``, ``exp(-r)``
  by its Taylor polynomial of degree 10 (relative error under 3e-13), ``2**-k`` built from
  its bits; ``k`` is read off the bits of ``a log2(e) + 1.5 * 2**52``, whose last mantissa
  bits hold the nearest integer (no float-to-integer conversion, which AVX2 lacks packed).
* ``erf(x)`` for ``|x| < 0.5``: its Taylor series to ``x**17`` (relative error under 3e-13),
  where ``1 - erfc`` would cancel.

Arguments past the range where the result stops changing (``|x| >= 16`` for the GELU,
``>= 6`` for ``erf``), infinities and NaN take the impls' own formulas at their limits,
so they give what the impls give (``gelu(-inf)`` is NaN there: ``-inf * 0``).
No ``fastmath``: the bit tricks need IEEE rounding, and NaN and the infinities must pass.
"""

from __future__ import annotations

import math

import numpy as np

from tapegrad.kernels._numba import njit

_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
_ROUND = 6755399441055744.0  # 1.5 * 2**52: adding it rounds a float64 below 2**51 to an integer
_ROUND_BITS = 0x4338000000000000  # its bit pattern
# 1 / n! for n = 0..10: exp's Taylor coefficients.
_F0, _F1, _F2, _F3, _F4, _F5, _F6, _F7, _F8, _F9, _F10 = (
    1.0 / math.factorial(n) for n in range(11)
)
# erf(x) = x * sum_n E_n x**(2n): E_n = 2 / sqrt(pi) * (-1)**n / (n! (2n + 1)), n = 0..8.
_E0, _E1, _E2, _E3, _E4, _E5, _E6, _E7, _E8 = (
    2.0 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(9)
)
# erfcx(t) as a polynomial in u = (t - 3) / (t + 3), highest degree first (see above).
_C12 = -6.900388920143485e-06
_C11 = -1.0039478249829895e-05
_C10 = 6.377922531437759e-05
_C9 = 4.3617752023458594e-05
_C8 = -0.0005970612405535335
_C7 = 0.0007082339578062529
_C6 = 0.004269138430267186
_C5 = -0.024392572896689887
_C4 = 0.07166583875269696
_C3 = -0.1501159316889687
_C2 = 0.24560380151012523
_C1 = -0.326233560129475
_C0 = 0.17900115118397322


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def exp_neg(a: float) -> float:  # pragma: no cover (compiled)
    """``exp(-a)`` for ``0 <= a <= 128`` (float64), no libm call."""
    j = a * _LOG2E + _ROUND
    k = j - _ROUND  # the integer nearest a log2(e), exactly
    r = k * _LN2 - a  # exp(-a) = 2**-k exp(r), |r| <= ln 2 / 2
    p = _F10 * r + _F9
    p = p * r + _F8
    p = p * r + _F7
    p = p * r + _F6
    p = p * r + _F5
    p = p * r + _F4
    p = p * r + _F3
    p = p * r + _F2
    p = p * r + _F1
    p = p * r + _F0
    bits = np.float64(j).view(np.int64) - _ROUND_BITS  # k as an integer
    return p * np.int64((1023 - bits) << 52).view(np.float64)


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def erfcx(t: float) -> float:  # pragma: no cover (compiled)
    """``exp(t**2) erfc(t)`` for ``0 <= t <= 12`` (float64), relative error under 5e-11."""
    u = (t - 3.0) / (t + 3.0)
    p = _C12 * u + _C11
    p = p * u + _C10
    p = p * u + _C9
    p = p * u + _C8
    p = p * u + _C7
    p = p * u + _C6
    p = p * u + _C5
    p = p * u + _C4
    p = p * u + _C3
    p = p * u + _C2
    p = p * u + _C1
    return p * u + _C0


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def cdf_pdf(c: float) -> tuple[float, float]:  # pragma: no cover (compiled)
    """The normal distribution's ``Phi(c)`` and ``phi(c)`` for ``|c| <= 16`` (float64)."""
    e = exp_neg(0.5 * c * c)
    half_erfc = 0.5 * e * erfcx(abs(c) * _SQRT_HALF)  # Phi(-|c|), accurate in the tail
    cdf = half_erfc if c < 0.0 else 1.0 - half_erfc
    return cdf, e * _INV_SQRT_2PI


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def clamp(d: float, bound: float) -> float:  # pragma: no cover (compiled)
    """``d`` within ``[-bound, bound]``, NaN to ``-bound`` (the caller's tail takes it)."""
    c = d if d > -bound else -bound
    return c if c < bound else bound


@njit(error_model="numpy", fastmath={"contract"})
def erf_into(x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """``out[i] = erf(x[i])`` on flat float64 arrays: libm's, as the impl."""
    for i in range(x.size):
        out[i] = math.erf(x[i])


@njit(error_model="numpy", fastmath={"contract"})
def erf_into_f32(x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """``out[i] = erf(x[i])`` on flat float32 arrays, vectorized (see above)."""
    for i in range(x.size):
        d = np.float64(x[i])
        c = clamp(d, 6.0)
        ac = abs(c)
        s = c * c
        small = _E8 * s + _E7
        small = small * s + _E6
        small = small * s + _E5
        small = small * s + _E4
        small = small * s + _E3
        small = small * s + _E2
        small = small * s + _E1
        small = (small * s + _E0) * c
        big = 1.0 - exp_neg(s) * erfcx(ac)
        y = small if ac < 0.5 else (big if c > 0.0 else -big)
        if not abs(d) < 6.0:  # erf is +-1 to float32 there; NaN stays NaN
            y = 1.0 if d > 0.0 else (-1.0 if d < 0.0 else d)
        out[i] = y


@njit(error_model="numpy", fastmath={"contract"})
def gelu_into(x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """``out[i] = x / 2 * (1 + erf(x / sqrt 2))`` on flat float64 arrays, with libm's erf."""
    for i in range(x.size):
        v = x[i]
        out[i] = 0.5 * v * (1.0 + math.erf(v * _SQRT_HALF))


@njit(error_model="numpy", fastmath={"contract"})
def gelu_into_f32(x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """``out[i] = x Phi(x)`` on flat float32 arrays, vectorized (see above)."""
    for i in range(x.size):
        d = np.float64(x[i])
        c = clamp(d, 16.0)
        y = c * cdf_pdf(c)[0]
        if not abs(d) < 16.0:  # x Phi(x) is x or -0 to float32 there; the impl's limits
            y = d if d > 0.0 else d * 0.0
        out[i] = y


@njit(error_model="numpy", fastmath={"contract"})
def gelu_grad_into(x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """``out[i] = Phi(x) + x phi(x)`` on flat float64 arrays, with libm's erf and exp."""
    for i in range(x.size):
        v = x[i]
        cdf = 0.5 * (1.0 + math.erf(v * _SQRT_HALF))
        out[i] = cdf + v * (math.exp(-0.5 * (v * v)) * _INV_SQRT_2PI)


@njit(error_model="numpy", fastmath={"contract"})
def gelu_grad_into_f32(x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """``out[i] = Phi(x) + x phi(x)`` on flat float32 arrays, vectorized (see above)."""
    for i in range(x.size):
        d = np.float64(x[i])
        c = clamp(d, 16.0)
        cdf, pdf = cdf_pdf(c)
        y = cdf + c * pdf
        if not abs(d) < 16.0:  # 1 or 0 to float32 there; the impl's limits (NaN at +-inf)
            y = (1.0 if d > 0.0 else 0.0) + d * 0.0
        out[i] = y
