"""detect_anomaly and exact zeros for masked branches of `where`."""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

X = tg.tensor([0.0, 1.0, -1.0])


@pytest.mark.parametrize(
    ("branch", "expected"),
    [
        (tnp.sqrt, [0.0, 0.5, 0.0]),
        (tnp.log, [0.0, 1.0, 0.0]),
        (lambda x: 1 / x, [0.0, -1.0, 0.0]),
        (lambda x: x**0.5, [0.0, 0.5, 0.0]),
        (lambda x: tnp.log(x) * 3 + tnp.sqrt(x * 2), [0.0, 3 + 1 / np.sqrt(2), 0.0]),
    ],
)
def test_masked_branch_gives_exact_zero(branch, expected):
    def f(x):
        return tnp.sum(tnp.where(x > 0, branch(x), 0.0))

    g = tg.grad(f)(X).numpy()
    assert not np.isnan(g).any()
    np.testing.assert_allclose(g, expected, rtol=1e-6)


def test_masked_branch_with_both_branches_singular():
    def f(x):
        return tnp.sum(tnp.where(x > 0, tnp.log(x), tnp.sqrt(-x)))

    g = tg.grad(f)(tg.tensor([0.0, 1.0, -4.0])).numpy()
    # at 0 the sqrt branch is selected: its derivative there is genuinely infinite
    assert g[1] == 1.0 and g[2] == pytest.approx(-0.25)


def test_masked_product_with_infinite_partner():
    def f(x, y):
        return tnp.sum(tnp.where(x > 0, tnp.log(x) * y, 0.0))

    gx, gy = tg.grad(f, argnums=(0, 1))(X, tg.tensor([2.0, 2.0, 2.0]))
    np.testing.assert_array_equal(gx.numpy(), [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(gy.numpy(), [0.0, 0.0, 0.0])


def test_masked_second_derivative_is_finite():
    def f(x):
        return tnp.sum(tnp.where(x > 0, tnp.sqrt(x), 0.0))

    h = tg.grad(lambda x: tnp.sum(tg.grad(f)(x)))(X).numpy()
    np.testing.assert_allclose(h, [0.0, -0.25, 0.0])


def test_genuine_infinite_gradient_is_kept():
    g = tg.grad(lambda x: tnp.sum(tnp.sqrt(x)))(tg.tensor([0.0, 1.0])).numpy()
    assert np.isinf(g[0]) and g[1] == 0.5


def test_anomaly_forward_names_op_and_line():
    with tg.debug.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        tnp.log(tg.tensor([-1.0, 1.0]))
    message = str(info.value)
    assert "'log'" in message and "forward" in message
    assert "test_anomaly_and_masks.py" in message


def test_anomaly_backward_names_op_and_creation_line():
    x = tg.tensor([0.0, 1.0])
    with tg.debug.detect_anomaly():
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = tnp.sum(tnp.sqrt(x) * 0 + x)  # forward is finite; sqrt's VJP at 0 is inf
        with pytest.raises(FloatingPointError) as info:
            tape.gradient(y, x)
    message = str(info.value)
    assert "backward" in message and "'sqrt'" in message
    assert "test_anomaly_and_masks.py" in message


def test_anomaly_off_by_default():
    y = tnp.log(tg.tensor(-1.0))
    assert np.isnan(float(y))
