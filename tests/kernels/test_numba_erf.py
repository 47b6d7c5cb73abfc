"""The numba ``erf`` and GELU kernels against the table's impls and the exact values.

float64: ``erf`` bit for bit, the GELU kernels within rounding of the impls. float32: the
vectorized loops over a dense sweep (every 1e-4 in [-10, 10]), the tails, denormals, +-0,
+-inf and NaN, in ulps of the exact value (computed in float64 with ``erfc``, which keeps
the far negative tail accurate) and against the float32 impls.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tapegrad.core import prims as P
from tapegrad.core.prims.elementwise import erf_p
from tapegrad.kernels import kernel_for, numba_erf

pytest.importorskip("numba")

_SPECIALS = [0.0, -0.0, 1e-45, -1e-45, 1e-40, -3e-39, 1.2e-38, np.inf, -np.inf, np.nan]


def _sweep() -> np.ndarray:
    dense = np.arange(-100_000, 100_001) * 1e-4  # every 1e-4 in [-10, 10]
    tails = np.concatenate([np.linspace(-30, 30, 20_001), -np.geomspace(1e-30, 1e4, 2_000)])
    edges = [5.99, 6.0, 6.01, -6.0, 15.99, 16.0, 16.01, -15.99, -16.0, -16.01, -14.2, 3e38]
    return np.concatenate([dense, tails, edges, _SPECIALS]).astype(np.float32)


def _exact(name: str, x: np.ndarray) -> np.ndarray:
    """The float64 value of op ``name`` at ``x`` (float32 rounding of it: the target)."""
    d = x.astype(np.float64)
    if name == "erf":
        return np.frompyfunc(math.erf, 1, 1)(d).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        # Phi(x) = erfc(-x / sqrt 2) / 2: no cancellation for negative x.
        cdf = np.frompyfunc(math.erfc, 1, 1)(-d * math.sqrt(0.5)).astype(np.float64) / 2
        if name == "gelu":
            return d * cdf
        return cdf + d * np.exp(-0.5 * d * d) / math.sqrt(2 * math.pi)


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in float32 ulps (+0 and -0 one point; where either is not finite: 0)."""
    ia, ib = (v.view(np.int32).astype(np.int64) for v in (a, b))
    ia, ib = (np.where(i < 0, -(i & 0x7FFFFFFF), i) for i in (ia, ib))
    return np.where(np.isfinite(a) & np.isfinite(b), np.abs(ia - ib), 0)


_KERNELS = [("erf", erf_p), ("gelu", P.gelu_p), ("gelu_grad", P.gelu_grad_p)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_kernel_is_picked_for_float_arrays_strided_or_not(dtype: type) -> None:
    x = (np.random.default_rng(0).standard_normal((3, 50, 7)) * 3).astype(dtype)
    x[0, 0, :3] = [0.0, np.inf, -np.inf]
    strided = x[:, ::2].transpose(2, 0, 1)  # not contiguous
    for arr in (x, strided):
        assert kernel_for(erf_p, arr) is numba_erf.erf
        result = numba_erf.erf(arr)
        assert result.dtype == dtype
        assert result.shape == arr.shape
        # float64: libm's erf, bit for bit; float32: this sample rounds as the impl.
        np.testing.assert_array_equal(result, erf_p.impl(arr))
    assert np.isnan(numba_erf.erf(np.array([np.nan], dtype)))[0]


def test_erf_kernel_leaves_other_inputs_to_the_impl() -> None:
    assert kernel_for(erf_p, np.arange(3)) is erf_p.impl
    assert kernel_for(erf_p, 0.5) is erf_p.impl
    assert kernel_for(P.gelu_p, np.ones(3, np.float16)) is P.gelu_p.impl


def test_without_numba_the_impls_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numba_erf, "_loops", False)  # (as where numba cannot be imported)
    x = np.ones(4, np.float32)
    assert not numba_erf.applies(x)
    assert kernel_for(P.gelu_p, x) is P.gelu_p.impl


@pytest.mark.parametrize("name", ["gelu", "gelu_grad"])
def test_gelu_kernels_equal_the_float64_impls(name: str) -> None:
    prim = getattr(P, f"{name}_p")
    kernel = getattr(numba_erf, name)
    x64 = np.random.default_rng(1).standard_normal((4, 300)) * 4
    assert kernel_for(prim, x64) is kernel
    assert kernel_for(prim, x64.astype(np.float32)) is kernel
    np.testing.assert_allclose(kernel(x64), prim.impl(x64), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["erf", "gelu", "gelu_grad"])
def test_float32_kernels_within_an_ulp_of_the_exact_value(name: str) -> None:
    x = _sweep()
    result = getattr(numba_erf, name)(x)
    assert result.dtype == np.float32
    ulps = _ulps(result, _exact(name, x).astype(np.float32))
    if name == "gelu_grad":
        # Phi(x) + x phi(x) crosses zero at x = -0.7518: the terms cancel next to it.
        near_zero = np.abs(x + 0.7518) < 1e-3
        assert ulps[near_zero].max() <= 3
        ulps = ulps[~near_zero]
    assert ulps.max() <= 1


@pytest.mark.parametrize(("name", "prim"), _KERNELS)
def test_float32_kernels_against_the_float32_impls(name: str, prim: Any) -> None:
    x = _sweep()
    result = getattr(numba_erf, name)(x)
    with np.errstate(invalid="ignore"):
        impl = prim.impl(x)
    # +-inf and NaN where the impls give them (gelu(-inf) is -inf * 0 there: NaN).
    np.testing.assert_array_equal(np.isnan(result), np.isnan(impl))
    np.testing.assert_array_equal(result[np.isinf(impl)], impl[np.isinf(impl)])
    finite = np.isfinite(impl)
    diff = np.abs(result[finite].astype(np.float64) - impl[finite])
    if name == "erf":
        assert _ulps(result, impl).max() <= 1
    else:
        # The impls round erf to float32 before 1 + erf: absolute error up to |x| 2**-24
        # for gelu, 2**-24 for gelu_grad, besides the result's own rounding.
        scale = np.maximum(np.abs(x[finite]), 1.0) if name == "gelu" else 1.0
        assert (diff / scale).max() <= 2.0**-22


def test_float32_gelu_loops_vectorize() -> None:
    numba = pytest.importorskip("numba")
    from tapegrad.kernels import _erf_loops

    loop = numba.njit(error_model="numpy", fastmath={"contract"})(
        _erf_loops.gelu_grad_into_f32.py_func
    )
    x = np.linspace(-3, 3, 64, dtype=np.float32)
    out = np.empty_like(x)
    loop(x, out)
    np.testing.assert_array_equal(out, numba_erf.gelu_grad(x))
    ir = "".join(loop.inspect_llvm().values())
    assert " x double>" in ir  # packed float64 arithmetic (SIMD), no per-element libm call
