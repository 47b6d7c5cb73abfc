"""The numba ``erf`` kernel equals the table's impl bit for bit, the GELU kernels within an
ulp of the float64 result, and the registry picks them."""

from __future__ import annotations

import numpy as np
import pytest

from tapegrad.core import prims as P
from tapegrad.core.prims.elementwise import erf_p
from tapegrad.kernels import kernel_for, numba_erf

pytest.importorskip("numba")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_kernel_equals_the_impl_bit_for_bit(dtype: type) -> None:
    x = (np.random.default_rng(0).standard_normal((3, 50, 7)) * 3).astype(dtype)
    x[0, 0, :3] = [0.0, np.inf, -np.inf]
    strided = x[:, ::2].transpose(2, 0, 1)  # not contiguous
    for arr in (x, strided):
        assert kernel_for(erf_p, arr) is numba_erf.erf
        result = numba_erf.erf(arr)
        assert result.dtype == dtype
        np.testing.assert_array_equal(result, erf_p.impl(arr))
    assert np.isnan(numba_erf.erf(np.array([np.nan], dtype)))[0]


def test_erf_kernel_leaves_other_inputs_to_the_impl() -> None:
    assert kernel_for(erf_p, np.arange(3)) is erf_p.impl
    assert kernel_for(erf_p, 0.5) is erf_p.impl


@pytest.mark.parametrize("name", ["gelu", "gelu_grad"])
def test_gelu_kernels_equal_the_impls(name: str) -> None:
    prim = getattr(P, f"{name}_p")
    kernel = getattr(numba_erf, name)
    x64 = np.random.default_rng(1).standard_normal((4, 300)) * 4
    assert kernel_for(prim, x64) is kernel
    np.testing.assert_allclose(kernel(x64), prim.impl(x64), rtol=1e-12, atol=1e-15)
    x32 = x64.astype(np.float32)
    result = kernel(x32)
    assert result.dtype == np.float32
    # float64 inside and one rounding: the float64 result rounded, within an ulp (the
    # float32 impl rounds each step, and 1 + erf cancels for negative x).
    reference = prim.impl(x32.astype(np.float64)).astype(np.float32)
    ulps = np.abs(result.view(np.int32).astype(np.int64) - reference.view(np.int32))
    assert ulps.max() <= 1
