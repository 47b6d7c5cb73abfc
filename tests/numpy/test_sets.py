"""Set operations (``intersect1d``, ``union1d``, ``setdiff1d``, ``setxor1d``) against
NumPy on drawn inputs with repeats, and their gradients: each kept element's cotangent
reaches the input element it was gathered from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg
import tapegrad.numpy as tnp

VALUES = hnp.arrays(np.float64, st.integers(0, 8), elements=st.integers(-4, 4).map(float))
OPS: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("intersect1d", tnp.intersect1d, np.intersect1d),
    ("union1d", tnp.union1d, np.union1d),
    ("setdiff1d", tnp.setdiff1d, np.setdiff1d),
    ("setxor1d", tnp.setxor1d, np.setxor1d),
]


@pytest.mark.parametrize("name, op, ref", OPS, ids=[o[0] for o in OPS])
@settings(max_examples=25, deadline=None, database=None)
@given(a=VALUES, b=VALUES)
def test_values_equal_numpy(name: str, op: Any, ref: Any, a: np.ndarray, b: np.ndarray) -> None:
    got = op(tg.tensor(a), tg.tensor(b))
    expected = ref(a, b)
    np.testing.assert_array_equal(got.numpy(), expected)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(op(a, b), expected)  # arrays in, arrays out
    if name != "union1d":
        unique_a, unique_b = np.unique(a), np.unique(b)
        np.testing.assert_array_equal(
            op(tg.tensor(unique_a), unique_b, assume_unique=True).numpy(),
            ref(unique_a, unique_b, assume_unique=True),
        )


def test_intersect1d_return_indices_equal_numpy() -> None:
    a, b = np.array([1.0, 3.0, 4.0, 3.0]), np.array([3.0, 1.0, 2.0, 1.0])
    values, i1, i2 = tnp.intersect1d(tg.tensor(a), b, return_indices=True)
    expected = np.intersect1d(a, b, return_indices=True)
    for got, want in zip((values.numpy(), i1, i2), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_gradients_reach_the_selected_elements() -> None:
    a = tg.tensor([5.0, 1.0, 3.0, 1.0])
    b = tg.tensor([3.0, 7.0])

    def weighted(out: Any) -> Any:
        return tnp.sum(out * np.arange(1.0, 1.0 + out.shape[0]))

    # union: sorted 1, 3, 5, 7 from the first occurrences (a[1], a[2], a[0], b[1]).
    ga, gb = tg.grad(lambda a, b: weighted(tnp.union1d(a, b)), argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(ga.numpy(), [3.0, 1.0, 2.0, 0.0])
    np.testing.assert_array_equal(gb.numpy(), [0.0, 4.0])
    # intersect: 3, taken from a.
    ga, gb = tg.grad(lambda a, b: weighted(tnp.intersect1d(a, b)), argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(ga.numpy(), [0.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(gb.numpy(), [0.0, 0.0])
    # setdiff: 1, 5 from a; b only decides what goes.
    ga = tg.grad(lambda a: weighted(tnp.setdiff1d(a, b)))(a)
    np.testing.assert_array_equal(ga.numpy(), [2.0, 1.0, 0.0, 0.0])
    # setxor: 1, 5, 7.
    ga, gb = tg.grad(lambda a, b: weighted(tnp.setxor1d(a, b)), argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(ga.numpy(), [2.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(gb.numpy(), [0.0, 3.0])


def test_two_dimensional_inputs_are_raveled() -> None:
    a = np.array([[2.0, 1.0], [1.0, 4.0]])
    np.testing.assert_array_equal(
        tnp.union1d(tg.tensor(a), [[9.0]]).numpy(), np.union1d(a, [[9.0]])
    )
    np.testing.assert_array_equal(
        tnp.setdiff1d(tg.tensor(a), [4.0]).numpy(), np.setdiff1d(a, [4.0])
    )


def test_sort_complex_equals_numpy_and_routes_gradients() -> None:
    for a in [
        np.array([[3 + 1j, 1 - 2j, 1 + 0j], [2.0, -1.0, 0.0]]),
        np.array([3.0, 1.0, 2.0], np.float32),
        np.array([3, 1], np.int8),
        np.array([1 + 2j, 1 + 1j, np.nan]),
    ]:
        got, expected = tnp.sort_complex(tg.tensor(a)), np.sort_complex(a)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got.numpy(), expected)
    x = tg.tensor(np.array([3.0, 1.0, 2.0]))
    grad = tg.grad(lambda x: tnp.sum(tnp.real(tnp.sort_complex(x)) * np.array([1.0, 2.0, 3.0])))(x)
    np.testing.assert_array_equal(grad.numpy(), [3.0, 1.0, 2.0])
