"""The numba ``erf`` kernel equals the table's impl bit for bit, and the registry picks it."""

from __future__ import annotations

import numpy as np
import pytest

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
