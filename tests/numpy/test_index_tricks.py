"""Grids from parameters (linspace, logspace, geomspace, arange, meshgrid) and NumPy's
index tricks (r_, c_, s_, index_exp, mgrid, ogrid): values against NumPy, derivatives
against finite differences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

F64 = np.float64


def _t(*values: Any) -> list[tg.Tensor]:
    return [tg.tensor(np.asarray(v, F64)) for v in values]


GRIDS = [
    ("linspace", (0.5, 2.0), {"num": 5}),
    ("linspace", (0.5, 2.0), {"num": 5, "endpoint": False}),
    ("linspace", ([0.5, 1.0], 2.0), {"num": 4, "axis": 1}),
    ("linspace", ([[0.5], [1.0]], [2.0, 3.0, 4.0]), {"num": 3, "axis": -1}),
    ("linspace", (0.5, 2.0), {"num": 1}),
    ("linspace", (0.5, 2.0), {"num": 0}),
    ("logspace", (0.5, 2.0), {"num": 5}),
    ("logspace", ([0.5, 1.0], 2.0), {"num": 3, "base": 2.0, "axis": -1, "endpoint": False}),
    ("geomspace", (0.5, 2.0), {"num": 5}),
    ("geomspace", (-0.5, -2.0), {"num": 4, "endpoint": False}),
    ("geomspace", ([0.5, 1.0], [2.0, 5.0]), {"num": 3, "axis": 1}),
]


@pytest.mark.parametrize(("name", "ends", "kwargs"), GRIDS)
def test_grids_from_tensor_endpoints(name: str, ends: tuple[Any, ...], kwargs: Any) -> None:
    f = getattr(tnp, name)
    args = _t(*ends)
    got = f(*args, **kwargs)
    want = getattr(np, name)(*[np.asarray(e, F64) for e in ends], **kwargs)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    if got.size:
        tg.check_grads(lambda *a: f(*a, **kwargs), args, order=2)


def test_linspace_endpoint_derivatives() -> None:
    # y_i = start + (stop - start) * i / (num - 1): d/dstart = 1 - i/4, d/dstop = i/4.
    ga, gb = tg.grad(lambda a, b: tnp.sum(tnp.linspace(a, b, 5) ** 1), argnums=(0, 1))(
        *_t(0.5, 2.0)
    )
    assert float(ga) == 2.5
    assert float(gb) == 2.5
    weights = np.arange(5.0)
    gb = tg.grad(lambda b: tnp.sum(tnp.linspace(0.0, b, 5) * weights))(*_t(2.0))
    np.testing.assert_allclose(float(gb), np.sum(weights * np.arange(5) / 4))


def test_linspace_retstep_and_integer_dtype() -> None:
    a, b = _t(0.0, 3.0)
    grid, step = tnp.linspace(a, b, 4, retstep=True)
    np.testing.assert_allclose(step.numpy(), 1.0)
    assert float(tg.grad(lambda b: tnp.linspace(a, b, 4, retstep=True)[1])(b)) == pytest.approx(
        1 / 3
    )
    ints = tnp.linspace(a, tg.tensor(7.5, dtype=F64), 4, dtype=int)
    np.testing.assert_array_equal(ints.numpy(), np.linspace(0.0, 7.5, 4, dtype=int))


def test_logspace_base_is_differentiable() -> None:
    base = tg.tensor(np.array([2.0, 3.0]))
    got = tnp.logspace(0.0, 2.0, 3, base=base)
    np.testing.assert_allclose(got.numpy(), np.logspace(0.0, 2.0, 3, base=[2.0, 3.0]))
    tg.check_grads(lambda b: tnp.logspace(0.5, 2.0, 3, base=b), [base], order=2)


def test_geomspace_refuses_zero() -> None:
    with pytest.raises(ValueError, match="cannot include zero"):
        tnp.geomspace(*_t(0.0, 2.0), 3)


def test_arange_gradient_flows_to_start_and_step() -> None:
    start, step = _t(0.25, 0.5)
    got = tnp.arange(start, 3.0, step)
    np.testing.assert_array_equal(got.numpy(), np.arange(0.25, 3.0, 0.5))
    g_start, g_step = tg.grad(lambda s, d: tnp.sum(tnp.arange(s, 3.0, d)), argnums=(0, 1))(
        start, step
    )
    assert float(g_start) == 6.0  # one per element
    assert float(g_step) == 15.0  # sum of i
    # stop only decides the length
    assert float(tg.grad(lambda b: tnp.sum(tnp.arange(0.0, b)))(*_t(3.5))) == 0.0


def test_grids_traced_from_parameters() -> None:
    f = tg.function(lambda a, b: tnp.sum(tnp.linspace(a, b, 5) ** 2))
    np.testing.assert_allclose(f(*_t(0.0, 1.0)).numpy(), np.sum(np.linspace(0, 1, 5) ** 2))
    np.testing.assert_allclose(f(*_t(1.0, 2.0)).numpy(), np.sum(np.linspace(1, 2, 5) ** 2))


@pytest.mark.parametrize(
    "kwargs", [{}, {"indexing": "ij"}, {"sparse": True}, {"sparse": True, "indexing": "ij"}]
)
def test_meshgrid_of_tensors(kwargs: Any) -> None:
    xs = _t([1.0, 2.0, 3.0], [10.0, 20.0], [5.0, 6.0, 7.0, 8.0])
    for n in (1, 2, 3):
        got = tnp.meshgrid(*xs[:n], **kwargs)
        want = np.meshgrid(*[x.numpy() for x in xs[:n]], **kwargs)
        assert isinstance(got, tuple)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g.numpy(), w)
        tg.check_grads(lambda *a: tnp.meshgrid(*a, **kwargs), xs[:n], order=2)


# -- index tricks ---------------------------------------------------------------------------
CONCATENATIONS = {
    "r_ pieces and scalars": lambda r, x, m: r.r_[x, 0.0, x * 2],
    "r_ ranges and linspace": lambda r, x, m: r.r_[x, 0:3, 1:2:3j],
    "r_ '0,2'": lambda r, x, m: r.r_["0,2", x, x],
    "r_ '0,2,0'": lambda r, x, m: r.r_["0,2,0", x, x],
    "r_ '1,2,0'": lambda r, x, m: r.r_["1,2,0", x, x],
    "r_ '-1'": lambda r, x, m: r.r_["-1", m, m],
    "r_ '0,3,-1'": lambda r, x, m: r.r_["0,3,-1", x, x],
    "r_ 'r'": lambda r, x, m: r.r_["r", x, x],
    "r_ 'c'": lambda r, x, m: r.r_["c", x, x],
    "r_ matrices": lambda r, x, m: r.r_[m, m],
    "r_ NumPy scalar": lambda r, x, m: r.r_[np.float32(1.0), x],
    "c_ vectors": lambda r, x, m: r.c_[x, x * 2],
    "c_ matrices": lambda r, x, m: r.c_[m, m],
    "c_ range": lambda r, x, m: r.c_[x, 0:3],
    "c_ mixed ranks": lambda r, x, m: r.c_[x[:2], m.T[:2]],
}


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # NumPy's 'r'/'c': np.matrix
@pytest.mark.parametrize("name", list(CONCATENATIONS))
def test_r_and_c_concatenate_differentiably(name: str) -> None:
    case = CONCATENATIONS[name]
    x, m = _t([1.0, 2.0, 3.0], np.arange(6.0).reshape(2, 3))
    want = np.asarray(case(np, x.numpy(), m.numpy()))
    got = case(tnp, x, m)
    assert isinstance(got, tg.Tensor)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.numpy(), want)
    tg.check_grads(lambda x, m: case(tnp, x, m), [x, m], order=2)


def test_r_keeps_float32_and_numpy_results_without_tensors() -> None:
    x = tg.tensor([1.0, 2.0])
    assert tnp.r_[x, 1.0, 2].dtype == np.float32
    plain = tnp.r_[1:4, 0:1:3j]
    assert isinstance(plain, np.ndarray)
    np.testing.assert_array_equal(plain, np.r_[1:4, 0:1:3j])
    with pytest.raises(ValueError, match="special directive"):
        tnp.r_["a,b", x]
    with pytest.raises(ValueError, match="first entry"):
        tnp.r_[x, "0,2"]


def test_mgrid_and_ogrid_from_tensor_bounds() -> None:
    a, b = _t(0.5, 2.0)
    np.testing.assert_array_equal(tnp.mgrid[a:b:4j, 0:3].numpy(), np.mgrid[0.5:2.0:4j, 0:3])
    tg.check_grads(lambda a, b: tnp.mgrid[a:b:4j, 0:3], [a, b], order=2)
    opened = tnp.ogrid[a:b:4j, 0.2:b:0.5]
    for got, want in zip(opened, np.ogrid[0.5:2.0:4j, 0.2:2.0:0.5], strict=True):
        np.testing.assert_allclose(np.asarray(got), want)
    tg.check_grads(lambda a, b: tnp.ogrid[a:b:4j, 0.2:b:0.5], [a, b], order=2)
    np.testing.assert_array_equal(tnp.mgrid[a:b:3j].numpy(), np.linspace(0.5, 2.0, 3))
    np.testing.assert_array_equal(tnp.mgrid[0:3, 0:2], np.mgrid[0:3, 0:2])


def test_s_and_index_exp_are_numpys() -> None:
    x = tg.tensor(np.arange(10.0))
    assert tnp.s_[1:5:2] == slice(1, 5, 2)
    assert tnp.index_exp[1:2] == (slice(1, 2),)
    np.testing.assert_array_equal(x[tnp.s_[::3]].numpy(), np.arange(10.0)[::3])
