"""Full signatures: every keyword a NumPy function takes is a named parameter of
tapegrad.numpy's function of that name, and does what NumPy does or is refused with an
error naming it (never swallowed, never a generic "unexpected keyword argument")."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.numpy.coverage import report

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _served() -> list[tuple[str, str]]:
    return [
        (module, name)
        for module, entries in report().items()
        for name, kind in entries.items()
        if kind != "unsupported"
    ]


def _functions(module: str, name: str) -> tuple[Any, Any]:
    theirs = getattr(importlib.import_module(module), name)
    ours = getattr(importlib.import_module("tapegrad." + module), name)
    return theirs, ours


def _keywords(fn: Any) -> list[str]:
    return [p.name for p in inspect.signature(fn).parameters.values() if p.kind in _NAMED]


@pytest.mark.parametrize(("module", "name"), _served())
def test_numpy_keywords_are_named_parameters(module: str, name: str) -> None:
    theirs, ours = _functions(module, name)
    try:
        wanted = _keywords(theirs)
    except ValueError:  # (a NumPy builtin without a readable signature: nothing to compare)
        pytest.skip(f"numpy's {name} has no readable signature")
    assert set(wanted) - set(_keywords(ours)) == set()


def _ufuncs() -> list[str]:
    served = {name for module, name in _served() if module == "numpy"}
    return sorted(n for n in served if isinstance(getattr(np, n), np.ufunc))


def _inputs(name: str) -> list[Any]:
    ufunc = getattr(np, name)
    floats = any(t.split("->")[0].startswith(("d", "f")) for t in ufunc.types)
    if floats:
        values = [np.array([0.3, 0.6]), np.array([0.5, 0.2])]
    else:
        values = [np.array([3, 6]), np.array([1, 2])]
    if name == "ldexp":
        values[1] = np.array([1, 2])
    if name in ("matmul", "vecdot", "matvec", "vecmat"):
        values = [np.array([[0.3, 0.6], [0.1, 0.2]]), np.array([0.5, 0.2])]
        if name == "vecmat":
            values = values[::-1]
    return [tg.tensor(v) for v in values[: ufunc.nin]]


@pytest.mark.parametrize("name", _ufuncs())
def test_ufunc_keywords(name: str) -> None:
    f, args = getattr(tnp, name), _inputs(name)
    plain = f(*args)
    gufunc = getattr(np, name).signature is not None  # (matmul, vecdot, ...: no where=)
    defaults = f(*args, out=None, casting="same_kind", order="K", subok=True, **_where(gufunc))
    for got, want in zip(_tuple(defaults), _tuple(plain), strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    with pytest.raises(TypeError, match="out="):
        f(*args, out=np.empty(2))
    if not gufunc:
        with pytest.raises(TypeError, match="where="):
            f(*args, where=np.array([True, False]))
    with pytest.raises(ValueError, match="casting="):
        f(*args, casting="sometimes")
    with pytest.raises(TypeError, match="signature="):
        f(*args, signature="dd->d")


def _where(gufunc: bool) -> dict[str, Any]:
    return {} if gufunc else {"where": True}


def _tuple(x: Any) -> tuple[Any, ...]:
    return x if isinstance(x, tuple) else (x,)


@pytest.mark.parametrize("name", ["sin", "exp", "multiply", "hypot", "logaddexp", "matmul"])
def test_ufunc_dtype_computes_in_that_dtype_and_differentiates(name: str) -> None:
    f, args = getattr(tnp, name), _inputs(name)
    assert f(*args, dtype="float64").dtype == np.float64
    g = tg.grad(lambda x: tnp.sum(f(x, *args[1:], dtype="float64")))(args[0])
    assert g.dtype == args[0].dtype
    want = tg.grad(lambda x: tnp.sum(f(tnp.astype(x, "float64"), *args[1:])))(args[0])
    np.testing.assert_allclose(g.numpy(), want.numpy(), rtol=1e-6)


def test_dtype_is_checked_against_casting() -> None:
    x = tg.tensor([1.5, 2.5])
    with pytest.raises(TypeError, match="casting"):
        tnp.add(x, 1, dtype="int32")
    np.testing.assert_array_equal(tnp.add(x, 1, dtype="int32", casting="unsafe").numpy(), [2, 3])


# Functions NumPy gives an ``out=``: each call refuses an array for it, naming it.
OUT_CALLS = {
    "sum": lambda f, x: f(x, out=np.empty(())),
    "mean": lambda f, x: f(x, out=np.empty(())),
    "max": lambda f, x: f(x, out=np.empty(())),
    "cumsum": lambda f, x: f(x, out=np.empty(6)),
    "clip": lambda f, x: f(x, 0.0, 1.0, out=np.empty((2, 3))),
    "take": lambda f, x: f(x, [0], out=np.empty(1)),
    "around": lambda f, x: f(x, out=np.empty((2, 3))),
    "trace": lambda f, x: f(x, out=np.empty(())),
    "concatenate": lambda f, x: f([x, x], out=np.empty((4, 3))),
    "stack": lambda f, x: f([x, x], out=np.empty((2, 2, 3))),
    "einsum": lambda f, x: f("ij->j", x, out=np.empty(3)),
    "isposinf": lambda f, x: f(x, out=np.empty((2, 3), bool)),
    "fix": lambda f, x: f(x, out=np.empty((2, 3))),
    "nanmean": lambda f, x: f(x, out=np.empty(())),
}


@pytest.mark.parametrize("name", sorted(OUT_CALLS))
def test_out_is_refused_by_name(name: str) -> None:
    x = tg.tensor(np.linspace(0.1, 0.6, 6).reshape(2, 3))
    with pytest.raises(TypeError, match="out="):
        OUT_CALLS[name](getattr(tnp, name), x)


def test_reductions_take_where_and_initial() -> None:
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    keep = np.array([True, False])
    a = np.asarray(x)
    assert float(tnp.sum(x, where=keep, initial=1.0)) == np.sum(a, where=keep, initial=1.0)
    assert float(tnp.prod(x, where=keep)) == np.prod(a, where=keep)
    assert float(tnp.max(x, where=keep, initial=-1.0)) == np.max(a, where=keep, initial=-1.0)
    np.testing.assert_allclose(tnp.mean(x, axis=0, where=keep).numpy()[0], 2.0)
    g = tg.grad(lambda x: tnp.sum(x * x, where=keep, initial=3.0))(x)
    np.testing.assert_array_equal(g.numpy(), [[2.0, 0.0], [6.0, 0.0]])
    with pytest.raises(ValueError, match="initial="):
        tnp.min(x, where=keep)
    with pytest.raises(TypeError, match="where="):
        tnp.std(x, where=keep)


def test_other_keywords_numpy_documents() -> None:
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert tnp.concatenate([x, x], dtype="float64").dtype == np.float64
    assert tnp.array([1.0], ndmin=3).shape == (1, 1, 1)
    assert tnp.zeros_like(x, shape=(3,)).shape == (3,)
    assert tnp.full_like(x, 7.0, shape=(1, 4)).shape == (1, 4)
    np.testing.assert_array_equal(
        tnp.cumulative_sum(tg.tensor([1.0, 2.0]), include_initial=True).numpy(), [0.0, 1.0, 3.0]
    )
    np.testing.assert_allclose(float(tnp.std(x, correction=1)), np.std(np.asarray(x), ddof=1))
    np.testing.assert_array_equal(tnp.clip(x, min=2.5).numpy(), [[2.5, 2.5], [3.0, 4.0]])
    np.testing.assert_array_equal(tnp.sort(x, stable=True).numpy(), np.asarray(x))
    assert tnp.reshape(x, (4,), copy=False).shape == (4,)
    np.testing.assert_array_equal(tnp.asarray(x, device="cpu", copy=None, order="C"), x.numpy())
    with pytest.raises(TypeError, match="like="):
        tnp.zeros(2, like=np.ones(1))
    with pytest.raises(TypeError, match="device="):
        tnp.asarray(x, device="gpu")
    with pytest.raises(TypeError, match="order="):
        tnp.sort(x, order="field")
    with pytest.raises(TypeError, match="mean="):
        tnp.var(x, mean=2.0)
    with pytest.raises(TypeError, match="axes="):
        tnp.matmul(x, x, axes=[(0, 1), (0, 1), (0, 1)])


def test_arrays_passed_by_numpy_names() -> None:
    x = tg.tensor([1.5, -2.5])
    np.testing.assert_array_equal(tnp.fix(x=x).numpy(), [1.0, -2.0])
    values, counts = tnp.unique(ar=np.array([2, 1, 2]), return_counts=True)
    np.testing.assert_array_equal(counts, [1, 2])
