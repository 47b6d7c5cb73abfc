"""Table-driven tests of `tapegrad.numpy`: every `OpSample` in ``tests/opsamples.py`` gets

* a forward check against its NumPy reference, in float32 and float64 (values and the
  result dtype NumPy's promotion gives);
* first- and second-order derivative checks in forward and reverse mode (`check_grads`,
  float64);
* float32 gradients agreeing with float64 ones to float32 precision;
* ``None`` gradients for integer inputs (and, for pass-through ops, for every input).

Shapes (broadcasting, 0-d and size-0 included) are drawn by hypothesis; values by each
argument's domain, from a drawn seed. Explicit tests at the end pin down exact values
where finite differences cannot: ties, masked branches, products with zeros.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.config
import tapegrad.numpy as tnp
from tapegrad.core.tree import tree_flatten, tree_unflatten
from tests.opsamples import DIFFERENTIABLE, SAMPLES, OpSample

# Few examples per sample: the table is long (the file runs in about half a minute on two
# cores), and shapes vary more across samples than within one.
FEW = settings(
    max_examples=5, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
FEWER = settings(
    max_examples=3, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
SEEDS = st.integers(0, 2**32 - 1)


def _ids(samples: list[OpSample]) -> list[Any]:
    return [pytest.param(s, id=s.name) for s in samples]


def _draw_args(sample: OpSample, data: st.DataObject, dtype: Any) -> list[np.ndarray]:
    """Draw shapes, then values from each argument's domain (float64, cast to ``dtype``)."""
    shapes = data.draw(sample.shapes, label="shapes")
    rng = np.random.default_rng(data.draw(SEEDS, label="seed"))
    args = []
    for domain, shape in zip(sample.domains, shapes, strict=True):
        value = np.asarray(domain.draw(rng, tuple(shape), np.float64))
        if domain.differentiable:
            value = value.astype(dtype)
        args.append(value)
    return args


def _leaves(out: Any) -> list[Any]:
    return [leaf for leaf in tree_flatten(out)[0] if leaf is not None]


def _raw(x: Any) -> np.ndarray:
    return np.asarray(x._value if isinstance(x, tg.Tensor) else x)


def _assert_matches(got: Any, expected: Any, rtol: float, what: str) -> None:
    got_leaves, expected_leaves = _leaves(got), _leaves(expected)
    assert len(got_leaves) == len(expected_leaves), f"{what}: {len(got_leaves)} outputs"
    for g, e in zip(got_leaves, expected_leaves, strict=True):
        g, e = _raw(g), np.asarray(e)
        assert g.shape == e.shape, f"{what}: shape {g.shape} != NumPy's {e.shape}"
        assert g.dtype == e.dtype, f"{what}: dtype {g.dtype} != NumPy's {e.dtype}"
        if e.dtype.kind in "fc":
            np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol, equal_nan=True, err_msg=what)
        else:
            np.testing.assert_array_equal(g, e, err_msg=what)


# -- forward ------------------------------------------------------------------------------
@pytest.mark.parametrize("sample", _ids(SAMPLES))
@FEW
@given(data=st.data())
def test_forward_matches_numpy(sample: OpSample, data: st.DataObject) -> None:
    args64 = _draw_args(sample, data, np.float64)
    for dtype in sample.dtypes:
        args = [a.astype(dtype) if a.dtype == np.float64 else a for a in args64]
        what = f"{sample.name} in {np.dtype(dtype).name}"
        with np.errstate(all="ignore"):
            expected = sample.ref(*args)
            got = sample.op(*[tg.Tensor(a) for a in args])
            _assert_matches(got, expected, sample.rtol[dtype], f"{what} on Tensors")
            if sample.differentiable:
                assert all(isinstance(leaf, tg.Tensor) for leaf in _leaves(got)), what
            if not sample.tensor_only:
                # Plain arrays in, plain arrays out (nothing to record).
                plain = sample.op(*args)
                assert not any(isinstance(leaf, tg.Tensor) for leaf in _leaves(plain))
                _assert_matches(plain, expected, sample.rtol[dtype], f"{what} on arrays")


# -- derivatives --------------------------------------------------------------------------
@pytest.mark.parametrize("sample", _ids(DIFFERENTIABLE))
@FEW
@given(data=st.data())
def test_derivatives_match_finite_differences(sample: OpSample, data: st.DataObject) -> None:
    args = _draw_args(sample, data, np.float64)
    atol, rtol = sample.grad_tol or (None, None)
    tg.check_grads(sample.op, args, order=sample.order, modes=("fwd", "rev"), atol=atol, rtol=rtol)


def _vjp(sample: OpSample, args: list[np.ndarray], seed: int) -> tuple[Any, ...]:
    """The VJP of a fixed random cotangent (drawn in float64, cast to the output's dtype)."""
    out, vjp_fn = tg.vjp(sample.op, *args)
    rng = np.random.default_rng(seed)
    leaves, treedef = tree_flatten(out)
    cotangent = [tg.Tensor(rng.standard_normal(leaf.shape).astype(leaf.dtype)) for leaf in leaves]
    return vjp_fn(tree_unflatten(treedef, cotangent))


@pytest.mark.parametrize("sample", _ids(DIFFERENTIABLE))
@FEWER
@given(data=st.data())
def test_float32_gradients_match_float64(sample: OpSample, data: st.DataObject) -> None:
    args64 = _draw_args(sample, data, np.float64)
    args32 = [a.astype(np.float32) if a.dtype == np.float64 else a for a in args64]
    seed = data.draw(SEEDS, label="cotangent seed")
    grads64 = _vjp(sample, args64, seed)
    grads32 = _vjp(sample, args32, seed)
    for arg, g32, g64 in zip(args32, grads32, grads64, strict=True):
        if arg.dtype != np.float32:
            assert g32 is None and g64 is None, "non-float arguments get no gradient"
            continue
        g32, g64 = _raw(g32), _raw(g64)
        assert g32.shape == arg.shape and g32.dtype == np.float32
        assert g64.shape == arg.shape and g64.dtype == np.float64
        scale = max(1.0, float(np.max(np.abs(g64), initial=0.0)))
        np.testing.assert_allclose(g32, g64, rtol=2e-3, atol=2e-4 * scale)


# -- integer and boolean inputs ------------------------------------------------------------
def _total(out: Any) -> Any:
    """The sum of every output (a scalar to take gradients of)."""
    leaves = [leaf for leaf in _leaves(out) if np.asarray(_raw(leaf)).dtype.kind in "fiub"]
    return sum(tnp.sum(leaf) for leaf in leaves)


INTEGER_SAMPLES = [s for s in DIFFERENTIABLE if s.int_inputs]


@pytest.mark.parametrize("sample", _ids(INTEGER_SAMPLES))
@FEWER
@given(data=st.data())
def test_integer_inputs_get_none_gradients(sample: OpSample, data: st.DataObject) -> None:
    shapes = data.draw(sample.shapes, label="shapes")
    rng = np.random.default_rng(data.draw(SEEDS, label="seed"))
    args = [
        rng.integers(1, 3, shape, endpoint=True)
        if domain.differentiable
        else np.asarray(domain.draw(rng, tuple(shape), np.float64))
        for domain, shape in zip(sample.domains, shapes, strict=True)
    ]
    argnums = tuple(range(len(args)))
    with np.errstate(all="ignore"):
        # Integer inputs promote like NumPy's (sqrt of int64 is float64, sum stays int64).
        _assert_matches(
            sample.op(*[tg.Tensor(a) for a in args]),
            sample.ref(*args),
            1e-12,
            f"{sample.name} on integers",
        )
        grads = tg.grad(lambda *a: _total(sample.op(*a)), argnums=argnums)(*args)
        assert all(g is None for g in grads), f"tg.grad gave {grads}"
        tensors = [tg.Tensor(a) for a in args]
        with tg.GradientTape() as tape:
            tape.watch(tensors)
            out = sample.op(*tensors)
        grads = tape.gradient(_leaves(out), tensors)
    assert all(g is None for g in grads), f"GradientTape.gradient gave {grads}"


PASSTHROUGH = [s for s in SAMPLES if not s.differentiable]


@pytest.mark.parametrize("sample", _ids(PASSTHROUGH))
@FEWER
@given(data=st.data())
def test_passthrough_ops_give_no_gradient(sample: OpSample, data: st.DataObject) -> None:
    args = _draw_args(sample, data, np.float64)
    tensors = [tg.Tensor(a) for a in args]
    with np.errstate(all="ignore"), tg.GradientTape(persistent=True) as tape:
        tape.watch(tensors)
        out = sample.op(*tensors)
        total = _total(out) * 1.0
    assert all(g is None for g in tape.gradient(_leaves(out), tensors))
    assert all(g is None for g in tape.gradient(total, tensors))
    # Function transforms follow JAX: an unconnected float argument gets zeros.
    float_args = tuple(i for i, a in enumerate(args) if a.dtype.kind == "f")
    if float_args:
        grads = tg.grad(lambda *a: _total(sample.op(*a)) * 1.0, argnums=float_args)(*args)
        for i, g in zip(float_args, grads, strict=True):
            np.testing.assert_array_equal(_raw(g), np.zeros_like(args[i]))


BOOL_CASES = [
    ("sum", lambda b, x: tnp.sum(b) * tnp.sum(x)),
    ("multiply", lambda b, x: b * x),
    ("where", lambda b, x: tnp.where(b, x, 0.0)),
    ("reshape", lambda b, x: tnp.reshape(b, (-1,)).astype(np.float64) * 2 + tnp.sum(x)),
    ("concatenate", lambda b, x: tnp.concatenate([b.astype(np.float64), x])),
    ("astype", lambda b, x: b.astype(np.float32) + x),
    ("getitem", lambda b, x: b[::-1] * x[0]),
    ("mean", lambda b, x: tnp.mean(b) + x),
    ("cumsum", lambda b, x: tnp.cumsum(b) * x),
    ("maximum", lambda b, x: tnp.maximum(b, x)),
]


@pytest.mark.parametrize(("name", "func"), BOOL_CASES, ids=[c[0] for c in BOOL_CASES])
def test_bool_inputs_get_none_gradients(name: str, func: Any) -> None:
    b = np.array([True, False, True])
    x = np.array([0.5, -1.5, 2.0])
    grad_b, grad_x = tg.grad(lambda b, x: tnp.sum(func(b, x)), argnums=(0, 1))(b, x)
    assert grad_b is None
    assert grad_x is not None and grad_x.shape == x.shape and grad_x.dtype == np.float64
    tb, tx = tg.Tensor(b), tg.Tensor(x)
    with tg.GradientTape() as tape:
        tape.watch([tb, tx])
        out = func(tb, tx)
    assert tape.gradient(out, [tb, tx])[0] is None


# -- coverage of the primitive table -------------------------------------------------------
def _table_primitives() -> dict[str, tg.Primitive]:
    """The primitives of the elementwise, reduction, shape and product families."""
    from tapegrad.core.prims import elementwise, products, reduction, shape

    found = {}
    for module in (elementwise, products, reduction, shape):
        for value in vars(module).values():
            if isinstance(value, tg.Primitive):
                found[value.name] = value
    return found


@settings(max_examples=1, deadline=None, database=None)
@given(data=st.data())
def test_every_primitive_is_exercised_by_the_table(data: st.DataObject) -> None:
    table = _table_primitives()
    used: set[str] = set()
    originals = {name: prim.impl for name, prim in table.items()}

    def spy(name: str, impl: Any) -> Any:
        def run(*args: Any, **params: Any) -> Any:
            used.add(name)
            return impl(*args, **params)

        return run

    engines = tapegrad.config.enabled_engines()  # (kernels would bypass the spied impls)
    try:
        for engine in engines:
            tapegrad.config.disable_engine(engine)
        for name, prim in table.items():
            prim.impl = spy(name, originals[name])
        with np.errstate(all="ignore"):
            for sample in SAMPLES:
                args = _draw_args(sample, data, np.float64)
                if sample.differentiable:
                    _vjp(sample, args, 0)
                    tg.jvp(sample.op, args, [np.ones_like(a) for a in args])
                else:
                    sample.op(*[tg.Tensor(a) for a in args])
    finally:
        for name, prim in table.items():
            prim.impl = originals[name]
        for engine in engines:
            tapegrad.config.enable_engine(engine)
    missing = sorted(set(table) - used)
    assert not missing, f"primitives no op sample reaches: {missing}"


# -- exact values finite differences cannot pin down ---------------------------------------
def _first_and_second(total: Any, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Gradient, and the Hessian-vector product with ones by reverse-over-reverse and by
    forward-over-reverse."""
    grad = _raw(tg.grad(total)(x))
    rev = _raw(tg.grad(lambda x: tnp.sum(tg.grad(total)(x)))(x))
    fwd = _raw(tg.jvp(tg.grad(total), (x,), (np.ones_like(x),))[1])
    return grad, rev, fwd


MASKED_BRANCHES = [
    ("sqrt", tnp.sqrt, [0.0, 0.5, 0.0], [0.0, -0.25, 0.0]),
    ("log", tnp.log, [0.0, 1.0, 0.0], [0.0, -1.0, 0.0]),
    ("reciprocal", lambda x: 1 / x, [0.0, -1.0, 0.0], [0.0, 2.0, 0.0]),
    ("power_half", lambda x: x**0.5, [0.0, 0.5, 0.0], [0.0, -0.25, 0.0]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(
    ("name", "branch", "first", "second"), MASKED_BRANCHES, ids=[m[0] for m in MASKED_BRANCHES]
)
def test_masked_where_branch_has_exact_zero_gradient(
    name: str, branch: Any, first: list[float], second: list[float], dtype: Any
) -> None:
    x = np.array([0.0, 1.0, -1.0], dtype)

    def masked(x: Any) -> Any:
        return tnp.where(x > 0, branch(x), 0.0)

    def total(x: Any) -> Any:
        return tnp.sum(masked(x))

    with np.errstate(all="ignore"):
        grad, rev, fwd = _first_and_second(total, x)
        tangent = _raw(tg.jvp(masked, (x,), (np.ones_like(x),))[1])
        tx = tg.Tensor(x)
        with tg.GradientTape() as tape:
            tape.watch(tx)
            y = total(tx)
        taped = _raw(tape.gradient(y, tx))
    assert grad.dtype == dtype
    # atol=0: the masked entries must be exactly zero (not NaN, not tiny).
    for got in (grad, tangent, taped):
        np.testing.assert_allclose(got, first, rtol=1e-6, atol=0)
    for got in (rev, fwd):
        np.testing.assert_allclose(got, second, rtol=1e-6, atol=0)


def test_transpose_dot_gradient_hips_autograd_issue_8() -> None:
    # HIPS autograd #8: w.T.dot(x) once gave a zero gradient for w.
    w = np.arange(6.0).reshape(3, 2) / 10
    x = np.array([1.0, -2.0, 3.0])
    c = np.array([0.5, -1.5])
    grad_w, grad_x = tg.grad(lambda w, x: tnp.sum(w.T.dot(x) * c), argnums=(0, 1))(w, x)
    np.testing.assert_allclose(grad_w.numpy(), np.outer(x, c), rtol=1e-12)
    np.testing.assert_allclose(grad_x.numpy(), w @ c, rtol=1e-12)
    assert np.all(grad_w.numpy() != 0)


def test_numpy_functions_on_tensors_are_differentiable() -> None:
    a = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]])
    b = np.array([[1.0, 2.0, 3.0]])
    c = np.array([[True, False, True]])
    t, u = tg.Tensor(a), tg.Tensor(b)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch([t, u])
        exp = np.exp(t)
        row_sums = np.sum(t, axis=1)
        joined = np.concatenate([t, u])
        chosen = np.where(c, t, u)
    expected = [np.exp(a), np.sum(a, axis=1), np.concatenate([a, b]), np.where(c, a, b)]
    for out, value in zip((exp, row_sums, joined, chosen), expected, strict=True):
        assert isinstance(out, tg.Tensor)
        np.testing.assert_allclose(out.numpy(), value, rtol=1e-15)
    np.testing.assert_allclose(tape.gradient(exp, t).numpy(), np.exp(a), rtol=1e-15)
    np.testing.assert_array_equal(tape.gradient(row_sums, t).numpy(), np.ones_like(a))
    grad_t, grad_u = tape.gradient(joined, [t, u])
    np.testing.assert_array_equal(grad_t.numpy(), np.ones_like(a))
    np.testing.assert_array_equal(grad_u.numpy(), np.ones_like(b))
    grad_t, grad_u = tape.gradient(chosen, [t, u])
    np.testing.assert_array_equal(grad_t.numpy(), np.broadcast_to(c, a.shape) * 1.0)
    np.testing.assert_array_equal(grad_u.numpy(), 2.0 * ~c)


def test_maximum_and_minimum_ties_split_the_gradient_evenly() -> None:
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([1.0, 0.0, 3.0])
    for op, to_x, to_y in (
        (tnp.maximum, [0.5, 1.0, 0.5], [0.5, 0.0, 0.5]),
        (tnp.minimum, [0.5, 0.0, 0.5], [0.5, 1.0, 0.5]),
    ):
        gx, gy = tg.grad(lambda x, y, op=op: tnp.sum(op(x, y)), argnums=(0, 1))(x, y)
        np.testing.assert_array_equal(gx.numpy(), to_x)
        np.testing.assert_array_equal(gy.numpy(), to_y)
        _, tangent = tg.jvp(op, (x, y), (np.ones(3), np.zeros(3)))
        np.testing.assert_array_equal(tangent.numpy(), to_x)
    # The same argument twice: both halves come back to it.
    np.testing.assert_array_equal(
        tg.grad(lambda x: tnp.sum(tnp.maximum(x, x)))(x).numpy(), np.ones(3)
    )


def test_max_and_min_reductions_share_the_gradient_among_ties() -> None:
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    third = 1.0 / 3.0
    cases = [
        (lambda x: tnp.sum(tnp.max(x, axis=1)), [[0, 0.5, 0.5], [third] * 3]),
        (lambda x: tnp.max(x), [[0, 0.5, 0.5], [0, 0, 0]]),
        (lambda x: tnp.sum(tnp.amin(x, axis=1, keepdims=True)), [[1, 0, 0], [third] * 3]),
        (lambda x: tnp.ptp(x), [[-1, 0.5, 0.5], [0, 0, 0]]),
        (lambda x: x.max(), [[0, 0.5, 0.5], [0, 0, 0]]),
    ]
    for f, expected in cases:
        np.testing.assert_array_equal(tg.grad(f)(x).numpy(), expected)
        tangent = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        _, jvp = tg.jvp(f, (x,), (tangent,))
        assert jvp.numpy() == pytest.approx(np.sum(np.asarray(expected) * tangent), abs=1e-15)


def test_abs_and_clip_at_their_kinks() -> None:
    x = np.array([0.0, -1.0, 0.5, 1.0])
    np.testing.assert_array_equal(
        tg.grad(lambda x: tnp.sum(tnp.abs(x)))(x).numpy(), [0.0, -1.0, 1.0, 1.0]
    )
    # At a bound the input keeps the gradient (NumPy's clip is inclusive).
    np.testing.assert_array_equal(
        tg.grad(lambda x: tnp.sum(tnp.clip(x, -1.0, 0.5)))(x).numpy(), [1.0, 1.0, 1.0, 0.0]
    )


def test_prod_with_zeros_has_exact_first_and_second_derivatives() -> None:
    one_zero = np.array([2.0, 0.0, 3.0])
    two_zeros = np.array([0.0, 2.0, 0.0])
    for x, grad, hess in (
        (one_zero, [0.0, 6.0, 0.0], [[0, 3, 0], [3, 0, 2], [0, 2, 0]]),
        (two_zeros, [0.0, 0.0, 0.0], [[0, 0, 2], [0, 0, 0], [2, 0, 0]]),
    ):
        np.testing.assert_array_equal(tg.grad(tnp.prod)(x).numpy(), grad)
        np.testing.assert_array_equal(tg.hessian(tnp.prod)(x).numpy(), hess)
        np.testing.assert_array_equal(tg.jacobian(tg.grad(tnp.prod))(x).numpy(), hess)


def test_cumprod_with_zeros_has_exact_first_and_second_derivatives() -> None:
    x = np.array([2.0, 0.0, 3.0])
    jac = [[1, 0, 0], [0, 2, 0], [0, 6, 0]]
    np.testing.assert_array_equal(tg.jacobian(tnp.cumprod)(x).numpy(), jac)
    np.testing.assert_array_equal(tg.jacfwd(tnp.cumprod)(x).numpy(), jac)

    def total(x: Any) -> Any:  # x0 + x0 x1 + x0 x1 x2
        return tnp.sum(tnp.cumprod(x))

    hess = [[0, 4, 0], [4, 0, 2], [0, 2, 0]]
    np.testing.assert_array_equal(tg.hessian(total)(x).numpy(), hess)
    np.testing.assert_array_equal(tg.jacobian(tg.grad(total))(x).numpy(), hess)


def test_sinc_derivatives_at_zero() -> None:
    assert tg.grad(tnp.sinc)(0.0).numpy() == 0.0
    second = -(np.pi**2) / 3
    assert tg.grad(tg.grad(tnp.sinc))(np.float64(0.0)).numpy() == pytest.approx(second)
    _, tangent = tg.jvp(tg.grad(tnp.sinc), (np.float64(0.0),), (np.float64(1.0),))
    assert tangent.numpy() == pytest.approx(second)


def test_power_edge_cases_have_finite_exact_gradients() -> None:
    x = np.array([-2.0, 0.0, 1.5])
    np.testing.assert_array_equal(tg.grad(lambda x: tnp.sum(x**3))(x).numpy(), [12.0, 0.0, 6.75])
    # d/dx x**0 is 0 everywhere, also at 0 (not 0 * inf).
    np.testing.assert_array_equal(tg.grad(lambda x: tnp.sum(x**0))(x).numpy(), [0.0, 0.0, 0.0])
    # Negative bases with an integer exponent array.
    neg = np.array([-2.0, -1.0, -0.5])
    grad = tg.grad(lambda x: tnp.sum(tnp.power(x, np.array([3, 2, -1]))))(neg)
    np.testing.assert_array_equal(grad.numpy(), [12.0, -2.0, -4.0])
    # The exponent has no derivative where the base is <= 0: zero, not NaN.
    y = np.array([2.0, 2.0, 2.0])
    with np.errstate(all="ignore"):
        grad_y = tg.grad(lambda y: tnp.sum(tnp.power(x, y)))(y)
    np.testing.assert_allclose(grad_y.numpy(), [0.0, 0.0, 1.5**2 * np.log(1.5)], rtol=1e-15)


def test_hypot_does_not_overflow() -> None:
    for dtype, big in ((np.float64, 1e200), (np.float32, 1e20)):
        x = np.array([3 * big, 0.0, 3.0], dtype)
        y = np.array([4 * big, 0.0, 4.0], dtype)
        out = tnp.hypot(tg.Tensor(x), tg.Tensor(y))
        assert out.dtype == dtype
        np.testing.assert_allclose(out.numpy(), np.hypot(x, y), rtol=1e-6)
        grad = tg.grad(lambda x, y=y: tnp.sum(tnp.hypot(x, y[0])))(x[:1])
        np.testing.assert_allclose(grad.numpy(), [0.6], rtol=1e-6)


def test_nan_to_num_gradient_is_one_where_finite() -> None:
    x = np.array([np.nan, np.inf, -np.inf, 1.5])
    grad = tg.grad(lambda x: tnp.sum(tnp.nan_to_num(x) * 2.0))(x)
    np.testing.assert_array_equal(grad.numpy(), [0.0, 0.0, 0.0, 2.0])


MIXED = [s for s in DIFFERENTIABLE if s.nargs == 2 and all(d.differentiable for d in s.domains)]


@pytest.mark.parametrize("sample", _ids(MIXED))
@settings(max_examples=2, deadline=None, database=None)
@given(data=st.data())
def test_mixed_float32_float64_arguments(sample: OpSample, data: st.DataObject) -> None:
    x, y = _draw_args(sample, data, np.float64)
    x = x.astype(np.float32)
    with np.errstate(all="ignore"):
        _assert_matches(
            sample.op(tg.Tensor(x), tg.Tensor(y)),
            sample.ref(x, y),
            sample.rtol[np.float32],
            f"{sample.name} on float32, float64",
        )
        grad_x, grad_y = _vjp(sample, [x, y], 0)
    # Each gradient has its own argument's dtype, whatever the result's promotion.
    assert _raw(grad_x).dtype == np.float32 and _raw(grad_x).shape == x.shape
    assert _raw(grad_y).dtype == np.float64 and _raw(grad_y).shape == y.shape
