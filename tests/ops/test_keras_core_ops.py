"""keras.ops core names: conversions, casts, slicing, scattering, control flow, jvp, and the
clear error of an op tapegrad does not have.

Control flow runs eagerly with gradients through every iteration, unrolls inside
`tapegrad.function` when its predicate or trip count is concrete, and refuses a predicate
computed by the traced function with an error saying so.
"""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import ops
from tapegrad.graph import TracerValueError

RNG = np.random.default_rng(3)


def test_conversions_and_dtypes() -> None:
    t = ops.convert_to_tensor([1.0, 2.0])
    assert ops.is_tensor(t) and t.dtype == np.float32
    assert ops.convert_to_tensor(np.array([1.0])).dtype == np.float64
    assert ops.convert_to_tensor([1, 2], dtype="float32").dtype == np.float32
    assert ops.convert_to_tensor(t) is t
    v = tg.Variable([3.0])
    with tg.GradientTape() as tape:
        y = ops.convert_to_tensor(v) * 2
    assert float(tape.gradient(y, v)[0]) == 2.0
    np.testing.assert_array_equal(ops.convert_to_numpy(t), np.array([1.0, 2.0], np.float32))
    assert isinstance(ops.convert_to_numpy(t), np.ndarray)
    assert not ops.is_tensor(np.ones(2))
    assert ops.dtype(t) == "float32" and ops.dtype(np.int32(1)) == "int32"
    assert ops.shape(tg.tensor(np.ones((2, 3)))) == (2, 3)
    with pytest.raises(ValueError, match="convert_to_tensor: sparse=True"):
        ops.convert_to_tensor([1.0], sparse=True)
    with pytest.raises(ValueError, match="cast: dtype 'bfloat17'"):
        ops.cast(t, "bfloat17")


def test_cast_and_saturate_cast() -> None:
    np.testing.assert_array_equal(ops.cast(tg.tensor([1.7, -1.7]), "int32").numpy(), [1, -1])
    assert ops.cast([1, 2], "float32").dtype == np.float32
    x = tg.tensor([1.5, 2.5], dtype="float64")
    assert float(tg.grad(lambda t: ops.cast(t, "float32").sum())(x)[0]) == 1.0
    np.testing.assert_array_equal(
        ops.saturate_cast(tg.tensor([-3.5, 300.7, 12.2]), "uint8").numpy(), [0, 255, 12]
    )
    np.testing.assert_array_equal(
        ops.saturate_cast(np.array([70000, -70000]), "int16").numpy(), [32767, -32768]
    )
    assert ops.saturate_cast(np.array([1e300]), "float32").numpy()[0] == np.finfo(np.float32).max


def test_stop_gradient_get_item_and_custom_gradient() -> None:
    assert float(tg.grad(lambda x: x * ops.stop_gradient(x))(tg.tensor(3.0))) == 3.0
    assert float(ops.get_item(tg.tensor([[1.0, 2.0]]), (0, 1))) == 2.0

    @ops.custom_gradient
    def log1pexp(x):
        e = ops.exp(x)

        def grad(*args, upstream=None):  # Keras's documented form
            if upstream is None:
                (upstream,) = args
            return upstream * (1.0 - 1.0 / (1 + e))

        return ops.log(1 + e), grad

    assert float(tg.grad(log1pexp)(tg.tensor(100.0))) == 1.0


def test_slice_and_slice_update() -> None:
    x = RNG.normal(size=(2, 4, 6, 8)).astype(np.float32)
    np.testing.assert_array_equal(
        ops.slice(x, (1, 3, 2, 1), (1, 1, 3, 4)).numpy(), x[1:2, 3:4, 2:5, 1:5]
    )
    # Starts are clamped so the window fits (jax.lax.dynamic_slice).
    np.testing.assert_array_equal(
        ops.slice(x, (1, 3, 2, 1), (1, 2, 3, 4)).numpy(), x[1:2, 2:4, 2:5, 1:5]
    )
    np.testing.assert_array_equal(
        ops.slice(x, tg.tensor([0, 0, 0, 0]), (2, 1, 1, 1)).numpy(), x[:, :1, :1, :1]
    )
    out = ops.slice_update(
        np.zeros((3, 4), np.float32), (1, 2), np.ones((2, 2), np.float32)
    ).numpy()
    expected = np.zeros((3, 4), np.float32)
    expected[1:, 2:] = 1
    np.testing.assert_array_equal(out, expected)
    base, upd = tg.tensor(RNG.normal(size=(3, 4))), tg.tensor(RNG.normal(size=(2, 2)))
    tg.check_grads(lambda a, b: ops.slice_update(a, (0, 1), b), (base, upd), order=2)
    tg.check_grads(lambda a: ops.slice(a, (1, 1), (2, 2)), (base,), order=2)
    traced_start = tg.function(lambda a, s: ops.slice(a, s, (1, 1, 1, 1)))
    with pytest.raises(TracerValueError, match="ops.slice's start_indices"):
        traced_start(tg.tensor(x), tg.tensor([0, 0, 0, 0]))
    with pytest.raises(ValueError, match="slice: start_indices"):
        ops.slice(x, (0, 0), (1, 1))
    with pytest.raises(ValueError, match="slice: a window of shape"):
        ops.slice(x, (0, 0, 0, 0), (3, 1, 1, 1))


def test_scatter_and_scatter_update() -> None:
    out = ops.scatter(np.array([[0, 1], [2, 0], [0, 1]]), tg.tensor([1.0, 2.0, 3.0]), (3, 2))
    np.testing.assert_array_equal(out.numpy(), [[0, 4], [0, 0], [2, 0]])  # duplicates add
    rows = ops.scatter([[1], [0]], tg.tensor([[1.0, 2.0], [3.0, 4.0]]), (3, 2)).numpy()
    np.testing.assert_array_equal(rows, [[3, 4], [1, 2], [0, 0]])
    values = tg.tensor(RNG.normal(size=3))
    tg.check_grads(lambda v: ops.scatter([[0, 1], [2, 0], [0, 1]], v, (3, 2)), (values,), order=2)
    # Traced indices: computed when the graph runs.
    traced = tg.function(lambda i, v: ops.scatter(i, v, (4,)))
    np.testing.assert_array_equal(
        traced(tg.tensor([[3], [1]]), tg.tensor([1.0, 2.0])).numpy(), [0, 2, 0, 1]
    )
    np.testing.assert_array_equal(
        traced(tg.tensor([[0], [0]]), tg.tensor([1.0, 2.0])).numpy(), [3, 0, 0, 0]
    )

    zeros = np.zeros((3, 2), np.float32)
    upd = np.array([[5.0, 6.0], [7.0, 8.0]], np.float32)
    np.testing.assert_array_equal(
        ops.scatter_update(zeros, [[1], [0]], upd).numpy(), [[7, 8], [5, 6], [0, 0]]
    )
    last_wins = ops.scatter_update(np.zeros(3), [[1], [1]], np.array([1.0, 2.0])).numpy()
    np.testing.assert_array_equal(last_wins, [0, 2, 0])
    base = np.array([1.0, 5.0, 2.0])
    for reduction, expected in (
        ("add", [1, 9, 3]),
        ("max", [1, 5, 2]),
        ("min", [1, 1, 1]),
        ("mul", [1, 15, 2]),
    ):
        got = ops.scatter_update(
            base, [[1], [2], [1]], np.array([1.0, 1.0, 3.0]), reduction=reduction
        )
        np.testing.assert_array_equal(got.numpy(), expected)
    a, u = tg.tensor(RNG.normal(size=(3, 2))), tg.tensor(RNG.normal(size=(2, 2)))
    tg.check_grads(lambda s, t: ops.scatter_update(s, [[2], [0]], t), (a, u), order=2)
    with pytest.raises(ValueError, match="scatter_update: reduction"):
        ops.scatter_update(base, [[0]], [1.0], reduction="sum")
    with pytest.raises(ValueError, match="scatter: indices out of range"):
        ops.scatter([[5]], [1.0], (3,))


def test_cond_and_switch() -> None:
    x = tg.tensor(2.0)
    assert float(ops.cond(x > 0, lambda: x * 10, lambda: -x)) == 20.0
    assert float(ops.cond(False, lambda: x * 10, lambda: -x)) == -2.0
    assert float(tg.grad(lambda t: ops.cond(t > 0, lambda: t * t, lambda: -t))(x)) == 4.0
    branches = [lambda t: t + 1, lambda t: t * 10, lambda t: -t]
    assert [float(ops.switch(i, branches, x)) for i in (-3, 0, 1, 2, 9)] == [
        3.0,
        3.0,
        20.0,
        -2.0,
        -2.0,
    ]
    assert float(tg.grad(lambda t: ops.switch(1, branches, t))(x)) == 10.0
    # Inside tapegrad.function: a concrete predicate unrolls; a traced one is refused clearly.
    flag = tg.tensor(True)
    assert float(tg.function(lambda t: ops.cond(flag, lambda: t * 3, lambda: t))(x)) == 6.0
    with pytest.raises(TracerValueError, match="ops.cond's predicate"):
        tg.function(lambda t: ops.cond(t > 0, lambda: t, lambda: -t))(x)
    with pytest.raises(ValueError, match="cond: the predicate must be a scalar"):
        ops.cond(tg.tensor([True, False]), lambda: 1, lambda: 2)


def test_while_loop_semantics_and_gradients() -> None:
    i, v = ops.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2), (0, tg.tensor(1.0)))
    assert i == 3 and float(v) == 8.0
    single = ops.while_loop(lambda v: v < 100, lambda v: v * 3, tg.tensor(1.0))
    assert float(single) == 243.0
    capped = ops.while_loop(
        lambda v: v < 100, lambda v: v * 3, tg.tensor(1.0), maximum_iterations=2
    )
    assert float(capped) == 9.0
    as_list = ops.while_loop(lambda a, b: a < 2, lambda a, b: [a + 1, b], [0, 5])
    assert as_list == (2, 5)

    def f(x):  # x ** 4 by repeated squaring while below a bound
        return ops.while_loop(lambda k, y: k < 2, lambda k, y: (k + 1, y * y), (0, x))[1]

    assert float(tg.grad(f)(tg.tensor(1.5))) == pytest.approx(4 * 1.5**3)
    with pytest.raises(TracerValueError, match="ops.while_loop's loop condition"):
        tg.function(lambda t: ops.while_loop(lambda y: y < 10, lambda y: y * 2, t))(tg.tensor(1.0))


def test_fori_loop_scan_and_map() -> None:
    assert ops.fori_loop(0, 4, lambda i, total: total + i, 0) == 6
    traced = tg.function(lambda t: ops.fori_loop(0, 3, lambda i, v: v * t, t))
    assert float(traced(tg.tensor(2.0))) == 16.0
    assert (
        float(tg.grad(lambda t: ops.fori_loop(1, 3, lambda i, v: v * t * i, t))(tg.tensor(2.0)))
        == 24.0
    )

    xs = tg.tensor([1.0, 2.0, 3.0])
    carry, ys = ops.scan(lambda c, x: (c + x, c * x), 0.0, xs)
    assert float(carry) == 6.0
    np.testing.assert_array_equal(ys.numpy(), [0.0, 2.0, 9.0])
    carry, ys = ops.scan(lambda c, x: (c + x, c * x), 0.0, xs, reverse=True)
    np.testing.assert_array_equal(ys.numpy(), [5.0, 6.0, 0.0])  # in the order of xs
    carry, ys = ops.scan(lambda c, _: (c * 2, None), tg.tensor(1.0), length=3)
    assert float(carry) == 8.0 and ys is None
    nested = ops.scan(
        lambda c, x: ({"s": c["s"] + x["a"]}, (x["a"] * x["b"], c["s"])),
        {"s": tg.tensor(0.0)},
        {"a": tg.tensor([1.0, 2.0]), "b": tg.tensor([[1.0, 1.0], [3.0, 3.0]])},
    )
    assert float(nested[0]["s"]) == 3.0
    np.testing.assert_array_equal(nested[1][0].numpy(), [[1, 1], [6, 6]])

    def cumulative_product_sum(x):
        return ops.scan(lambda c, e: (c * e, c * e), tg.tensor(1.0), x)[1].sum()

    tg.check_grads(cumulative_product_sum, (tg.tensor([1.5, -0.5, 2.0]),), order=2)
    with pytest.raises(ValueError, match="scan: got no xs"):
        ops.scan(lambda c, x: (c, x), 0.0)
    with pytest.raises(ValueError, match="scan: every leaf of xs"):
        ops.scan(lambda c, x: (c, x), 0.0, (tg.tensor([1.0]), tg.tensor([1.0, 2.0])))

    m = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(ops.map(lambda row: row.sum(), m).numpy(), [3.0, 7.0])
    np.testing.assert_array_equal(ops.vectorized_map(lambda row: row * 2, m).numpy(), m.numpy() * 2)
    pair = ops.map(lambda row: (row[0], row * 0), m)
    np.testing.assert_array_equal(pair[0].numpy(), [1.0, 3.0])


def test_associative_scan_matches_keras() -> None:
    # Keras 3.15 numbers (JAX backend): composition of affine maps, forwards and reversed.
    def affine(p, q):
        return (p[0] * q[0], p[1] * q[0] + q[1])

    elems = (tg.tensor([1.0, 2.0, 3.0, 0.5, -1.0]), tg.tensor([1.0, 2.0, 0.0, 4.0, 1.0]))
    a, b = ops.associative_scan(affine, elems)
    np.testing.assert_allclose(a.numpy(), [1.0, 2.0, 6.0, 3.0, -3.0])
    np.testing.assert_allclose(b.numpy(), [1.0, 4.0, 12.0, 10.0, -9.0])
    a, b = ops.associative_scan(affine, elems, reverse=True)
    np.testing.assert_allclose(a.numpy(), [-3.0, -3.0, -1.5, -0.5, -1.0])
    np.testing.assert_allclose(b.numpy(), [30.0, 29.0, 13.5, 4.5, 1.0])
    m = RNG.normal(size=(2, 4))
    np.testing.assert_allclose(
        ops.associative_scan(lambda x, y: x + y, m, axis=1).numpy(), np.cumsum(m, 1)
    )
    tg.check_grads(
        lambda t: ops.associative_scan(lambda x, y: x * y, t), (tg.tensor(m[0]),), order=2
    )


def test_jvp_with_and_without_aux() -> None:
    out, tangent = ops.jvp(lambda x: x * x, (tg.tensor(3.0),), (tg.tensor(1.0),))
    assert (float(out), float(tangent)) == (9.0, 6.0)
    out, tangent, aux = ops.jvp(
        lambda x: (ops.sin(x), x + 1), (tg.tensor(0.0),), (tg.tensor(2.0),), has_aux=True
    )
    assert (float(out), float(tangent), float(aux)) == (0.0, 2.0, 1.0)


def test_unsupported_names_raise_clearly() -> None:
    assert ops.UNSUPPORTED, "the list the coverage report reads"
    for name, reason in ops.UNSUPPORTED.items():
        assert reason
        with pytest.raises(NotImplementedError, match=f"tapegrad.ops.{name} is not supported"):
            getattr(ops, name)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_op'"):
        ops.no_such_op  # noqa: B018
    for name in ops.image.UNSUPPORTED:
        with pytest.raises(NotImplementedError, match=f"ops.image.{name} is not supported"):
            getattr(ops.image, name)


def test_creation_dtypes_follow_keras() -> None:
    assert ops.full((2,), 1.5).dtype == np.float32  # NumPy would give float64
    assert ops.full((2,), 1).dtype.kind == "i"
    assert ops.full((2,), 1, dtype="float64").dtype == np.float64
    np.testing.assert_array_equal(ops.full((2, 2), tg.tensor(3.0)).numpy(), np.full((2, 2), 3.0))
    np.testing.assert_array_equal(ops.arange(start=0, stop=5, step=2).numpy(), [0, 2, 4])
    assert ops.arange(2.0).dtype == np.float32 and ops.arange(0, 1, 0.5).dtype == np.float32
    assert ops.arange(tg.tensor(3)).shape == (3,)


def test_softmax_over_several_axes() -> None:
    x = tg.tensor(RNG.normal(size=(2, 3, 4)))
    out = ops.softmax(x, axis=(1, 2)).numpy()
    e = np.exp(x.numpy() - x.numpy().max((1, 2), keepdims=True))
    np.testing.assert_allclose(out, e / e.sum((1, 2), keepdims=True), rtol=1e-12)
    tg.check_grads(lambda t: ops.softmax(t, axis=[0, 2]), (x,), order=2)


def test_keras_submodules() -> None:
    assert ops.numpy.full((2,), 0.5).dtype == np.float32  # Keras's version, not NumPy's
    np.testing.assert_array_equal(
        ops.numpy.divide_no_nan(np.array([1.0]), np.array([0.0])).numpy(), [0.0]
    )
    assert float(ops.numpy.mean(tg.tensor([1.0, 3.0]))) == 2.0
    assert ops.numpy.get_item is not None and ops.numpy.vectorize is not None
    assert ops.linalg.solve_triangular is not None and ops.image.resize is not None
    with pytest.raises(NotImplementedError, match="tapegrad.ops.nn.polar is not supported"):
        ops.nn.polar  # noqa: B018


def test_loops_unroll_inside_tapegrad_function() -> None:
    def body(x):
        carry, ys = ops.scan(lambda c, e: (c * e, c + e), tg.tensor(1.0), x)
        mapped = ops.map(lambda e: e * e, x)
        prefix = ops.associative_scan(lambda a, b: a + b, x)
        return carry + ys.sum() + mapped.sum() + prefix.sum()

    x = tg.tensor([1.5, -0.5, 2.0])
    compiled = tg.function(body)
    assert float(compiled(x)) == pytest.approx(float(body(x)))
    assert float(compiled(tg.tensor([2.0, 1.0, 1.0]))) == pytest.approx(
        float(body(tg.tensor([2.0, 1.0, 1.0])))
    )


def test_keras_signatures_of_unstack_and_one_hot() -> None:
    parts = ops.unstack(tg.tensor([[1.0, 2.0], [3.0, 4.0]]), 2, axis=1)
    assert isinstance(parts, list) and [p.numpy().tolist() for p in parts] == [
        [1.0, 3.0],
        [2.0, 4.0],
    ]
    with pytest.raises(ValueError, match="unstack: num=3"):
        ops.unstack(tg.tensor([1.0, 2.0]), num=3)
    assert ops.one_hot(tg.tensor([2]), 3).dtype == np.float32
    assert ops.one_hot(tg.tensor([2]), 3, dtype="int32").dtype == np.int32
    with pytest.raises(ValueError, match="one_hot: sparse=True"):
        ops.one_hot(tg.tensor([2]), 3, sparse=True)


def test_numpy_named_ops_with_keras_signatures() -> None:
    m = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(ops.prod(m, 1, True).numpy(), [[2.0], [12.0]])  # keepdims third
    np.testing.assert_array_equal(ops.prod(m, axis=[0, 1]).numpy(), 24.0)
    np.testing.assert_array_equal(ops.take_along_axis(m, tg.tensor([3, 0])).numpy(), [4.0, 1.0])
    np.testing.assert_array_equal(
        ops.take_along_axis(m, tg.tensor([[1], [0]]), axis=1).numpy(), [[2.0], [3.0]]
    )
    np.testing.assert_array_equal(
        ops.bincount(tg.tensor([0, 2, 2]), minlength=4).numpy(), [1, 0, 2, 0]
    )
    with pytest.raises(ValueError, match="bincount: sparse=True"):
        ops.bincount(tg.tensor([0]), sparse=True)
    for make in (
        lambda: ops.zeros((2,)),
        lambda: ops.ones((2,)),
        lambda: ops.empty((2,)),
        lambda: ops.eye(2),
        lambda: ops.identity(2),
        lambda: ops.tri(2),
    ):
        assert make().dtype == np.float32
    assert ops.zeros((2,), "int32").dtype == np.int32 and ops.eye(2, 3, k=1).shape == (2, 3)
    tg.check_grads(lambda t: ops.prod(t, 0, True), (tg.tensor([[1.5, 2.0], [0.5, -1.0]]),), order=2)


def test_numpy_named_ops_take_keras_keywords() -> None:
    x = tg.tensor([[1.0, -2.0], [3.0, 4.0]])
    assert float(ops.mean(x=x)) == 1.5
    np.testing.assert_array_equal(
        ops.clip(x, x_min=0.0, x_max=3.0).numpy(), [[1.0, 0.0], [3.0, 3.0]]
    )
    np.testing.assert_array_equal(ops.where(x > 0, x1=x, x2=0.0).numpy(), [[1.0, 0.0], [3.0, 4.0]])
    assert ops.concatenate(xs=[x, x], axis=0).shape == (4, 2)
    assert ops.expand_dims(x=x, axis=0).shape == (1, 2, 2)
    np.testing.assert_array_equal(ops.numpy.sum(x=x, axis=0).numpy(), [4.0, 2.0])
    assert list(__import__("inspect").signature(ops.sum).parameters)[0] == "x"
    tg.check_grads(lambda t: ops.sum(x=ops.square(t), axis=1), (tg.tensor([[1.5, 2.0]]),), order=2)
    with pytest.raises(TypeError, match="got both 'x_min' and 'a_min'"):
        ops.clip(x, x_min=0.0, a_min=1.0, x_max=2.0)
