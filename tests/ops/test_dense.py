"""`tapegrad.ops.dense` against `dense_reference` (matmul + add): values, first and second
derivatives in both modes, both float dtypes, eagerly and traced; the primitives recorded."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops.dense import dense, dense_reference

RNG = np.random.default_rng(3)
SHAPES = [((4, 3), (3, 2), (2,)), ((2, 3, 3), (3, 5), (5,)), ((3,), (3, 2), (2,))]


def _loss(op, x, kernel, bias):
    return tg.numpy.sum(tg.numpy.tanh(op(x, kernel, bias)))


def _grads(op, args, traced=False):
    def step(*a):
        with tg.GradientTape() as outer:
            outer.watch(list(a))
            with tg.GradientTape() as inner:
                inner.watch(list(a))
                loss = _loss(op, *a)
            grads = inner.gradient(loss, list(a))
            total = sum(tg.numpy.sum(g * g) for g in grads)
        return [loss, *grads, *outer.gradient(total, list(a))]

    run = tg.function(step) if traced else step
    return run(*[tg.tensor(a) for a in args])


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shapes", SHAPES, ids=["2d", "3d", "1d"])
def test_values_and_two_orders_of_derivatives_match_the_reference(shapes, dtype, traced):
    args = [RNG.standard_normal(s).astype(dtype) for s in shapes]
    got, want = _grads(dense, args, traced), _grads(dense_reference, args)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12}
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype == dtype
        np.testing.assert_allclose(g.numpy(), w.numpy(), **tol)


def test_forward_mode_matches_the_reference():
    args = [RNG.standard_normal(s) for s in SHAPES[1]]
    tangents = [RNG.standard_normal(a.shape) for a in args]
    got = tg.jvp(dense, args, tangents)[1]
    want = tg.jvp(dense_reference, args, tangents)[1]
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12)


def test_the_primitives_recorded():
    # Eagerly one `dense` entry; traced, the reference's matmul + add, which the code
    # generator fuses with what follows (see tapegrad.ops.dense).
    x, kernel, bias = (tg.tensor(RNG.standard_normal(s)) for s in SHAPES[0])
    with tg.GradientTape() as tape:
        tape.watch([x, kernel, bias])
        dense(x, kernel, bias)
    assert [entry[0].name for entry in tape._entries] == ["dense"]
    traced = tg.function(dense)
    traced(x, kernel, bias)
    assert [node.primitive for node in traced.graph.nodes] == ["matmul", "add"]
