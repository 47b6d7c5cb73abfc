"""tapegrad.function and symbolic gradients: tracing, caching, errors, training steps."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.graph.function import TracerValueError, is_traced

MODES = [
    pytest.param(dict(jit=False, optimize=False), id="interpreted"),
    pytest.param(dict(jit=False, optimize=True), id="optimized"),
    pytest.param(dict(jit=True, optimize=True), id="compiled"),
]


def _f32(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# -- tracing and the signature cache --------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_results_match_eager_on_new_values(mode: dict) -> None:
    def f(x, w):
        return tnp.sum(tnp.tanh(x @ w) * 2.0, axis=0), tnp.maximum(x, 0.0)

    compiled = tg.function(f, **mode)
    for seed in range(3):
        x, w = _f32(4, 3, seed=seed), _f32(3, 2, seed=seed + 10)
        for got, want in zip(compiled(x, w), f(tg.tensor(x), tg.tensor(w)), strict=True):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
    assert compiled.tracing_count == 1


def test_retraces_on_new_shape_dtype_and_python_value(caplog: pytest.LogCaptureFixture) -> None:
    @tg.function
    def f(x, scale):
        return x * scale

    with caplog.at_level(logging.INFO, logger="tapegrad.function"):
        f(np.ones(3, np.float32), 2.0)
        f(np.zeros(3, np.float32), 2.0)  # same signature: cached
        assert f.tracing_count == 1
        f(np.ones(4, np.float32), 2.0)  # new shape
        f(np.ones(4, np.float64), 2.0)  # new dtype
        out = f(np.ones(4, np.float64), 3.0)  # new Python value
    assert f.tracing_count == 4
    np.testing.assert_array_equal(out.numpy(), np.full(4, 3.0))
    traces = [r for r in caplog.records if "trace #" in r.getMessage()]
    assert len(traces) == 4
    assert "float64[4]" in traces[-1].getMessage() and "3.0" in traces[-1].getMessage()


def test_graph_listing_and_concrete_function() -> None:
    @tg.function
    def f(x):
        return tnp.exp(x) + 1.0

    with pytest.raises(ValueError, match="not been called"):
        _ = f.graph
    concrete = f.get_concrete_function(np.ones(2, np.float32))
    listing = str(concrete.graph)
    assert "exp" in listing and "f32[2]" in listing
    concrete.graph.verify()
    assert f.tracing_count == 1
    np.testing.assert_allclose(concrete(np.zeros(2, np.float32)).numpy(), [2.0, 2.0])
    f(np.ones(2, np.float32))
    assert str(f.graph) == listing


def test_nested_structures_and_python_outputs() -> None:
    @tg.function
    def f(inputs, flag=True):
        total = inputs["a"] + inputs["b"][0]
        return {"total": total, "flag": flag, "nothing": None}

    out = f({"a": np.ones(2, np.float32), "b": [np.full(2, 2.0, np.float32)]}, flag=False)
    np.testing.assert_array_equal(out["total"].numpy(), [3.0, 3.0])
    assert out["flag"] is False and out["nothing"] is None


def test_nested_function_is_inlined() -> None:
    inner = tg.function(lambda x: x * 3.0)

    @tg.function
    def outer(x):
        return inner(x) + 1.0

    np.testing.assert_array_equal(outer(np.ones(2, np.float32)).numpy(), [4.0, 4.0])
    assert inner.tracing_count == 0
    assert "multiply" in str(outer.graph)


def test_decorated_method() -> None:
    class Scaler:
        def __init__(self, factor: float) -> None:
            self.factor = factor

        @tg.function
        def __call__(self, x):
            return x * self.factor

    np.testing.assert_array_equal(Scaler(2.0)(np.ones(2, np.float32)).numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(Scaler(5.0)(np.ones(2, np.float32)).numpy(), [5.0, 5.0])


# -- values that only exist at run time ------------------------------------------------------
@pytest.mark.parametrize(
    "body, what",
    [
        (lambda x: x if tnp.sum(x) > 0 else -x, "bool()"),
        (lambda x: x * float(x[0]), "float()"),
        (lambda x: tg.tensor(x.numpy()), ".numpy()"),
        (lambda x: x[: int(x[0])], "int()"),
        (lambda x: np.asarray(x) * 2, "conversion to a NumPy array"),
    ],
)
def test_value_reads_raise_naming_the_line(body, what: str) -> None:
    f = tg.function(body)
    with pytest.raises(TracerValueError) as info:
        f(np.ones(3, np.float32))
    message = str(info.value)
    assert what in message
    assert "test_function.py" in message  # the user's line, not tapegrad's
    assert "tnp.where" in message


def test_value_read_error_quotes_the_source_line() -> None:
    @tg.function
    def relu_by_branch(x):
        if x[0] > 0:  # the offending line
            return x
        return x * 0

    with pytest.raises(TracerValueError, match="the offending line"):
        relu_by_branch(np.ones(3, np.float32))


def test_traced_tensors_print_without_values() -> None:
    seen = []

    @tg.function
    def f(x):
        seen.append((repr(x), is_traced(x)))
        return x

    f(np.ones(2, np.float32))
    assert seen == [("Tensor(<traced float32[2]>)", True)]
    assert not is_traced(tg.tensor(1.0))


@tg.custom_gradient
def _clipped_gradient(x):
    return x * 1.0, lambda dy: tnp.clip(dy, -1.0, 1.0)


@tg.custom_gradient
def _log1pexp(x):
    e = tnp.exp(x)
    return tnp.log(1 + e), lambda dy: dy * (1 - 1 / (1 + e))


@tg.custom_gradient
def _pair(x):  # two outputs: grad_fn gets a tuple of cotangents
    return (x * 2.0, x * x), lambda dys: dys[0] * 10.0 + dys[1] * x


@pytest.mark.parametrize("mode", MODES)
def test_custom_gradient_traces_and_compiles(mode: dict) -> None:
    # The forward's ops are compiled; gradients taken inside the function use grad_fn.
    def loss(x):
        a, b = _pair(x)
        return tnp.sum(_clipped_gradient(x) * 5.0) + tnp.sum(_log1pexp(x)) + tnp.sum(a) + tnp.sum(b)

    for f in (tg.value_and_grad(loss), tg.grad(lambda x: tnp.sum(tg.grad(loss)(x) ** 2))):
        compiled = tg.function(f, **mode)
        for x in (np.array([1.0, -2.0, 30.0], np.float32), np.array([3.0, 0.5, -7.0], np.float32)):
            got, want = compiled(x), f(x)
            for g, w in zip(
                got if isinstance(got, tuple) else [got],
                want if isinstance(want, tuple) else [want],
                strict=True,
            ):
                np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-6)


def test_custom_gradient_with_variables_in_a_compiled_step() -> None:
    w = tg.Variable(np.float32(3.0))

    @tg.custom_gradient
    def linear(x):
        return x * w, lambda dy, variables=None: (dy * w, [tnp.sum(dy * x) * 7.0])

    def grads(x):
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = tnp.sum(linear(x))
        return tape.gradient(y, [x, w])

    x = np.array([1.0, 2.0], np.float32)
    for got, want in zip(tg.function(grads)(x), grads(tg.tensor(x)), strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_custom_gradient_has_no_gradient_outside_its_trace() -> None:
    compiled = tg.function(lambda x: _clipped_gradient(x) * 2.0)
    x = tg.tensor(np.ones(2, np.float32))
    np.testing.assert_array_equal(compiled(x).numpy(), [2.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tnp.sum(compiled(x))
    with pytest.raises(ValueError, match="exists only while the function is traced"):
        tape.gradient(y, x)
    with pytest.raises(ValueError, match="custom_gradient function, whose gradient is Python"):
        tg.graph.graph_to_dict(compiled.graph)


@pytest.mark.parametrize("mode", MODES)
def test_user_primitives_trace_and_compile(mode: dict) -> None:
    # A primitive declared in the user's module ("module.function" in the table): generated
    # code must name it with an identifier.
    @tg.primitive
    def log_sum_exp(x):
        top = np.max(x)
        return top + np.log(np.sum(np.exp(x - top)))

    tg.defvjp(log_sum_exp, lambda ans, x: lambda g: g * tnp.exp(x - ans))
    grad = tg.function(tg.grad(log_sum_exp), **mode)
    for x in (np.array([1.0, 2.0, 3.0], np.float32), np.array([-4.0, 0.5, 9.0], np.float32)):
        np.testing.assert_allclose(grad(x).numpy(), tg.grad(log_sum_exp)(x).numpy(), rtol=1e-6)


def test_tracing_never_changes_variables() -> None:
    v = tg.Variable(np.ones(2, np.float32))

    @tg.function
    def bump(x):
        v.assign_add(x)
        if True:
            raise RuntimeError("boom")  # the trace fails after the assignment
        return v

    with pytest.raises(RuntimeError, match="boom"):
        bump(np.ones(2, np.float32))
    np.testing.assert_array_equal(v.numpy(), [1.0, 1.0])


# -- symbolic gradients ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_gradients_first_and_second_order(mode: dict) -> None:
    @tg.function(**mode)
    def derivatives(x):
        y = tnp.sum(tnp.sin(x) * x)
        (dx,) = tg.gradients(y, [x])
        (ddx,) = tg.gradients(tnp.sum(dx), [x])
        return dx, ddx

    x = _f32(5)
    dx, ddx = derivatives(x)
    np.testing.assert_allclose(dx.numpy(), np.cos(x) * x + np.sin(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ddx.numpy(), -np.sin(x) * x + 2 * np.cos(x), rtol=1e-5, atol=1e-6)


def test_gradients_grad_ys_unconnected_and_structure() -> None:
    @tg.function
    def f(x, z):
        y = x * 3.0
        grads = tg.gradients([y], {"x": x, "z": z}, grad_ys=[tnp.full((2,), 2.0)])
        zero = tg.gradients(y, [z], unconnected_gradients="zero")[0]
        return grads["x"], grads["z"] is None, zero

    gx, z_is_none, zero = f(np.ones(2, np.float32), np.ones(2, np.float32))
    np.testing.assert_array_equal(gx.numpy(), [6.0, 6.0])
    assert z_is_none is True
    np.testing.assert_array_equal(zero.numpy(), [0.0, 0.0])


def test_gradients_outside_a_traced_function_points_to_the_tape() -> None:
    with pytest.raises(RuntimeError, match="GradientTape"):
        tg.gradients(tg.tensor(1.0), [tg.tensor(1.0)])


def test_gradients_checks_grad_ys_shape() -> None:
    @tg.function
    def f(x):
        return tg.gradients(x * 2.0, [x], grad_ys=[tnp.ones(3)])

    with pytest.raises(ValueError, match="grad_ys"):
        f(np.ones(2, np.float32))


@pytest.mark.parametrize("mode", MODES)
def test_where_mask_is_a_graph_value_not_a_trace_constant(mode: dict) -> None:
    # Traced where every sqrt is finite; run where the masked branch has 0 * inf.
    @tg.function(**mode)
    def grad_of_safe_sqrt(x):
        y = tnp.sum(tnp.where(x > 0, tnp.sqrt(x), 0.0))
        return tg.gradients(y, [x])[0]

    grad_of_safe_sqrt(np.array([1.0, 4.0, 9.0], np.float32))
    got = grad_of_safe_sqrt(np.array([0.0, 1.0, -1.0], np.float32)).numpy()
    np.testing.assert_array_equal(got, [0.0, 0.5, 0.0])


def test_tape_inside_function_matches_eager_grad() -> None:
    def loss(w, x):
        return tnp.sum(tnp.tanh(x @ w) ** 2)

    @tg.function
    def grad_step(w, x):
        w = tg.tensor(w) if not isinstance(w, tg.Tensor) else w
        with tg.GradientTape() as tape:
            tape.watch(w)
            value = loss(w, x)
        return value, tape.gradient(value, w)

    w, x = _f32(3, 2), _f32(4, 3, seed=1)
    value, grad = grad_step(w, x)
    want = tg.grad(loss)(tg.tensor(w), tg.tensor(x))
    np.testing.assert_allclose(grad.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


def test_outer_tape_differentiates_through_a_compiled_function() -> None:
    f = tg.function(lambda x: tnp.sum(tnp.exp(x)))
    x = tg.tensor(_f32(3))
    f(x)  # traced and compiled outside the tape
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), np.exp(x.numpy()), rtol=1e-6)


# -- Variables: captured by reference, assignments become updates ---------------------------
@pytest.mark.parametrize("mode", MODES)
def test_training_step_matches_eager(mode: dict) -> None:
    x, y = _f32(16, 4), _f32(16, 1, seed=1)

    def make():
        return (
            tg.Variable(_f32(4, 1, seed=2), name="w"),
            tg.Variable(np.zeros(1, np.float32), name="b"),
        )

    def step(w, b, opt):
        with tg.GradientTape() as tape:
            loss = tnp.mean((x @ w + b - y) ** 2)
        grads = tape.gradient(loss, [w, b])
        opt.apply_gradients(zip(grads, [w, b], strict=True))
        return loss

    eager_vars, traced_vars = make(), make()
    eager_opt, traced_opt = tg.optimizers.Adam(0.1), tg.optimizers.Adam(0.1)
    compiled = tg.function(lambda: step(*traced_vars, traced_opt), **mode)
    for _ in range(5):
        want = step(*eager_vars, eager_opt)
        got = compiled()
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)
    for a, b in zip(eager_vars, traced_vars, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    assert int(traced_opt.iterations.numpy()) == 5
    assert compiled.tracing_count == 1
    assert compiled.graph.updates  # Variables, slots and the step counter


def test_assignment_is_seen_by_later_reads_in_the_trace() -> None:
    v = tg.Variable(np.float32(1.0))

    @tg.function
    def twice(x):
        v.assign(v * x)
        v.assign_add(1.0)
        return v * 1.0

    np.testing.assert_array_equal(twice(np.float32(3.0)).numpy(), 4.0)
    np.testing.assert_array_equal(v.numpy(), 4.0)
    np.testing.assert_array_equal(twice(np.float32(2.0)).numpy(), 9.0)


def test_assign_of_wrong_shape_is_refused() -> None:
    v = tg.Variable(np.zeros(2, np.float32), name="state")

    @tg.function
    def bad(x):
        v.assign(x)

    with pytest.raises(ValueError, match="'state'"):
        bad(np.ones(3, np.float32))


def test_dropout_draws_anew_on_every_run() -> None:
    rng = np.random.default_rng(0)
    f = tg.function(lambda x: tg.ops.dropout(x, 0.5, generator=rng))
    first = f(np.ones(64, np.float32)).numpy()
    second = f(np.ones(64, np.float32)).numpy()
    assert set(np.unique(first)) <= {0.0, 2.0}
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("mode", MODES)
def test_det_gradient_picks_its_formula_at_run_time(mode: dict) -> None:
    # det's gradient (the cofactor matrix) is det * inv.T for well-conditioned matrices and
    # an SVD formula at singular ones: the compiled code picks it per run, not at trace.
    grad = tg.function(tg.grad(lambda a: tnp.linalg.det(a)), **mode)
    for a in (
        [[2.0, 1.0], [1.0, 3.0]],
        [[1.0, 2.0], [2.0, 4.0]],
        [[0.0, 1.0], [1.0, 0.0]],
        [[-1.0, -2.0], [-2.0, -4.0]],
    ):
        a = np.array(a, np.float32)
        np.testing.assert_array_equal(grad(a).numpy(), tg.grad(tnp.linalg.det)(a).numpy())


def test_cofactor_primitive_derivatives() -> None:
    from tapegrad.core.prims.linalg import cofactor_p

    a = np.array([[2.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.1, 0.4, 1.5]])
    tg.check_grads(lambda m: cofactor_p(m), (a,), order=2, modes=("rev",))


def test_fast_path_takes_none_arguments() -> None:
    # A missing sample_weight (None) keeps the per-call fast path; None and an array in the
    # same position are different signatures.
    calls = []

    @tg.function
    def step(x, weight):
        calls.append(weight is None)
        return x * 2.0 if weight is None else x * weight

    x = np.ones(3, np.float32)
    for _ in range(3):
        np.testing.assert_array_equal(step(x, None).numpy(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(step(x, np.full(3, 5.0, np.float32)).numpy(), [5.0] * 3)
    np.testing.assert_array_equal(step(x, None).numpy(), [2.0, 2.0, 2.0])
    assert calls == [True, False]  # one trace per signature
    assert len(step._fast_cache) == 2


def test_a_split_into_one_piece_compiles_as_a_one_tuple() -> None:
    """A multiple-results primitive may return one piece; the graph keeps it a tuple."""

    def f(x):
        (piece,) = tnp.split(x, 1)
        return piece * 2.0

    x = np.arange(3.0)
    compiled = tg.function(f)
    np.testing.assert_array_equal(compiled(x), f(x))
    assert compiled(x).shape == (3,)
    np.testing.assert_array_equal(tg.graph.evaluate(compiled.graph, [x])[0], f(x))
    grad = tg.function(tg.grad(lambda v: tnp.sum(tnp.split(v, 1)[0] ** 2)))
    np.testing.assert_array_equal(grad(x), 2 * x)
