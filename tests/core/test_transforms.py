"""Function transforms: grad, value_and_grad, vjp, jvp, jacobian, jacfwd, hessian."""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

RNG = np.random.default_rng(0)


def f_scalar(x):
    return tnp.sum(tnp.sin(x) * x**2)


def df_scalar(x):
    return np.cos(x) * x**2 + 2 * x * np.sin(x)


def test_grad_matches_analytic():
    x = RNG.standard_normal(5)
    np.testing.assert_allclose(tg.grad(f_scalar)(x).numpy(), df_scalar(x), rtol=1e-12)


def test_grad_argnums_tuple_and_has_aux():
    def f(x, y):
        loss = tnp.sum(x * y)
        return loss, {"loss": loss}

    (gx, gy), aux = tg.grad(f, argnums=(0, 1), has_aux=True)(
        tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0])
    )
    np.testing.assert_array_equal(gx.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(gy.numpy(), [1.0, 2.0])
    assert float(aux["loss"]) == 11.0


def test_value_and_grad_has_aux_convention():
    (value, aux), g = tg.value_and_grad(lambda x: (x * x, "aux"), has_aux=True)(3.0)
    assert float(value) == 9.0 and aux == "aux" and float(g) == 6.0


def test_grad_of_nested_dict_argument():
    params = {"w": np.array([1.0, 2.0]), "b": [np.array(0.5)]}

    def loss(p):
        return tnp.sum(p["w"] ** 2) + p["b"][0] * 3

    g = tg.grad(loss)(params)
    np.testing.assert_allclose(g["w"].numpy(), [2.0, 4.0])
    assert float(g["b"][0]) == 3.0


def test_grad_requires_scalar_output():
    with pytest.raises(TypeError, match="scalar output"):
        tg.grad(lambda x: x * 2)(np.ones(3))


def test_grad_same_tensor_twice():
    x = tg.tensor(2.0)
    gx, gy = tg.grad(lambda a, b: a * b * b, argnums=(0, 1))(x, x)
    assert float(gx) == 4.0 and float(gy) == 8.0


def test_grad_of_integer_argument_is_none():
    assert tg.grad(lambda n, x: x * n, argnums=0)(np.array(3), 2.0) is None


def test_unconnected_argument_gets_zeros():
    g = tg.grad(lambda x, y: tnp.sum(x), argnums=1)(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(g.numpy(), np.zeros(3))


def test_grad_grad_and_third_order():
    f = tnp.tanh
    x = 0.3
    t = np.tanh(x)
    d1 = 1 - t**2
    d2 = -2 * t * d1
    d3 = -2 * d1**2 - 2 * t * d2
    x64 = np.float64(x)
    np.testing.assert_allclose(float(tg.grad(f)(x64)), d1, rtol=1e-12)
    np.testing.assert_allclose(float(tg.grad(tg.grad(f))(x64)), d2, rtol=1e-12)
    np.testing.assert_allclose(float(tg.grad(tg.grad(tg.grad(f)))(x64)), d3, rtol=1e-12)


def test_vjp_multiple_calls_and_structure():
    a = RNG.standard_normal((2, 3))
    b = RNG.standard_normal((3, 4))
    out, back = tg.vjp(lambda a, b: a @ b, a, b)
    ct = RNG.standard_normal((2, 4))
    ga, gb = back(ct)
    np.testing.assert_allclose(ga.numpy(), ct @ b.T, rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), a.T @ ct, rtol=1e-12)
    ga2, _ = back(2 * ct)
    np.testing.assert_allclose(ga2.numpy(), 2 * ct @ b.T, rtol=1e-12)


def test_jvp_is_true_forward_mode():
    # No tape may record during jvp: forward mode propagates tangents op by op.
    from tapegrad.core import primitive

    seen = []

    def f(x):
        seen.append(primitive.active_recorders())
        return tnp.exp(x) * x

    x = np.array([0.1, 0.2])
    v = np.array([1.0, -1.0])
    out, tangent = tg.jvp(f, (x,), (v,))
    assert all(type(r).__name__ == "ForwardAccumulator" for r in seen[0])
    np.testing.assert_allclose(tangent.numpy(), (np.exp(x) * x + np.exp(x)) * v, rtol=1e-12)


def test_jvp_multiple_primals_and_unconnected_output():
    out, tangent = tg.jvp(lambda x, y: (x * y, tnp.ones(2)), (2.0, 3.0), (1.0, 0.0))
    assert float(tangent[0]) == 3.0
    np.testing.assert_array_equal(tangent[1].numpy(), [0.0, 0.0])


def test_jacobian_and_jacfwd_agree():
    w = RNG.standard_normal((3, 4))

    def f(x):
        return tnp.tanh(x @ w)

    x = RNG.standard_normal((2, 3))
    jr = tg.jacobian(f)(x).numpy()
    jf = tg.jacfwd(f)(x).numpy()
    assert jr.shape == (2, 4, 2, 3)
    np.testing.assert_allclose(jr, jf, rtol=1e-10, atol=1e-12)


def test_hessian_matches_analytic():
    a = RNG.standard_normal((4, 4))

    def f(x):
        return tnp.sum(tnp.tanh(a @ x))

    x = RNG.standard_normal(4)
    t = np.tanh(a @ x)
    expected = a.T @ np.diag(-2 * t * (1 - t**2)) @ a
    np.testing.assert_allclose(tg.hessian(f)(x).numpy(), expected, rtol=1e-10, atol=1e-12)


def test_hessian_vector_product_fwd_over_rev_and_rev_over_rev():
    a = RNG.standard_normal((6, 6)) / 3
    w = RNG.standard_normal(6)
    v = RNG.standard_normal(6)

    def f(w):
        return tnp.sum(tnp.tanh(a @ w))

    t = np.tanh(a @ w)
    expected = a.T @ (-2 * t * (1 - t**2) * (a @ v))
    fwd_rev = tg.jvp(tg.grad(f), (w,), (v,))[1]
    rev_rev = tg.grad(lambda w: tnp.vdot(tg.grad(f)(w), v))(w)
    np.testing.assert_allclose(fwd_rev.numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(rev_rev.numpy(), expected, rtol=1e-10)


def test_reverse_over_forward():
    def f(x):
        return tnp.sin(x) * x

    x, v = np.array([0.4, 1.1]), np.array([1.0, 2.0])

    def directional(x):
        return tnp.sum(tg.jvp(f, (x,), (v,))[1])

    # d/dx sum(f'(x) v) = f''(x) v
    f2 = -np.sin(x) * x + 2 * np.cos(x)
    np.testing.assert_allclose(tg.grad(directional)(x).numpy(), f2 * v, rtol=1e-12)


def test_jacfwd_of_grad_composes():
    def f(x):
        return tnp.sum(x**3)

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(tg.jacfwd(tg.grad(f))(x).numpy(), np.diag(6 * x))


def test_transforms_close_over_variables():
    w = tg.Variable([1.0, 2.0])
    g = tg.grad(lambda x: tnp.sum(w * x))(np.array([3.0, 4.0]))
    np.testing.assert_allclose(g.numpy(), [1.0, 2.0])


def test_check_grads_catches_a_wrong_rule():
    @tg.primitive
    def bad_square(x):
        return x * x

    tg.defvjp(bad_square, lambda ans, x: lambda g: g * 3 * x)  # wrong: should be 2x
    tg.defjvp(bad_square, lambda g, ans, x: g * 2 * x)
    with pytest.raises(AssertionError, match="VJP"):
        tg.check_grads(bad_square, (np.array([1.0, 2.0]),), order=1)


def test_check_grads_reaches_backward_rules_through_the_cotangent():
    # A linear op whose VJP is another primitive with a wrong rule of its own: first-order
    # checks pass; the second-order check differentiates with respect to the cotangent.
    @tg.primitive
    def double(x):
        return 2 * x

    @tg.primitive
    def double_transpose(g):
        return 2 * g

    tg.defvjp(double, lambda ans, x: lambda g: double_transpose(g))
    tg.defjvp(double, lambda t, ans, x: double(t))
    tg.defvjp(double_transpose, lambda ans, g: lambda h: 3 * h)  # wrong: should be 2 * h
    tg.defjvp(double_transpose, lambda t, ans, g: double_transpose(t))
    x = np.array([1.0, -2.0])
    tg.check_grads(double, (x,), order=1)
    with pytest.raises(AssertionError, match="order 1"):
        tg.check_grads(double, (x,), order=2)


@pytest.mark.parametrize(
    ("fun", "named"),
    [
        (lambda x: np.allclose(x, 1.0), "dtype bool"),  # a NumPy bool, as HIPS autograd refuses
        (lambda x: tnp.sum(x) > 0, "dtype bool"),
        (lambda x: tnp.argmax(x), "dtype int"),
        (lambda x: "text", "got str"),
    ],
)
def test_grad_of_a_non_float_output_is_a_type_error_naming_it(fun, named) -> None:
    with pytest.raises(TypeError, match=named):
        tg.grad(fun)(np.ones(3))
    with pytest.raises(TypeError, match="float number"):
        tg.value_and_grad(fun)(np.ones(3))
