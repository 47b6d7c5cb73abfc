"""`tapegrad.ops.lstm` (one primitive) against `lstm_reference` (ordinary ops, step by step):
values, first and second derivatives in both modes, both float dtypes, eagerly and traced;
the primitive it records; the numba engine switched on and off."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import config
from tapegrad.core.prims.lstm import GATES, cell, cell_vjp
from tapegrad.ops.lstm import lstm, lstm_reference

RNG = np.random.default_rng(7)
B, T, F, U = 3, 4, 2, 3
TOL = {np.float32: {"rtol": 2e-4, "atol": 2e-5}, np.float64: {"rtol": 1e-9, "atol": 1e-11}}


def _args(dtype, initial_state=True):
    shapes = [(B, T, F), (F, 4 * U), (U, 4 * U), (4 * U,)]
    scales = [1.0, 0.6, 0.6, 0.4]
    args = [(RNG.standard_normal(s) * k).astype(dtype) for s, k in zip(shapes, scales, strict=True)]
    if initial_state:
        args += [RNG.standard_normal((B, U)).astype(dtype) for _ in range(2)]
    return args


def _call(op, args):
    x, k, r, b, *state = args
    hs, cs = op(x, k, r, b, state or None)
    # Every output matters, nonlinearly: second derivatives see both hs and cs.
    return tg.numpy.sum(tg.numpy.sin(hs)) + tg.numpy.sum(cs * cs)


def _grads(op, args):
    tensors = [tg.tensor(a) for a in args]
    with tg.GradientTape() as tape:
        tape.watch(tensors)
        loss = _call(op, tensors)
    return [loss, *tape.gradient(loss, tensors)]


def _second(op, args, direction):
    """Gradient of <grad, direction> (reverse over reverse)."""
    tensors = [tg.tensor(a) for a in args]
    with tg.GradientTape() as outer:
        outer.watch(tensors)
        with tg.GradientTape() as inner:
            inner.watch(tensors)
            loss = _call(op, tensors)
        grads = inner.gradient(loss, tensors)
        total = sum(tg.numpy.sum(g * d) for g, d in zip(grads, direction, strict=True))
    return outer.gradient(total, tensors)


def _close(got, want, dtype):
    for g, w in zip(got, want, strict=True):
        g, w = g.numpy(), w.numpy()
        assert g.dtype == w.dtype == dtype
        np.testing.assert_allclose(g, w, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("initial_state", [False, True], ids=["zeros", "given"])
def test_values_and_gradients_match_the_reference(dtype, initial_state):
    args = _args(dtype, initial_state)
    _close(_grads(lstm, args), _grads(lstm_reference, args), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_second_derivatives_match_the_reference(dtype):
    args = _args(dtype)
    direction = [RNG.standard_normal(a.shape).astype(dtype) for a in args]
    _close(_second(lstm, args, direction), _second(lstm_reference, args, direction), dtype)


def test_forward_mode_matches_the_reference():
    args = _args(np.float64)
    tangents = [RNG.standard_normal(a.shape) for a in args]
    got = tg.jvp(lambda *a: _call(lstm, a), args, tangents)
    want = tg.jvp(lambda *a: _call(lstm_reference, a), args, tangents)
    np.testing.assert_allclose(np.asarray(got[1]), np.asarray(want[1]), rtol=1e-9)


def test_derivatives_of_order_three():
    x, k, r, b, h0, c0 = _args(np.float64)

    def f(x, k, b, c0):
        return _call(lstm, [x, k, r, b, h0[:2], c0])

    tg.check_grads(f, (x[:2, :2], k, b, c0[:2]), order=3, modes=("rev",))


def test_traced_records_the_same_primitive_with_the_same_values():
    args = [tg.tensor(a) for a in _args(np.float32)]
    with tg.GradientTape() as tape:
        tape.watch(args)
        loss = _call(lstm, args)
    assert "lstm" in [entry[0].name for entry in tape._entries]
    eager = [loss, *tape.gradient(loss, args)]

    def step(*a):
        with tg.GradientTape() as tape:
            tape.watch(list(a))
            loss = _call(lstm, a)
        return [loss, *tape.gradient(loss, list(a))]

    traced = tg.function(step)
    got = traced(*args)
    names = [node.primitive for node in traced.graph.nodes]
    assert "lstm" in names and "lstm_grad" in names
    for g, w in zip(got, eager, strict=True):
        np.testing.assert_array_equal(g.numpy(), w.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_numba_engine_off_gives_the_same_values(dtype):
    pytest.importorskip("numba")
    args = _args(dtype)
    with_kernels = _grads(lstm, args)
    config.disable_engine("numba")
    try:
        without = _grads(lstm, args)
    finally:
        config.enable_engine("numba")
    _close(with_kernels, without, dtype)


def test_the_cell_equations_in_canonical_gate_order():
    assert GATES == ("i", "f", "g", "o")
    z, c_prev = RNG.standard_normal((2, 4 * U)), RNG.standard_normal((2, U))
    (i, f, g, o), c, tanh_c, h = cell(z, c_prev)
    sigmoid = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(i, sigmoid[:, :U])
    np.testing.assert_allclose(f, sigmoid[:, U : 2 * U])
    np.testing.assert_allclose(g, np.tanh(z[:, 2 * U : 3 * U]))
    np.testing.assert_allclose(o, sigmoid[:, 3 * U :])
    np.testing.assert_allclose(c, f * c_prev + i * g)
    np.testing.assert_allclose(h, o * np.tanh(c))
    # cell_vjp is the transpose of cell's derivative: <dz, J t> by finite differences.
    dh, dc, t = (RNG.standard_normal(s) for s in ((2, U), (2, U), (2, 4 * U)))
    dz, dc_prev = cell_vjp((i, f, g, o), tanh_c, c_prev, dh, dc)
    eps = 1e-6
    _, c2, _, h2 = cell(z + eps * t, c_prev)
    directional = (np.sum(dh * (h2 - h)) + np.sum(dc * (c2 - c))) / eps
    np.testing.assert_allclose(np.sum(np.concatenate(dz, axis=1) * t), directional, rtol=1e-4)
    _, c3, _, h3 = cell(z, c_prev + eps * t[:, :U])
    directional = (np.sum(dh * (h3 - h)) + np.sum(dc * (c3 - c))) / eps
    np.testing.assert_allclose(np.sum(dc_prev * t[:, :U]), directional, rtol=1e-4)
