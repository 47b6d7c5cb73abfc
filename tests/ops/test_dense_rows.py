"""`dense` on inputs of three and more axes: the forward product and the inputs' cotangent
run as one GEMM over every row (a reshape, no stacked product); values and gradients equal
the stacked `matmul` + add, for contiguous and non-contiguous inputs and cotangents."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.core.prims.products import dense_p
from tapegrad.ops.dense import dense, dense_reference

RNG = np.random.default_rng(11)


def _inputs(layout: str, dtype) -> np.ndarray:
    x = RNG.standard_normal((3, 5, 4, 6)).astype(dtype)
    return x if layout == "contiguous" else np.swapaxes(x, 0, 1)  # a strided view


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_values_and_gradients_equal_the_stacked_product(layout, dtype):
    x = _inputs(layout, dtype)
    kernel = RNG.standard_normal((6, 7)).astype(dtype)
    bias = RNG.standard_normal(7).astype(dtype)
    g = RNG.standard_normal(x.shape[:-1] + (7,)).astype(dtype)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12}
    want = np.matmul(x, kernel) + bias
    got = dense_p.impl(x, kernel, bias)
    assert got.shape == want.shape
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, **tol)
    # The inputs' cotangent for a contiguous and a transposed-view cotangent.
    for cot in (g, np.swapaxes(np.swapaxes(g, 0, 1).copy(), 0, 1)):
        grad_x = dense_p.vjp_rules[0](cot, got, x, kernel, bias)
        np.testing.assert_allclose(grad_x, np.matmul(cot, kernel.T), **tol)
        assert grad_x.shape == x.shape


def test_a_training_step_matches_the_reference_on_a_3d_batch():
    x, kernel, bias = (
        tg.Variable(RNG.standard_normal(s).astype(np.float32)) for s in ((4, 8, 16), (16, 5), (5,))
    )

    def grads(op):
        with tg.GradientTape() as tape:
            loss = tg.numpy.sum(tg.numpy.tanh(op(x, kernel, bias)) ** 2)
        return tape.gradient(loss, [x, kernel, bias])

    for got, want in zip(grads(dense), grads(dense_reference), strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)


def _matmul_grads(a, b, traced):
    def step(a, b):
        with tg.GradientTape() as outer:
            outer.watch([a, b])
            with tg.GradientTape() as inner:
                inner.watch([a, b])
                loss = tg.numpy.sum(tg.numpy.sin(tg.numpy.matmul(a, b)))
            grads = inner.gradient(loss, [a, b])
            total = sum(tg.numpy.sum(g * g) for g in grads)
        return [*grads, *outer.gradient(total, [a, b])]

    run = tg.function(step) if traced else step
    return [np.asarray(v) for v in run(tg.tensor(a), tg.tensor(b))]


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
def test_matmul_of_a_stack_and_a_matrix_differentiates_as_the_stacked_formula(traced):
    # (2, 3, 4, 5) @ (5, 6): the rules take one GEMM over the 24 rows; the reference is
    # the same product written per matrix of the stack (einsum) with its own rules.
    a = RNG.standard_normal((2, 3, 4, 5))
    b = RNG.standard_normal((5, 6))
    got = _matmul_grads(a, b, traced)

    def reference(a, b):
        with tg.GradientTape() as outer:
            outer.watch([a, b])
            with tg.GradientTape() as inner:
                inner.watch([a, b])
                loss = tg.numpy.sum(tg.numpy.sin(tg.numpy.einsum("xyik,kj->xyij", a, b)))
            grads = inner.gradient(loss, [a, b])
            total = sum(tg.numpy.sum(g * g) for g in grads)
        return [np.asarray(v) for v in (*grads, *outer.gradient(total, [a, b]))]

    want = reference(tg.tensor(a), tg.tensor(b))
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_matmul_rules_on_arrays_take_strided_stacks():
    a = np.swapaxes(RNG.standard_normal((4, 3, 5)), 0, 1)  # (3, 4, 5), not contiguous
    b = RNG.standard_normal((5, 2))
    g = RNG.standard_normal((3, 4, 2))
    ga = tg.core.prims.products.matmul_p.vjp_rules[0](g, None, a, b)
    gb = tg.core.prims.products.matmul_p.vjp_rules[1](g, None, a, b)
    np.testing.assert_allclose(ga, np.einsum("xij,kj->xik", g, b), rtol=1e-12)
    np.testing.assert_allclose(gb, np.einsum("xik,xij->kj", a, g), rtol=1e-12)
