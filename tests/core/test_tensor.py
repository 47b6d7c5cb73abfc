"""Tensor and Variable: construction, operators, protocols, errors."""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp


def test_default_dtypes():
    assert tg.tensor(1.0).dtype == np.float32
    assert tg.tensor([1, 2]).dtype == np.int64
    assert tg.tensor(np.ones(2)).dtype == np.float64
    assert tg.tensor([1.0], dtype=np.float64).dtype == np.float64
    assert tg.constant(True).dtype == np.bool_


def test_attributes_and_conversions():
    t = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.shape == (2, 2) and t.ndim == 2 and t.size == 4 and len(t) == 2
    assert isinstance(np.asarray(t), np.ndarray)
    assert [row.numpy().tolist() for row in t] == [[1.0, 2.0], [3.0, 4.0]]
    assert float(tg.tensor(2.5)) == 2.5 and int(tg.tensor(3)) == 3
    assert t.T.numpy().tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert f"{tg.tensor(1.23456):.2f}" == "1.23"
    assert "Tensor(" in repr(t)


def test_operators_match_numpy():
    a = np.array([1.5, -2.0, 3.0], np.float32)
    b = np.array([0.5, 4.0, -1.0], np.float32)
    ta, tb = tg.tensor(a), tg.tensor(b)
    for op in ["+", "-", "*", "/", "//", "%", "<", "<=", ">", ">=", "==", "!="]:
        got = eval(f"ta {op} tb").numpy()
        np.testing.assert_array_equal(got, eval(f"a {op} b"), err_msg=op)
    np.testing.assert_array_equal((ta**2).numpy(), a**2)
    np.testing.assert_array_equal((2.0**ta).numpy(), 2.0**a)
    np.testing.assert_array_equal((-ta).numpy(), -a)
    np.testing.assert_array_equal(abs(ta).numpy(), abs(a))
    np.testing.assert_array_equal((1 - ta).numpy(), 1 - a)
    np.testing.assert_array_equal((a * tb).numpy(), a * b)  # ndarray on the left


def test_matmul_operator_and_reflected():
    a, b = np.ones((2, 3)), np.ones((3, 4))
    assert (tg.tensor(a) @ b).shape == (2, 4)
    assert (a @ tg.tensor(b)).shape == (2, 4)


def test_indexing_forms():
    x = np.arange(24.0).reshape(2, 3, 4)
    t = tg.tensor(x)
    for index in [
        0,
        (1, 2),
        slice(1, None),
        (Ellipsis, 1),
        (None, 0),
        ([0, 1, 1], [2, 0, 0]),
        x > 10,
        (slice(None), [0, 2]),
        (0, slice(None, None, -1)),
    ]:
        np.testing.assert_array_equal(t[index].numpy(), x[index])
    np.testing.assert_array_equal(t[tg.tensor([1, 0])].numpy(), x[[1, 0]])


def test_indexing_gradient_with_duplicates_and_masks():
    x = np.arange(5.0)
    g = tg.grad(lambda t: tnp.sum(t[[0, 0, 3]] * 2))(x)
    np.testing.assert_array_equal(g.numpy(), [4.0, 0, 0, 2.0, 0])
    g = tg.grad(lambda t: tnp.sum(t[t > 2] ** 2))(x)
    np.testing.assert_array_equal(g.numpy(), [0, 0, 0, 6.0, 8.0])


def test_numpy_protocols_are_differentiable():
    x = tg.tensor([[0.1, 0.2], [0.3, 0.4]])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = np.sum(np.exp(x), axis=1)
        z = np.concatenate([y, np.where(x[0] > 0.15, x[0], -x[0])])
        total = np.sum(z)
    assert isinstance(y, tg.Tensor) and isinstance(total, tg.Tensor)
    g = tape.gradient(total, x).numpy()
    expected = np.exp(x.numpy()) + np.array([[-1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(g, expected, rtol=1e-6)


def test_unsupported_numpy_function_raises_clearly():
    with pytest.raises(TypeError, match="numpy.savetxt is not supported on tapegrad Tensors"):
        np.savetxt("unused.txt", tg.tensor([1.0, 2.0]))


def test_numpy_fft_on_a_tensor_dispatches_to_tapegrad():
    out = np.fft.fft(tg.tensor([1.0, 2.0]))
    assert isinstance(out, tg.Tensor)
    np.testing.assert_allclose(out.numpy(), [3.0, -1.0])


def test_tensor_is_immutable():
    with pytest.raises(TypeError, match="immutable"):
        tg.tensor([1.0])[0] = 2.0


def test_variable_assign_and_errors():
    v = tg.Variable(np.zeros(3), name="bias")
    v.assign([1.0, 2.0, 3.0])
    v.assign_sub(np.ones(3))
    np.testing.assert_array_equal(v.numpy(), [0.0, 1.0, 2.0])
    assert v.dtype == np.float64 and v.trainable and v.name == "bias"
    with pytest.raises(ValueError, match=r"Variable 'bias'.*shape \(2,\).*shape \(3,\)"):
        v.assign([1.0, 2.0])


def test_variable_does_not_alias_initial_array():
    init = np.zeros(2)
    v = tg.Variable(init)
    v.assign_add(np.ones(2))
    assert init.tolist() == [0.0, 0.0]


def test_variable_assign_keeps_recorded_values():
    v = tg.Variable(2.0)
    with tg.GradientTape() as tape:
        y = v * v
    v.assign(100.0)
    assert float(tape.gradient(y, v)) == 4.0


def test_variable_updates_in_place_only_when_nothing_else_sees_the_array():
    v = tg.Variable(np.arange(4.0, dtype=np.float32))
    buffer = v._value.ctypes.data
    v.assign_sub(np.ones(4, np.float32))
    v.assign_add(np.full(4, 2.0, np.float32))
    v.assign(np.full(4, 7.0, np.float32))
    assert v._value.ctypes.data == buffer  # no new array: nothing else held the old one
    # Each holder keeps the value it saw: a snapshot, a view, a tape entry.
    snapshot, view = v.numpy(), v[1:]
    with tg.GradientTape(persistent=True) as tape:
        y = tg.numpy.sum(v * v)
    for update in (v.assign_add, v.assign_sub, v.assign):
        update(np.full(4, 3.0, np.float32))
    np.testing.assert_array_equal(snapshot, np.full(4, 7.0))
    np.testing.assert_array_equal(view.numpy(), np.full(3, 7.0))
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), np.full(4, 14.0))
    np.testing.assert_array_equal(v.numpy(), np.full(4, 3.0))


def test_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: .*\(2,\), \(3,\)"):
        tg.tensor([1.0, 2.0]) + tg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"matmul: .*\(2, 3\), \(2, 3\)"):
        tg.tensor(np.ones((2, 3))) @ tg.tensor(np.ones((2, 3)))


def test_methods_are_differentiable():
    w = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = np.array([1.0, -1.0])
    # HIPS autograd returns zeros for w.T.dot(x) (its issue #8); the right answer:
    g = tg.grad(lambda w: w.T.dot(x).sum())(w)
    np.testing.assert_array_equal(g.numpy(), np.outer(x, np.ones(2)))
    g = tg.grad(lambda t: t.reshape(4).astype(np.float32).max() + t.mean())(w)
    np.testing.assert_allclose(g.numpy(), [[0.25, 0.25], [0.25, 1.25]])
    assert g.dtype == np.float64
