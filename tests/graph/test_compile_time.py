"""Pieces of the compiler made faster for large graphs keep their results."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tapegrad.graph.codegen import _has_loop
from tapegrad.graph.passes.fusion import _bits


@settings(max_examples=200, deadline=None, database=None)
@given(st.integers(min_value=0, max_value=(1 << 3000) - 1), st.integers(0, 3000))
def test_bits_lists_the_set_bits_in_order(mask: int, sparse_from: int) -> None:
    # Dense and sparse masks take different paths: cover both with the same bits.
    for value in (mask, mask & ((1 << sparse_from) - 1) & 0x8000_0001_0000_0400_0000_0001):
        expected = [i for i in range(value.bit_length()) if value >> i & 1]
        assert _bits(value) == expected


def test_bits_of_dense_and_sparse_masks() -> None:
    assert _bits(0) == []
    assert _bits(1 << 2999) == [2999]
    assert _bits((1 << 700) - 1) == list(range(700))
    assert _bits(0b1011_0000_0001) == [0, 8, 9, 11]


def test_has_loop_matches_the_ufuncs_types() -> None:
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    assert _has_loop(np.add, f32)
    assert _has_loop(np.tanh, f64)
    assert not _has_loop(np.ldexp, f32)  # (its exponent is an integer)
