"""NumPy's ``array_like``: lists and tuples holding Tensors are one differentiable array.

A sweep over every differentiable function of the coverage report: called with the list
``[x, x * 2]`` where NumPy takes an array, the value and the gradient equal the call on
the stacked Tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.numpy.coverage import report

# The other arguments of functions that take more than one (``a`` is the array_like).
_Y = np.array([0.3, 0.6, 0.9])
Call = Callable[[Callable[..., Any], Any], Any]
_BINARY = """add arctan2 atan2 copysign divide float_power fmax fmin fmod heaviside hypot
    logaddexp logaddexp2 maximum minimum mod multiply pow power remainder subtract
    true_divide divmod append cross inner kron outer vecdot""".split()
CALLS: dict[str, Call] = {name: (lambda f, a: f(a, _Y)) for name in _BINARY}
CALLS |= {
    "ldexp": lambda f, a: f(a, np.array([1, 2, 3])),
    "array_split": lambda f, a: f(a, 2),
    "split": lambda f, a: f(a, 2),
    "hsplit": lambda f, a: f(a, 1),
    "vsplit": lambda f, a: f(a, 2),
    "dsplit": lambda f, a: f(a, 3),
    "astype": lambda f, a: f(a, np.float32),
    "broadcast_to": lambda f, a: f(a, (2, 2, 2, 3)),
    "delete": lambda f, a: f(a, 1, axis=2),
    "insert": lambda f, a: f(a, 1, 5.0, axis=2),
    "expand_dims": lambda f, a: f(a, 0),
    "moveaxis": lambda f, a: f(a, 0, 2),
    "rollaxis": lambda f, a: f(a, 2),
    "swapaxes": lambda f, a: f(a, 0, 2),
    "reshape": lambda f, a: f(a, (3, 4)),
    "resize": lambda f, a: f(a, (13,)),
    "repeat": lambda f, a: f(a, 2, axis=1),
    "roll": lambda f, a: f(a, 1),
    "tile": lambda f, a: f(a, (1, 2)),
    "take": lambda f, a: f(a, [0, 4, 5]),
    "take_along_axis": lambda f, a: f(a, np.zeros((2, 2, 1), int), axis=2),
    "partition": lambda f, a: f(a, 1),
    "pad": lambda f, a: f(a, 1),
    "percentile": lambda f, a: f(a, 30.0),
    "nanpercentile": lambda f, a: f(a, 30.0),
    "quantile": lambda f, a: f(a, 0.3),
    "nanquantile": lambda f, a: f(a, 0.3),
    "piecewise": lambda f, a: f(a, [tnp.greater(a, 0.5)], [lambda v: v * v, 1.0]),
    "interp": lambda f, a: f(a, _Y, _Y * _Y),
    "dot": lambda f, a: f(a, _Y),
    "matmul": lambda f, a: f(a, _Y),
    "matvec": lambda f, a: f(a, _Y),
    "vecmat": lambda f, a: f(_Y[:2], a),
    "vdot": lambda f, a: f(a, np.ones((2, 2, 3))),
    "tensordot": lambda f, a: f(a, _Y, axes=1),
    "convolve": lambda f, a: f(a, _Y),
    "correlate": lambda f, a: f(a, _Y),
    "einsum": lambda f, a: f("ijk->k", a),
    "einsum_path": lambda f, a: f("ijk->k", a),
    "linspace": lambda f, a: f(a, 3.0, 4),
    "logspace": lambda f, a: f(a, 3.0, 4, axis=-1),
    "geomspace": lambda f, a: f(a, 3.0, 4),
    "polyval": lambda f, a: f(a, _Y),
    "polyadd": lambda f, a: f(a, _Y),
    "polysub": lambda f, a: f(a, _Y),
    "polymul": lambda f, a: f(a, _Y),
    "polydiv": lambda f, a: f(a, _Y + 1.0),
}
# Functions given a 1-D or 2-D array_like: their x is a scalar or a vector.
SHAPES = {
    "convolve": (),
    "correlate": (),
    "interp": (),
    "corrcoef": (3,),
    "cov": (3,),
    "diag": (3,),
    "ediff1d": (3,),
    "trim_zeros": (),
    "poly": (),
    "polyint": (),
    "polyder": (),
    "roots": (),
    "vander": (),
    "polyval": (),
    "polyadd": (),
    "polysub": (),
    "polymul": (),
    "polydiv": (),
}
# Not an array_like first argument, as in NumPy.
NOT_ARRAY_FIRST = {
    "block": "a nested list is the block structure",
    "bmat": "a nested list is the block structure",
    "array": "a list is stacked differentiably, a Tensor copied without gradient",
    "where": "where(condition) alone gives indices",
    "bincount": "non-negative integers (weights are the differentiable argument)",
    "choose": "integer indices",
    "compress": "a boolean condition",
    "extract": "a boolean condition",
    "select": "a list of conditions",
    "einsum_path": "returns a contraction plan",
    "arange": "scalar bounds",
}


def _floats(out: Any) -> list[Any]:
    """The floating results of a call (tuples and lists of them flattened)."""
    if isinstance(out, tuple | list):
        return [v for item in out for v in _floats(item)]
    return [out] if np.asarray(out).dtype.kind == "f" else []


def _total(out: Any) -> Any:
    parts = [tnp.sum(tnp.where(tnp.isfinite(v), v, 0.0)) for v in _floats(out)]
    return sum(parts[1:], parts[0])


def _sweep_names() -> list[str]:
    table = report()["numpy"]
    return sorted(n for n, kind in table.items() if kind == "differentiable")


@pytest.mark.parametrize("name", _sweep_names())
def test_a_list_holding_tensors_is_one_array(name: str) -> None:
    if name in NOT_ARRAY_FIRST:
        pytest.skip(NOT_ARRAY_FIRST[name])
    f = getattr(tnp, name)
    call = CALLS.get(name, lambda f, a: f(a))
    x = tg.tensor(np.resize(np.linspace(0.2, 0.8, 6), SHAPES.get(name, (2, 3))))

    def stacked(x: Any) -> Any:
        return call(f, tnp.stack([x, x * 2]))

    def listed(x: Any) -> Any:
        return call(f, [x, x * 2])

    try:
        expected = stacked(x)
    except (TypeError, ValueError) as err:
        # (A function added later may need arguments or shapes this table lacks.)
        pytest.skip(f"{name} refuses the sweep's input as a Tensor too: {err}")
    got = listed(x)
    for a, b in zip(_floats(got), _floats(expected), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), equal_nan=True)
    if not _floats(expected):
        pytest.skip(f"{name} has no floating result")
    grad_expected = tg.grad(lambda x: _total(stacked(x)))(x)
    grad_got = tg.grad(lambda x: _total(listed(x)))(x)
    np.testing.assert_allclose(np.asarray(grad_got), np.asarray(grad_expected), equal_nan=True)


def test_the_sweep_tables_name_differentiable_functions() -> None:
    # (A stale entry would hide a function that became pass-through or was renamed.)
    names = set(_sweep_names()) | {"einsum_path"}
    assert set(CALLS) - names == set()
    assert set(NOT_ARRAY_FIRST) - names == set()


def test_mean_std_var_of_a_list() -> None:
    x = tg.tensor([1.0, 2.0, 4.0])
    np.testing.assert_allclose(tnp.mean([x, x + 2]).numpy(), 3.3333333, rtol=1e-6)
    np.testing.assert_allclose(tnp.std([x, x + 2]).numpy(), np.std([[1, 2, 4], [3, 4, 6]]))
    g = tg.grad(lambda x: tnp.var([x, x + 2]))(x).numpy()
    v = np.array([[1.0, 2.0, 4.0], [3.0, 4.0, 6.0]])
    np.testing.assert_allclose(g, (2 * (v - v.mean()) / v.size).sum(axis=0), rtol=1e-5)


def test_mixed_lists_of_tensors_arrays_and_numbers() -> None:
    x = tg.tensor([1.0, 2.0])
    out = tnp.add([x, np.array([3.0, 4.0]), (5.0, 6)], 1.0)
    np.testing.assert_array_equal(out.numpy(), [[2, 3], [4, 5], [6, 7]])
    # NumPy's promotion: the float64 array wins, Python numbers are weak.
    assert out.dtype == np.float64
    assert tnp.add([x, (5.0, 6)], 1.0).dtype == np.float32
    g = tg.grad(lambda x: tnp.sum(tnp.sin([[x, x * 3], [[1.0, 2.0], (0.5, 0)]])))(x)
    np.testing.assert_allclose(g.numpy(), np.cos([1.0, 2.0]) + 3 * np.cos([3.0, 6.0]), rtol=1e-6)
    # A Tensor as the second argument of a binary op: both get gradients.
    gx, gy = tg.grad(lambda x, y: tnp.sum(tnp.multiply(x, [y, y])), argnums=(0, 1))(
        x, tg.tensor([3.0, 5.0])
    )
    np.testing.assert_array_equal(gx.numpy(), [6.0, 10.0])
    np.testing.assert_array_equal(gy.numpy(), [2.0, 4.0])


def test_ragged_lists_are_refused() -> None:
    x = tg.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="inhomogeneous"):
        tnp.sum([x, tg.tensor([1.0])])


def test_plain_lists_keep_numpy_results() -> None:
    out = tnp.mean([[1, 2], [3, 4]], axis=0)
    np.testing.assert_array_equal(np.asarray(out), [2.0, 3.0])
    assert np.asarray(out).dtype == np.float64


def _submodule_names(module: str) -> list[str]:
    table = report().get(module, {})
    return sorted(f"{module}.{n}" for n, kind in table.items() if kind == "differentiable")


def _parts(out: Any) -> Any:
    """A real scalar from every inexact result (real and imaginary parts of complex ones)."""
    leaves = out if isinstance(out, tuple | list) else [out]
    total = None
    for leaf in leaves:
        kind = np.asarray(leaf).dtype.kind
        if kind not in "fc":
            continue
        part = tnp.sum(tnp.real(leaf)) + (tnp.sum(tnp.imag(leaf)) * 0.5 if kind == "c" else 0.0)
        total = part if total is None else total + part
    return total


@pytest.mark.parametrize("name", _submodule_names("numpy.linalg") + _submodule_names("numpy.fft"))
def test_linalg_and_fft_take_lists_holding_tensors(name: str) -> None:
    module, func = name.removeprefix("numpy.").split(".")
    f = getattr(getattr(tnp, module), func)
    x = tg.tensor(np.array([[2.0, 0.5], [0.3, 1.5]]))

    def listed(x: Any) -> Any:
        return f([x[0], x[1] * 2])

    def stacked(x: Any) -> Any:
        return f(tnp.stack([x[0], x[1] * 2]))

    try:
        expected = stacked(x)
    except (TypeError, ValueError, np.linalg.LinAlgError) as err:
        pytest.skip(f"{name} needs other arguments: {err}")
    if _parts(expected) is None:
        pytest.skip(f"{name} has no inexact result")
    for a, b in zip(_floats(listed(x)), _floats(expected), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(
        tg.grad(lambda x: _parts(listed(x)))(x).numpy(),
        tg.grad(lambda x: _parts(stacked(x)))(x).numpy(),
    )


@pytest.mark.parametrize(
    "name", ["stack", "concatenate", "vstack", "hstack", "column_stack", "dstack"]
)
def test_sequences_of_array_likes(name: str) -> None:
    # Each item of concatenate's (stack's, ...) sequence is one array_like.
    f = getattr(tnp, name)
    x, y = tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0])

    def listed(x: Any) -> Any:
        return tnp.sum(f([[x * 2, x], [y, x * 3]]) ** 2)

    def stacked(x: Any) -> Any:
        return tnp.sum(f([tnp.stack([x * 2, x]), tnp.stack([y, x * 3])]) ** 2)

    np.testing.assert_allclose(listed(x).numpy(), stacked(x).numpy())
    np.testing.assert_allclose(tg.grad(listed)(x).numpy(), tg.grad(stacked)(x).numpy())


def test_choose_and_select_take_lists_of_array_likes() -> None:
    x = tg.tensor([1.0, 2.0])
    g = tg.grad(lambda x: tnp.sum(tnp.choose(np.array([0, 1]), [[x[0], x[1]], x * 3])))(x)
    np.testing.assert_array_equal(g.numpy(), [1.0, 3.0])
    g = tg.grad(lambda x: tnp.sum(tnp.select([x > 1.5], [[x[1], x[0]]])))(x)
    np.testing.assert_array_equal(g.numpy(), [1.0, 0.0])
