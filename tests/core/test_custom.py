"""Extending the engine: custom_gradient, primitive/defvjp/defjvp, stop_gradient."""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp


@tg.custom_gradient
def clip_gradient(x):
    def grad_fn(dy):
        return tnp.clip(dy, -0.1, 0.1)

    return x * 1.0, grad_fn


def test_custom_gradient_replaces_the_gradient():
    x = tg.tensor([1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tnp.sum(clip_gradient(x) * 5.0)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [0.1, 0.1])


@tg.custom_gradient
def log1pexp(x):
    e = tnp.exp(x)

    def grad_fn(dy):
        return dy * (1 - 1 / (1 + e))

    return tnp.log(1 + e), grad_fn


def test_custom_gradient_numerically_stable_example():
    g = tg.grad(log1pexp)(tg.tensor(100.0))
    assert float(g) == 1.0


def test_custom_gradient_second_order_differentiates_grad_fn():
    @tg.custom_gradient
    def cube(x):
        def grad_fn(dy):
            return dy * 3 * x * x

        return x * x * x, grad_fn

    assert float(tg.grad(tg.grad(cube))(tg.tensor(2.0, dtype=np.float64))) == 12.0


def test_custom_gradient_forward_mode_by_transposition():
    @tg.custom_gradient
    def scaled(x):
        return x * 2.0, lambda dy: dy * 2.0

    _, t = tg.jvp(scaled, (np.array([1.0, 2.0]),), (np.array([1.0, 3.0]),))
    np.testing.assert_allclose(t.numpy(), [2.0, 6.0])


def test_custom_gradient_two_inputs():
    @tg.custom_gradient
    def mul(a, b):
        return a * b, lambda dy: (dy * b * 10, dy * a * 100)

    ga, gb = tg.grad(mul, argnums=(0, 1))(tg.tensor(2.0), tg.tensor(3.0))
    assert float(ga) == 30.0 and float(gb) == 200.0


def test_custom_gradient_with_variables():
    w = tg.Variable(3.0)

    @tg.custom_gradient
    def linear(x):
        def grad_fn(dy, variables=None):
            return dy * w, [dy * x * 7]

        return x * w, grad_fn

    x = tg.tensor(2.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = linear(x)
    gx, gw = tape.gradient(y, [x, w])
    assert float(gx) == 3.0 and float(gw) == 14.0


def test_custom_gradient_wrong_number_of_gradients():
    @tg.custom_gradient
    def bad(a, b):
        return a + b, lambda dy: dy

    with pytest.raises(ValueError, match="returned 1 gradients for 2"):
        tg.grad(bad, argnums=(0, 1))(tg.tensor(1.0), tg.tensor(2.0))


@tg.primitive
def logsumexp_prim(x):
    top = np.max(x)
    return top + np.log(np.sum(np.exp(x - top)))


tg.defvjp(logsumexp_prim, lambda ans, x: lambda g: g * tnp.exp(x - ans))
tg.defjvp(logsumexp_prim, lambda g, ans, x: tnp.sum(g * tnp.exp(x - ans)))


def test_user_primitive_all_modes_and_orders():
    x = np.array([0.1, -0.4, 2.0])
    tg.check_grads(logsumexp_prim, (x,), order=2, modes=("fwd", "rev"))
    ref = np.log(np.sum(np.exp(x)))
    assert float(logsumexp_prim(tg.tensor(x))) == pytest.approx(ref)


def test_user_primitive_without_jvp_uses_transposition():
    @tg.primitive
    def double_it(x):
        return 2 * x

    tg.defvjp(double_it, lambda ans, x: lambda g: 2 * g)
    _, t = tg.jvp(double_it, (np.array([1.0, 2.0]),), (np.array([1.0, 1.0]),))
    np.testing.assert_array_equal(t.numpy(), [2.0, 2.0])
    tg.check_grads(double_it, (np.array([1.0, 2.0]),), order=2)


def test_user_primitive_registered_in_table():
    from tapegrad.core.primitive import PRIMITIVES

    assert PRIMITIVES[logsumexp_prim.name] is logsumexp_prim


def test_primitive_without_vjp_raises_clearly():
    @tg.primitive
    def opaque(x):
        return x + 1

    with pytest.raises(TypeError, match="not differentiable with respect to argument 0"):
        tg.grad(lambda x: opaque(x))(1.0)


def test_stop_gradient():
    g = tg.grad(lambda x: x * tg.stop_gradient(x))(tg.tensor(3.0))
    assert float(g) == 3.0
    _, t = tg.jvp(lambda x: x * tg.stop_gradient(x), (3.0,), (1.0,))
    assert float(t) == 3.0
