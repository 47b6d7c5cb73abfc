"""NumPy's in-place writers as functional updates: values against NumPy on a copy,
gradients in the array and the written values against finite differences, NumPy's own
behaviour on arrays, and the error pointing to ``inplace=False`` on Tensors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

RNG = np.random.default_rng(0)
SQUARE = RNG.uniform(-1, 1, (3, 3))
TALL = RNG.uniform(-1, 1, (5, 3))
CUBE = RNG.uniform(-1, 1, (2, 2, 2))
ROW = RNG.uniform(-1, 1, 6)

# name: (function name, the array, the written values, other arguments, keywords)
CASES: dict[str, tuple[str, np.ndarray, Any, tuple[Any, ...], dict[str, Any]]] = {
    "fill_diagonal scalar": ("fill_diagonal", SQUARE, np.array(0.5), (), {}),
    "fill_diagonal cycled values": ("fill_diagonal", SQUARE, np.array([1.0, 2.0]), (), {}),
    "fill_diagonal tall wrap": (
        "fill_diagonal",
        TALL,
        np.array([1.0, 2.0, 3.0]),
        (),
        {"wrap": True},
    ),
    "fill_diagonal tall": ("fill_diagonal", TALL, np.array(7.0), (), {}),
    "fill_diagonal cube": ("fill_diagonal", CUBE, np.array([4.0, 5.0]), (), {}),
    "put": ("put", ROW, np.array([9.0, 8.0]), ([0, -1, 3],), {}),
    "put repeated index": ("put", ROW, np.array([9.0, 8.0]), ([2, 2],), {}),
    "put wrap": ("put", SQUARE, np.array([9.0]), ([10, -12],), {"mode": "wrap"}),
    "put clip": ("put", SQUARE, np.array([9.0, 8.0]), ([-3, 40],), {"mode": "clip"}),
    "put_along_axis": ("put_along_axis", SQUARE, np.array([[1.0], [2.0], [3.0]]), (), {}),
    "put_along_axis broadcast": ("put_along_axis", SQUARE, np.array(5.0), (), {}),
    "putmask": ("putmask", SQUARE, np.array([10.0, 20.0]), (), {}),
    "place": ("place", SQUARE, np.array([10.0, 20.0]), (), {}),
    "copyto": ("copyto", SQUARE, np.array([1.0, 2.0, 3.0]), (), {}),
    "copyto where": ("copyto", SQUARE, np.array([1.0, 2.0, 3.0]), (), {"where": SQUARE > 0}),
}


def _call(name: str, xp: Any, a: Any, v: Any, other: tuple[Any, ...], kw: dict[str, Any]) -> Any:
    """The call of ``name`` in namespace ``xp`` (NumPy's argument order)."""
    f = getattr(xp, name)
    if name in ("fill_diagonal", "copyto"):
        return f(a, v, *other, **kw)
    if name == "put":
        return f(a, other[0], v, **kw)
    if name == "put_along_axis":
        return f(a, np.array([[2], [0], [1]]), v, 1, **kw)
    return f(a, SQUARE > 0, v, **kw)  # putmask, place


def _numpy(name: str, a: np.ndarray, v: Any, other: tuple[Any, ...], kw: dict[str, Any]) -> Any:
    out = a.copy()
    assert _call(name, np, out, v, other, kw) is None
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_functional_update_matches_numpy_and_differentiates(case: str) -> None:
    name, a, v, other, kw = CASES[case]
    want = _numpy(name, a, v, other, kw)
    ta, tv = tg.tensor(a), tg.tensor(v)
    got = _call(name, tnp, ta, tv, other, {**kw, "inplace": False})
    np.testing.assert_array_equal(got.numpy(), want)
    tg.check_grads(
        lambda a, v: _call(name, tnp, a, v, other, {**kw, "inplace": False}), [ta, tv], order=2
    )


def test_overwritten_entries_get_no_gradient() -> None:
    a, v = tg.tensor(ROW), tg.tensor([9.0, 8.0])
    ga, gv = tg.grad(lambda a, v: tnp.sum(tnp.put(a, [2, 2], v, inplace=False) * 3.0), (0, 1))(a, v)
    np.testing.assert_array_equal(ga.numpy(), [3, 3, 0, 3, 3, 3])
    np.testing.assert_array_equal(gv.numpy(), [0, 3])  # the later write wins, as in NumPy


@pytest.mark.parametrize("case", list(CASES))
def test_numpy_way_on_a_tensor_points_to_the_functional_form(case: str) -> None:
    name, a, v, other, kw = CASES[case]
    with pytest.raises(TypeError, match=rf"{name}.*inplace=False"):
        _call(name, tnp, tg.tensor(a), v, other, kw)


@pytest.mark.parametrize("case", list(CASES))
def test_numpy_arrays_are_updated_in_place(case: str) -> None:
    name, a, v, other, kw = CASES[case]
    out = a.copy()
    assert _call(name, tnp, out, v, other, kw) is None
    np.testing.assert_array_equal(out, _numpy(name, a, v, other, kw))
    copy = _call(name, tnp, a, v, other, {**kw, "inplace": False})
    assert isinstance(copy, np.ndarray)
    np.testing.assert_array_equal(copy, out)


def test_numpy_arrays_take_tensor_values_functionally() -> None:
    v = tg.tensor(2.0)
    g = tg.grad(lambda v: tnp.sum(tnp.fill_diagonal(np.zeros((3, 3)), v, inplace=False)))(v)
    assert float(g) == 3.0


def test_errors_name_the_problem() -> None:
    t = tg.tensor(ROW)
    with pytest.raises(IndexError, match="out of bounds"):
        tnp.put(t, [6], 1.0, inplace=False)
    with pytest.raises(ValueError, match="clipmode"):
        tnp.put(t, [0], 1.0, mode="bad", inplace=False)
    with pytest.raises(ValueError, match="at least 2-d"):
        tnp.fill_diagonal(t, 1.0, inplace=False)
    with pytest.raises(ValueError, match="same size"):
        tnp.putmask(t, np.array([True]), 1.0, inplace=False)
    with pytest.raises(ValueError, match="empty"):
        tnp.place(t, t > 0, [], inplace=False)
    with pytest.raises(TypeError, match="cannot cast"):
        tnp.copyto(tg.tensor([1, 2]), tg.tensor([0.5, 1.5]), inplace=False)


def test_traced_masks_select_by_the_values_they_run_on() -> None:
    step = tg.function(lambda x: tnp.putmask(x, x < 0, 0.0, inplace=False))
    np.testing.assert_array_equal(step(tg.tensor([-1.0, 2.0])).numpy(), [0.0, 2.0])
    np.testing.assert_array_equal(step(tg.tensor([1.0, -2.0])).numpy(), [1.0, 0.0])


CONVERSIONS: dict[str, Callable[..., Any]] = {
    "asanyarray": tnp.asanyarray,
    "ascontiguousarray": tnp.ascontiguousarray,
    "require": lambda a, dtype=None: tnp.require(a, dtype, "C"),
}


@pytest.mark.parametrize("name", list(CONVERSIONS))
def test_conversions_keep_tensors_differentiable(name: str) -> None:
    f = CONVERSIONS[name]
    x = tg.tensor([1.0, 2.0])
    assert f(x) is x
    assert f(x, "float64").dtype == np.float64
    assert float(tg.grad(lambda x: tnp.sum(f(x, "float64") ** 2))(x)[1]) == 4.0
    np.testing.assert_array_equal(np.asarray(f([1, 2])), [1, 2])


def test_conversion_details() -> None:
    assert tnp.ascontiguousarray(tg.tensor(3.0)).shape == (1,)
    with pytest.raises(ValueError, match="writeable"):
        tnp.require(tg.tensor([1.0]), requirements=["W"])
    with pytest.raises(KeyError):
        tnp.require(tg.tensor([1.0]), requirements=["Z"])
    plain = tnp.require(np.arange(3), np.float64, ["F", "W"])
    assert plain.flags.writeable
    assert tnp.array_equiv(tg.tensor([1.0, 2.0]), [[1.0, 2.0], [1.0, 2.0]]) is True
    assert tnp.array_equiv(tg.tensor([1.0, 2.0]), [1.0, 3.0]) is False
