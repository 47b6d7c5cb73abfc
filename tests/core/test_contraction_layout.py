"""einsum writes a batched product straight into the output's index order: the attention's
contractions return C-ordered arrays (no transposed view for the next product to copy)."""

import numpy as np
import pytest

from tapegrad.core.prims.contraction import einsum

RNG = np.random.default_rng(0)
# (batch, T, heads, dim) projections and (batch, heads, T, S) scores, as MultiHeadAttention.
Q = RNG.standard_normal((2, 5, 3, 4)).astype(np.float32)
K = RNG.standard_normal((2, 6, 3, 4)).astype(np.float32)
P = RNG.standard_normal((2, 3, 5, 6)).astype(np.float32)
G = RNG.standard_normal((2, 5, 3, 4)).astype(np.float32)

CASES = [
    ("aecd,abcd->acbe", K, Q),  # scores: the product's columns are the output's rows
    ("acbe,aecd->abcd", P, K),  # combination (and the query's gradient)
    ("acbe,abcd->aecd", P, G),  # the value's gradient
    ("abcd,acbe->aecd", G, P),
    ("abcd,aecd->acbe", G, K),  # the probabilities' gradient
]


@pytest.mark.parametrize(("subscripts", "x", "y"), CASES, ids=[c[0] for c in CASES])
def test_attention_contractions_are_c_ordered(
    subscripts: str, x: np.ndarray, y: np.ndarray
) -> None:
    out = einsum(subscripts, x, y)
    np.testing.assert_allclose(out, np.einsum(subscripts, x, y), rtol=1e-5, atol=1e-5)
    assert out.flags.c_contiguous
    assert out.dtype == np.float32


def test_layout_without_contiguous_rows_still_correct() -> None:
    # Output order "dcba": neither the product's rows nor its columns are contiguous in it.
    out = einsum("acbe,aecd->dcba", P, K)
    np.testing.assert_allclose(out, np.einsum("acbe,aecd->dcba", P, K), rtol=1e-5, atol=1e-5)


def test_broadcast_batch_and_mixed_dtypes() -> None:
    x = RNG.standard_normal((1, 2, 3, 4))
    y = RNG.standard_normal((5, 2, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(
        einsum("abij,abjk->bika", x, y), np.einsum("abij,abjk->bika", x, y), rtol=1e-6
    )
    ints = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(
        einsum("bij,bjk->kib", ints, ints.transpose(0, 2, 1)),
        np.einsum("bij,bjk->kib", ints, ints.transpose(0, 2, 1)),
    )
