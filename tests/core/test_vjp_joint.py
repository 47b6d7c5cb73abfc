"""The ``vjp_joint`` fact: a first-order walk on arrays asks a multiple-results primitive
for several arguments' cotangents in one call (the LSTM's one BPTT for a stacked layer's
data and weights); tensor-mode walks keep the per-argument rules."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.core.primitive import Primitive
from tapegrad.core.prims.lstm import lstm_grads_p, lstm_p
from tapegrad.ops.lstm import lstm


def _product(calls: list) -> Primitive:
    """``(x, y) -> (x * y, x + y)`` with per-argument rules and a joint one."""
    prim = Primitive(
        "product_example", lambda x, y: (x * y, x + y), multiple_results=True, register=False
    )
    prim.defvjp(
        lambda g, ans, x, y: g[0] * y + g[1],
        lambda g, ans, x, y: g[0] * x + g[1],
    )

    def joint(argnums, g, ans, x, y):
        calls.append(argnums)
        both = {0: g[0] * y + g[1], 1: g[0] * x + g[1]}
        return tuple(both[i] for i in argnums)

    prim.vjp_joint = joint
    return prim


def test_the_walk_calls_the_joint_rule_once_for_several_arguments():
    calls: list = []
    prim = _product(calls)
    x, y = tg.Variable(np.array([1.0, 2.0])), tg.Variable(np.array([3.0, -1.0]))
    with tg.GradientTape() as tape:
        p, s = prim(x, y)
        loss = tg.numpy.sum(p * 2.0 + s)
    gx, gy = tape.gradient(loss, [x, y])
    assert calls == [(0, 1)]
    np.testing.assert_array_equal(gx.numpy(), 2 * y.numpy() + 1)
    np.testing.assert_array_equal(gy.numpy(), 2 * x.numpy() + 1)
    with tg.GradientTape() as tape:  # one argument: its own rule
        p, _ = prim(x, y)
        loss = tg.numpy.sum(p)
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), y.numpy())
    assert calls == [(0, 1)]


def test_nested_tapes_use_the_per_argument_rules():
    calls: list = []
    prim = _product(calls)
    x, y = tg.Variable(np.array([1.5])), tg.Variable(np.array([2.0]))
    with tg.GradientTape() as outer:
        with tg.GradientTape() as inner:
            p, _ = prim(x, y)
            loss = tg.numpy.sum(p * p)  # x**2 y**2
        gx, gy = inner.gradient(loss, [x, y])
    assert calls == []
    np.testing.assert_allclose(gx.numpy(), 2 * 1.5 * 4.0)
    np.testing.assert_allclose(outer.gradient(gx, y).numpy(), 4 * 1.5 * 2.0)


@pytest.mark.parametrize("numba", [True, False], ids=["kernels", "numpy"])
def test_a_stacked_lstm_runs_one_bptt_per_layer(monkeypatch, numba):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    weights = [
        tg.Variable(rng.uniform(-0.4, 0.4, shape).astype(np.float32))
        for shape in [(4, 12), (3, 12), (3, 8), (2, 8)]
    ]
    calls: list = []

    def spy(fn):
        def wrapped(*args, **params):
            calls.append(params["argnums"])
            return fn(*args, **params)

        return wrapped

    if numba:
        pytest.importorskip("numba")
        kernels = tuple((a, spy(k)) for a, k in lstm_grads_p.kernels)
        monkeypatch.setattr(lstm_grads_p, "kernels", kernels)
    else:
        monkeypatch.setattr(lstm_grads_p, "kernels", ())
        monkeypatch.setattr(lstm_grads_p, "impl", spy(lstm_grads_p.impl))

    def grads():
        with tg.GradientTape() as tape:
            first, _ = lstm(x, weights[0], weights[1])
            second, _ = lstm(first, weights[2], weights[3])
            loss = tg.numpy.sum(tg.numpy.tanh(second[:, -1]))
        return [g.numpy() for g in tape.gradient(loss, weights)]

    joint = grads()
    assert calls == [(0, 1)]  # the second layer: its input's and its weights' at once
    monkeypatch.setattr(lstm_p, "vjp_joint", None)
    separate = grads()
    assert calls == [(0, 1)]
    for a, b in zip(joint, separate, strict=True):
        np.testing.assert_array_equal(a, b)
