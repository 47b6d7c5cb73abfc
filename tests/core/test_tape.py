"""GradientTape behaviour: watching, persistence, structures, jacobians, nesting."""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp


def test_watch_and_gradient_of_product():
    x = tg.tensor([1.0, 2.0, 3.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tnp.sum(x * x * x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 3 * x.numpy() ** 2)


def test_unwatched_tensor_gives_none_and_zero_on_request():
    x = tg.tensor([1.0, 2.0])
    with tg.GradientTape(persistent=True) as tape:
        y = tnp.sum(x * 2)
    assert tape.gradient(y, x) is None
    zero = tape.gradient(y, x, unconnected_gradients="zero")
    np.testing.assert_array_equal(zero.numpy(), np.zeros(2, np.float32))
    assert zero.dtype == np.float32


def test_trainable_variables_are_watched_automatically():
    w = tg.Variable([[1.0, 2.0], [3.0, 4.0]])
    frozen = tg.Variable([1.0, 1.0], trainable=False)
    x = tg.tensor([[1.0, 1.0]])
    with tg.GradientTape() as tape:
        y = tnp.sum(x @ w + frozen)
    gw, gf = tape.gradient(y, [w, frozen])
    np.testing.assert_allclose(gw.numpy(), np.ones((2, 2)))
    assert gf is None
    assert tape.watched_variables() == (w,)


def test_watch_accessed_variables_false():
    w = tg.Variable(2.0)
    with tg.GradientTape(watch_accessed_variables=False) as tape:
        y = w * w
    assert tape.gradient(y, w) is None


def test_non_persistent_tape_can_be_used_once():
    x = tg.tensor(2.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.gradient(y, x)


def test_persistent_tape_many_gradients():
    x = tg.tensor(3.0)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert float(tape.gradient(y, x)) == 6.0
    assert float(tape.gradient(z, x)) == 108.0


def test_nested_sources_structure_is_preserved():
    a = tg.tensor(1.0)
    b = tg.tensor([1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch([a, b])
        y = a * 3 + tnp.sum(b * b)
    grads = tape.gradient(y, {"a": a, "rest": (b, [a])})
    assert set(grads) == {"a", "rest"}
    assert float(grads["a"]) == 3.0
    np.testing.assert_allclose(grads["rest"][0].numpy(), [2.0, 4.0])
    assert float(grads["rest"][1][0]) == 3.0


def test_non_scalar_target_is_summed_like_tensorflow():
    x = tg.tensor([1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2.0, 4.0])


def test_output_gradients_weight_the_target():
    x = tg.tensor([1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    g = tape.gradient(y, x, output_gradients=tg.tensor([10.0, 100.0]))
    np.testing.assert_allclose(g.numpy(), [20.0, 400.0])


def test_list_of_targets_is_summed():
    x = tg.tensor(2.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y1, y2 = x * x, x * 3
    assert float(tape.gradient([y1, y2], x)) == 7.0


def test_gradient_with_respect_to_intermediate():
    x = tg.tensor(2.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        z = y * 3 + y
    gy, gx = tape.gradient(z, [y, x])
    assert float(gy) == 4.0
    assert float(gx) == 16.0


def test_gradient_of_source_itself():
    x = tg.tensor([1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
    np.testing.assert_array_equal(tape.gradient(x, x).numpy(), [1.0, 1.0])


def test_stop_recording():
    x = tg.tensor(2.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        with tape.stop_recording():
            z = y * 10
    assert tape.gradient(z, x) is None


def test_integer_sources_get_none():
    i = tg.tensor([1, 2, 3])
    with tg.GradientTape() as tape:
        tape.watch(i)
        y = tnp.sum(i * 2)
    assert tape.gradient(y, i) is None


def test_float64_end_to_end():
    x = tg.tensor(np.array([0.5, 1.5]))
    assert x.dtype == np.float64
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tnp.sum(tnp.exp(x) * 2.0)
    g = tape.gradient(y, x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g.numpy(), 2 * np.exp([0.5, 1.5]), rtol=1e-15)


def test_gradient_dtype_matches_source_after_promotion():
    x = tg.tensor([1.0, 2.0])  # float32
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tnp.sum(x * np.array([1.0, 2.0]))  # float64 array promotes the result
    g = tape.gradient(y, x)
    assert y.dtype == np.float64
    assert g.dtype == np.float32


def test_jacobian():
    x = tg.tensor([1.0, 2.0, 3.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x[:2] * x[1:]
    jac = tape.jacobian(y, x)
    expected = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 2.0]])
    np.testing.assert_allclose(jac.numpy(), expected)


def test_batch_jacobian():
    x = tg.tensor(np.arange(6.0).reshape(3, 2))
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tnp.tanh(x @ w)
    jac = tape.batch_jacobian(y, x)
    assert jac.shape == (3, 3, 2)
    t = np.tanh(x.numpy() @ w)
    for b in range(3):
        np.testing.assert_allclose(jac.numpy()[b], (1 - t[b] ** 2)[:, None] * w.T, atol=1e-12)


@pytest.mark.parametrize("order", [2, 3])
def test_nested_tapes_give_higher_derivatives(order):
    x = tg.tensor(0.7, dtype=np.float64)
    tapes = [tg.GradientTape() for _ in range(order)]
    for tape in tapes:
        tape.__enter__()
        tape.watch(x)
    y = tnp.sin(x)
    for tape in reversed(tapes):
        tape.__exit__(None, None, None)
        y = tape.gradient(y, x)
    expected = {2: -np.sin(0.7), 3: -np.cos(0.7)}[order]
    np.testing.assert_allclose(float(y), expected, rtol=1e-12)


def test_second_derivative_with_persistent_outer():
    x = tg.tensor(2.0)
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            y = x**4
        dy = inner.gradient(y, x)
    d2y = outer.gradient(dy, x)
    assert float(dy) == 32.0
    assert float(d2y) == 48.0


def test_gradient_accumulates_over_reuse():
    x = tg.tensor(3.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * x + x * x * x + tnp.exp(x * 0)
    assert float(tape.gradient(y, x)) == pytest.approx(6 + 27)


def test_watch_rejects_arrays():
    with tg.GradientTape() as tape, pytest.raises(TypeError, match="tapegrad.tensor"):
        tape.watch(np.ones(2))
