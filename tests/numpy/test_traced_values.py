"""`tapegrad.numpy` inside `tapegrad.function`: traced on some values, run on others.

Functions that compute something from their arguments' values must do it with primitives
(so the graph computes it from the values it runs on) or, when the *shape* of the result
depends on the values, refuse traced tensors with `TracerValueError`. The op-sample table
(``tests/opsamples.py``, run by ``tests/graph/test_parity.py``) covers most functions; here
are the refusals and a few cases the table's shapes and domains do not reach.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.core.tree import tree_flatten
from tapegrad.graph.function import TracerValueError

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
INTS = np.array([0, 3, 1, 3])
NAN_ROW = np.where(np.arange(3)[:, None] == 1, np.nan, X)  # row 1 all NaN


def _symmetric(seed: int, eigenvalues: list[float]) -> np.ndarray:
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((4, 4)))[0]
    return q @ np.diag(eigenvalues) @ q.T


REFUSED: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
    ("unique", tnp.unique, (X,)),
    ("unique_counts", tnp.unique_counts, (X,)),
    ("bincount", tnp.bincount, (INTS,)),
    ("histogram", lambda x: tnp.histogram(x, bins=3), (X,)),
    ("digitize_traced_bins", lambda b: tnp.digitize(np.zeros(3), b), (np.array([0.0, 1.0]),)),
    ("delete_traced_positions", lambda x, i: tnp.delete(x, i), (X[0], INTS[:2])),
    (
        "piecewise_traced_condition",
        lambda x: tnp.piecewise(x, [x < 0], [lambda v: -v, lambda v: v]),
        (X,),
    ),
    ("ix_traced_mask", lambda m: tnp.ix_(m), (X[0] > 0,)),
    ("lstsq_residuals", lambda a, b: tnp.linalg.lstsq(a, b), (X.T, X[0])),
    ("pinv_traced_rcond", lambda a, r: tnp.linalg.pinv(a, rcond=r), (X, np.array(0.1))),
    ("arange_traced_bound", tnp.arange, (np.array(3),)),
    ("allclose", tnp.allclose, (X, X)),
]


@pytest.mark.parametrize(("name", "func", "args"), REFUSED, ids=[r[0] for r in REFUSED])
def test_value_dependent_shapes_are_refused(
    name: str, func: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    tensors = [tg.Tensor(a) for a in args]
    func(*tensors)  # eagerly, Tensors have values
    with pytest.raises(TracerValueError, match="traced tensor"):
        tg.function(func, jit=False)(*tensors)


def _raw(x: Any) -> Any:
    return np.asarray(x._value if isinstance(x, tg.Tensor) else x)


# (name, function, arguments to trace on, arguments to run on)
CASES: list[tuple[str, Callable[..., Any], tuple[Any, ...], tuple[Any, ...]]] = [
    (
        "choose_wrap",
        lambda i, c: tnp.choose(i, c, mode="wrap"),
        (np.array([[0, 5], [-1, 2]]), X[:3, :2]),
        (np.array([[4, 1], [2, -2]]), X[:3, 2:]),
    ),
    (
        "choose_clip",
        lambda i, c: tnp.choose(i, c, mode="clip"),
        (np.array([0, 5, -1]), X[:, :3]),
        (np.array([7, -4, 1]), X[:, 1:]),
    ),
    (
        "unravel_index_f_order",
        lambda i: tnp.unravel_index(i, (3, 4, 2), order="F"),
        (np.array([5, 11, 23]),),
        (np.array([0, 17, 9]),),
    ),
    ("ix_integers", lambda i, j: tnp.ix_(i, j), (INTS[:2], INTS[2:]), (INTS[2:], INTS[:2])),
    (
        "matrix_rank",
        tnp.linalg.matrix_rank,
        (_symmetric(0, [3.0, -2.0, 0.5, 1.0]),),
        (_symmetric(1, [3.0, 0.0, 0.0, 1.0]),),
    ),
    (
        "matrix_rank_hermitian",
        lambda a: tnp.linalg.matrix_rank(a, hermitian=True),
        (_symmetric(0, [3.0, 0.0, 0.0, 1.0]),),
        (_symmetric(1, [3.0, -2.0, 0.5, 1.0]),),
    ),
    (
        "lstsq_underdetermined_rank",
        lambda a, b: tnp.linalg.lstsq(a, b)[2],
        (X, X[:, 0]),
        (np.outer(X[:, 0], X[0]), X[:, 1]),
    ),
    (
        "svd_hermitian",
        lambda a: tnp.linalg.svd(a, hermitian=True),
        (_symmetric(0, [3.0, -2.0, 0.5, 1.0]),),
        (_symmetric(1, [-0.5, 2.5, -1.5, 1.0]),),
    ),
    ("nanquantile_all_nan_row", lambda a: tnp.nanquantile(a, 0.3, axis=1), (X,), (NAN_ROW,)),
    (
        "median_nan_propagates",
        lambda a: tnp.median(a, axis=0),
        (X,),
        (np.where(X > 1.0, np.nan, X),),
    ),
    (
        "isin_tensor_tests",
        lambda x, t: tnp.isin(x, t, invert=True),
        (INTS, INTS[:2]),
        (INTS, INTS[2:]),
    ),
    ("array_copy_cast", lambda x: tnp.array(x, dtype=np.float32), (X,), (X * 2,)),
]


@pytest.mark.parametrize(("name", "func", "traced_on", "run_on"), CASES, ids=[c[0] for c in CASES])
def test_traced_functions_compute_from_the_values_they_run_on(
    name: str, func: Callable[..., Any], traced_on: tuple[Any, ...], run_on: tuple[Any, ...]
) -> None:
    function = tg.function(func, jit=False)
    with np.errstate(all="ignore"):
        function(*[tg.Tensor(a) for a in traced_on])
        got = function(*[tg.Tensor(a) for a in run_on])
        want = func(*[tg.Tensor(a) for a in run_on])
    assert function.tracing_count == 1
    got_leaves, want_leaves = tree_flatten(got)[0], tree_flatten(want)[0]
    assert len(got_leaves) == len(want_leaves)
    for g, w in zip(got_leaves, want_leaves, strict=True):
        np.testing.assert_array_equal(_raw(g), _raw(w))


def test_array_of_a_variable_is_a_copy_that_in_place_updates_do_not_reach() -> None:
    v = tg.Variable(np.ones(2, np.float32))
    snapshot = tnp.array(v)

    @tg.function
    def step() -> None:
        v.assign_sub(np.ones(2, np.float32))

    step()  # a compiled update writes into the Variable's array in place
    np.testing.assert_array_equal(v.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(snapshot.numpy(), [1.0, 1.0])
