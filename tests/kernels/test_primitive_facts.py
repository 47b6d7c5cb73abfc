"""Facts on the primitive records that the code generator reads instead of lists of names:
every primitive of the table declares them, and each declared fact holds for its impl."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tapegrad.core import prims
from tapegrad.core.primitive import Primitive

TABLE = sorted({p for p in vars(prims).values() if isinstance(p, Primitive)}, key=lambda p: p.name)
RETURNS = ("input", "view", "fresh_like_inputs", "fresh", "unknown")
X = np.arange(24.0).reshape(2, 3, 4) - 11.5


@pytest.mark.parametrize("prim", TABLE, ids=lambda p: p.name)
def test_every_primitive_declares_what_its_impl_returns(prim: Primitive) -> None:
    assert prim.returns in RETURNS, f"{prim.name}: declare returns= (one of {RETURNS})"
    if prim.ufunc is not None:
        assert prim.returns == "fresh_like_inputs"


@pytest.mark.parametrize("prim", [p for p in TABLE if p.returns == "input"], ids=lambda p: p.name)
def test_input_means_the_impl_returns_its_argument(prim: Primitive) -> None:
    assert prim.impl(X) is X


@pytest.mark.parametrize(
    "prim", [p for p in TABLE if p.reduce_ufunc is not None], ids=lambda p: p.name
)
def test_reduce_ufunc_is_the_impl(prim: Primitive) -> None:
    for axis in (None, 0, (1, 2)):
        for keepdims in (False, True):
            want = prim.impl(X, axis=axis, keepdims=keepdims)
            got = prim.reduce_ufunc.reduce(X, axis=axis, keepdims=keepdims)
            assert np.asarray(got).tobytes() == np.asarray(want).tobytes()


@pytest.mark.parametrize(
    "prim", [p for p in TABLE if p.view_method is not None], ids=lambda p: p.name
)
def test_view_method_is_the_impl(prim: Primitive) -> None:
    method, param = prim.view_method  # type: ignore[misc]
    value: Any = {"shape": (4, 6), "axes": (2, 0, 1)}[param]
    got = getattr(X, method)(value)
    want = prim.impl(X, **{param: value})
    assert got.shape == want.shape and got.tobytes() == want.tobytes()


@pytest.mark.parametrize(
    "prim", [p for p in TABLE if p.scatter_index is not None], ids=lambda p: p.name
)
def test_scatter_index_is_zeros_plus_g_at_the_index(prim: Primitive) -> None:
    index = (slice(None), 1)
    g = np.ones((2, 4))
    got = prim.impl(g, **{prim.scatter_index: index, "shape": X.shape})  # type: ignore[dict-item]
    want = np.zeros(X.shape)
    want[index] += g
    np.testing.assert_array_equal(got, want)


def test_paired_primitives_compute_both_results() -> None:
    paired = [p for p in TABLE if p.paired_with is not None]
    assert paired
    logits, labels = np.random.default_rng(1).standard_normal((3, 5)), np.array([0, 4, 2])
    for prim in paired:
        partner, both = prim.paired_with  # type: ignore[misc]
        loss, other = both.impl(logits, labels)
        assert loss.tobytes() == prim.impl(logits, labels).tobytes()
        assert other.tobytes() == partner.impl(logits, labels).tobytes()


@pytest.mark.parametrize(
    "prim", [p for p in TABLE if p.ufunc_steps is not None], ids=lambda p: p.name
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ufunc_steps_are_the_impl(prim: Primitive, dtype: Any) -> None:
    # As generated code runs them: into one buffer of the result's dtype, constants typed.
    x = np.concatenate([X.ravel(), [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30]]).astype(dtype)
    want = prim.impl(x)
    buffer = np.empty_like(x)
    for i, (ufunc, constant) in enumerate(prim.ufunc_steps):
        source = x if i == 0 else buffer
        if constant is None:
            ufunc(source, out=buffer)
        else:
            ufunc(source, np.dtype(dtype).type(constant), out=buffer)
    assert buffer.dtype == want.dtype
    assert buffer.tobytes() == want.tobytes()


def test_a_primitive_declares_ufunc_steps_not_a_name_list() -> None:
    # The code generator's "expand" form reads the fact (relu and sigmoid declare it).
    assert {p.name for p in TABLE if p.ufunc_steps is not None} >= {"relu", "sigmoid"}


C_ORDER_CASES: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("matmul", (np.ones((3, 4)), np.ones((4, 5))), {}),
    ("matmul", (np.ones((4, 3)).T, np.ones((5, 4)).T), {}),
    ("matmul", (np.ones((2, 3, 4)), np.ones((2, 4, 5))), {}),
    ("matmul", (np.ones((4, 3, 2)).T, np.ones((2, 4, 5))), {}),
    ("transpose", (np.ones((2, 3)),), {"axes": (1, 0)}),
    ("transpose", (np.ones((2, 3)),), {"axes": (0, 1)}),
    ("transpose", (np.ones((2, 3, 4)),), {"axes": (0, 2, 1)}),
    ("transpose", (np.ones((3, 2)).T,), {"axes": (0, 1)}),
]


@pytest.mark.parametrize("name, args, params", C_ORDER_CASES)
def test_c_order_holds_for_the_impl(name: str, args: tuple[Any, ...], params: Any) -> None:
    prim = next(p for p in TABLE if p.name == name)
    assert prim.c_order is not None
    inputs_c = all(a.ndim <= 1 or a.flags.c_contiguous for a in args)
    result = prim.impl(*args, **params)
    declared = prim.c_order(inputs_c, [a.shape for a in args], result.shape, params)
    if declared:  # (False promises nothing: the generator then plans for any layout)
        assert result.flags.c_contiguous
