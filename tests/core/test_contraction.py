"""einsum on matmul (`core/prims/contraction.py`) against numpy.einsum."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.core.prims.contraction import einsum

LETTERS = "abcdef"


@st.composite
def contractions(draw: st.DrawFn) -> tuple[str, list[np.ndarray]]:
    sizes = {c: draw(st.integers(0, 3)) for c in LETTERS}
    count = draw(st.integers(2, 3))
    terms = [
        draw(st.permutations(LETTERS).map(lambda p: p[: draw(st.integers(0, 4))]))
        for _ in range(count)
    ]
    terms = ["".join(t) for t in terms]
    used = sorted(set("".join(terms)))
    output = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    operands = []
    for term in terms:
        # A size-1 axis broadcasts against the other operands' (as numpy.einsum allows).
        shape = tuple(1 if draw(st.booleans()) and draw(st.booleans()) else sizes[c] for c in term)
        operands.append((rng.standard_normal(shape) * 3).astype(dtype))
    return ",".join(terms) + "->" + output, operands


@settings(max_examples=300, deadline=None)
@given(contractions())
def test_matches_numpy_einsum(case: tuple[str, list[np.ndarray]]) -> None:
    subscripts, operands = case
    try:
        expected = np.einsum(subscripts, *operands)
    except ValueError:
        with pytest.raises(ValueError):
            einsum(subscripts, *operands)
        return
    got = einsum(subscripts, *operands)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    rtol = 1e-4 if expected.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * 10)


@pytest.mark.parametrize(
    "subscripts, shapes",
    [
        ("bqhd,bkhd->bhqk", [(2, 5, 3, 4), (2, 6, 3, 4)]),  # attention scores
        ("bhqk,bkhd->bqhd", [(2, 3, 5, 6), (2, 6, 3, 4)]),  # attention combine
        ("abc,cde->abde", [(2, 7, 1), (1, 3, 4)]),  # projection of one feature
        ("ij,ij->ij", [(3, 4), (3, 4)]),  # nothing contracted
        ("ii->i", [(3, 3)]),  # diagonal: numpy.einsum itself
        ("ij,jk", [(2, 3), (3, 4)]),  # implicit output
    ],
)
def test_named_cases(subscripts: str, shapes: list[tuple[int, ...]]) -> None:
    rng = np.random.default_rng(0)
    operands = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(
        einsum(subscripts, *operands), np.einsum(subscripts, *operands), rtol=1e-12
    )


def test_contraction_runs_on_matmul(monkeypatch: pytest.MonkeyPatch) -> None:
    """The attention score contraction never reaches numpy.einsum's own loop."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("numpy.einsum called")

    monkeypatch.setattr(np, "einsum", refuse)
    q, k = np.ones((2, 5, 3, 4)), np.ones((2, 6, 3, 4))
    assert einsum("bqhd,bkhd->bhqk", q, k).shape == (2, 3, 5, 6)
    # ... nor in the gradient, which is an einsum of the cotangent with the other operand.
    grad = tg.grad(lambda q: tnp.sum(tnp.einsum("bqhd,bkhd->bhqk", q, k) ** 2))(q)
    assert grad.shape == q.shape


def test_three_operands_follow_a_contraction_order() -> None:
    rng = np.random.default_rng(1)
    a, b, c = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    np.testing.assert_allclose(einsum("ij,jk,k->i", a, b, c), a @ b @ c, rtol=1e-12)
