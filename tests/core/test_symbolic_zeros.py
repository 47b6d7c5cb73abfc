"""The ``symbolic_zeros`` fact: a multiple-results primitive whose VJP rules take None for
the cotangent of an output nothing used gets None from the backward walk, not zeros."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.core.primitive import PRIMITIVES, Primitive
from tapegrad.core.prims.lstm import lstm_grad_p, lstm_p
from tapegrad.ops.lstm import lstm


def _pair(symbolic_zeros: bool, seen: list) -> Primitive:
    """``x -> (2x, x**2)``; its rule notes the cotangents it was handed."""
    prim = Primitive(
        "pair_example",
        lambda x: (2 * x, x * x),
        multiple_results=True,
        register=False,
        symbolic_zeros=symbolic_zeros,
    )

    def vjp(g, ans, x):
        seen.append(g)
        total = 0
        if g[0] is not None:
            total = total + 2 * g[0]
        if g[1] is not None:
            total = total + 2 * x * g[1]
        return total

    def jvp(t, ans, x):
        return 2 * t, 2 * x * t

    prim.defvjp(vjp)
    prim.defjvp(jvp)
    return prim


@pytest.mark.parametrize("symbolic_zeros", [True, False])
def test_an_unused_output_gets_none_only_where_declared(symbolic_zeros):
    seen: list = []
    pair = _pair(symbolic_zeros, seen)
    x = tg.Variable(np.array([1.0, -2.0, 3.0]))
    with tg.GradientTape() as tape:
        _, square = pair(x)
        loss = tg.numpy.sum(square * 5.0)  # only the second output reaches the loss
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), [10.0, -20.0, 30.0])
    (g,) = seen
    if symbolic_zeros:
        assert g[0] is None
    else:
        np.testing.assert_array_equal(g[0], np.zeros(3))
    np.testing.assert_array_equal(g[1], np.full(3, 5.0))


def test_symbolic_zeros_under_nested_tapes_give_second_derivatives():
    # Tensor mode: the rule still gets None for the unused output, and its ops on the used
    # one are recorded by the outer tape.
    seen: list = []
    pair = _pair(True, seen)
    x = tg.Variable(np.array([1.5, -0.5]))
    with tg.GradientTape() as outer:
        with tg.GradientTape() as inner:
            _, square = pair(x)
            loss = tg.numpy.sum(square * square)  # sum(x**4)
        grad = inner.gradient(loss, x)  # 4 x**3
    assert seen[0][0] is None
    np.testing.assert_allclose(grad.numpy(), 4 * x.numpy() ** 3)
    np.testing.assert_allclose(outer.gradient(grad, x).numpy(), 12 * x.numpy() ** 2)


def test_every_primitive_with_symbolic_zeros_has_several_results():
    declared = [p for p in PRIMITIVES.values() if p.symbolic_zeros]
    assert lstm_p in declared
    for prim in declared:
        assert prim.multiple_results, prim.name


@pytest.mark.parametrize("numba", [True, False], ids=["kernels", "numpy"])
def test_lstm_training_hands_none_for_cs_and_the_residual(monkeypatch, numba):
    # Only h reaches a training loss: lstm_grad gets None for c's cotangent (the NumPy
    # impl and the numba kernels alike) and the same gradients as with zeros.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    kernel = tg.Variable(rng.uniform(-0.4, 0.4, (5, 8)).astype(np.float32))
    recurrent = tg.Variable(rng.uniform(-0.4, 0.4, (2, 8)).astype(np.float32))
    seen: list = []
    original = lstm_grad_p.kernels

    def spy(fn):
        def wrapped(*args, **params):
            seen.append(args[:2])
            return fn(*args, **params)

        return wrapped

    if numba:
        pytest.importorskip("numba")
        monkeypatch.setattr(lstm_grad_p, "kernels", tuple((a, spy(k)) for a, k in original))
    else:
        monkeypatch.setattr(lstm_grad_p, "kernels", ())
        monkeypatch.setattr(lstm_grad_p, "impl", spy(lstm_grad_p.impl))

    def grads(use_cs: bool):
        with tg.GradientTape() as tape:
            hs, cs = lstm(x, kernel, recurrent)
            loss = tg.numpy.sum(tg.numpy.tanh(hs))
            if use_cs:
                loss = loss + tg.numpy.sum(cs * 0.0)  # a zero cotangent, as an array
        return [g.numpy() for g in tape.gradient(loss, [kernel, recurrent])]

    without_cs = grads(False)
    assert seen[0][1] is None
    assert seen[0][0] is not None
    with_zeros = grads(True)
    assert seen[-1][1] is not None
    for a, b in zip(without_cs, with_zeros, strict=True):
        np.testing.assert_array_equal(a, b)
