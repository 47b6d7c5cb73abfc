"""Tests of graph code generation (`tapegrad.graph.codegen`), fusion and buffer planning.

Without fusion, compiled graphs must give `evaluate`'s results bit for bit (same values,
dtypes and shapes) on every op sample, random graphs, traced gradients and training
steps with Variable updates; repeated calls must not corrupt earlier results; the
steady state of a training step allocates almost nothing. Fused kernels (numba) must
agree within float tolerance.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.graph import Graph, Input, Literal, Node, evaluate, trace
from tapegrad.graph.codegen import compile_graph
from tapegrad.graph.passes.buffers import Step, plan_buffers
from tapegrad.graph.passes.fusion import fuse_elementwise
from tests.opsamples import SAMPLES, OpSample

ONE = settings(
    max_examples=1,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def _assert_identical(got: Any, expected: Any, what: str) -> None:
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    if expected.dtype.kind in "fc":
        # Bit for bit, NaNs and signed zeros included.
        assert got.tobytes() == expected.tobytes(), f"{what}: {got} != {expected}"
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)


def _check_exact(graph: Graph, args: list[Any], variables: list[Any] = (), calls: int = 2) -> None:
    """compile_graph without fusion == evaluate, on repeated calls."""
    expected, expected_updates = evaluate(graph, args, list(variables), with_updates=True)
    compiled = compile_graph(graph, fuse=False)
    kept = None
    for _ in range(calls):
        outputs, updates = compiled(args, [np.array(v, copy=True) for v in variables])
        for k, (got, want) in enumerate(zip(outputs, expected, strict=True)):
            _assert_identical(got, want, f"output {k}\n{compiled.source}")
        for k, (got, want) in enumerate(zip(updates, expected_updates.values(), strict=True)):
            _assert_identical(got, want, f"update {k}")
        if kept is not None:  # results of the first call are never overwritten
            for old, want in zip(kept, expected, strict=True):
                _assert_identical(old, want, "a kept output after another call")
        kept = outputs


# -- op samples -----------------------------------------------------------------------------
@pytest.mark.parametrize("sample", [pytest.param(s, id=s.name) for s in SAMPLES])
@ONE
@given(data=st.data())
def test_op_samples_compile_bit_exact(sample: OpSample, data: st.DataObject) -> None:
    shapes = data.draw(sample.shapes, label="shapes")
    rng = np.random.default_rng(0)
    args = []
    for domain, shape in zip(sample.domains, shapes, strict=True):
        value = np.asarray(domain.draw(rng, tuple(shape), np.float64))
        args.append(value.astype(np.float32) if domain.differentiable else value)
    try:
        graph = trace(sample.op, *args)
    except Exception as err:  # noqa: BLE001 - a sample the tracer refuses is skipped
        pytest.skip(f"not traceable: {type(err).__name__}: {err}")
    flat = [a for a in args]
    if graph.in_tree is not None and len(graph.arg_inputs) != len(flat):
        pytest.skip("structured arguments")
    _check_exact(graph, flat)


# -- random graphs ---------------------------------------------------------------------------
_UNARY = [
    tnp.tanh,
    tnp.exp,
    lambda x: x * 1.5,
    lambda x: x + 0.25,
    lambda x: -x,
    ops.relu,
    ops.sigmoid,
    lambda x: tnp.maximum(x, 0.1),
    lambda x: x * x,
    lambda x: tnp.where(x > 0, x, 0.5 * x),
    lambda x: tnp.sqrt(tnp.abs(x) + 1.0),
    lambda x: tnp.clip(x, -0.5, 0.5),
    lambda x: tnp.transpose(tnp.transpose(x)),
    lambda x: tnp.reshape(tnp.reshape(x, (-1,)), x.shape),
    lambda x: x - tnp.sum(x, axis=0, keepdims=True),
    lambda x: x / (1.0 + tnp.max(tnp.abs(x), axis=1, keepdims=True)),
    lambda x: x @ tnp.ones((x.shape[1], x.shape[1]), dtype=x.dtype) * 0.1,
]
_BINARY = [
    lambda x, y: x + y,
    lambda x, y: x * y,
    lambda x, y: x - y,
    lambda x, y: tnp.maximum(x, y),
    lambda x, y: x / (tnp.abs(y) + 1.0),
]


def _random_function(seed: int) -> Any:
    rng = np.random.default_rng(seed)
    plan = [
        (int(rng.integers(0, 3)), int(rng.integers(0, 100)), int(rng.integers(0, 100)))
        for _ in range(int(rng.integers(3, 12)))
    ]

    def function(x: Any, y: Any) -> Any:
        values = [x, y]
        for kind, a, b in plan:
            if kind < 2:
                values.append(_UNARY[a % len(_UNARY)](values[a % len(values)]))
            else:
                values.append(
                    _BINARY[a % len(_BINARY)](values[a % len(values)], values[b % len(values)])
                )
        return tnp.sum(values[-1] * values[-2]), values[-1]

    return function


@pytest.mark.parametrize("seed", range(12))
def test_random_graphs_bit_exact(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = rng.standard_normal((4, 3)).astype(np.float32)
    function = _random_function(seed)
    _check_exact(trace(function, x, y), [x, y])
    gradient = tg.grad(lambda x, y: function(x, y)[0], argnums=(0, 1))
    _check_exact(trace(gradient, x, y), [x, y])


# -- gradients and training steps -------------------------------------------------------------
def _w1(x: Any, depth: int = 20) -> Any:
    for _ in range(depth):
        x = tnp.tanh(x * 1.01 + 0.1)
    return tnp.sum(x)


def test_w1_gradient_bit_exact() -> None:
    x = np.random.default_rng(1).standard_normal(16).astype(np.float32)
    _check_exact(trace(tg.grad(_w1), x), [x], calls=3)


def _mlp_step_graph(batch: int = 16, sizes: tuple[int, ...] = (8, 16, 4)) -> tuple[Graph, Any]:
    """An SGD step of an MLP as a graph: parameters are variables updated in place."""
    rng = np.random.default_rng(2)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = 1 / np.sqrt(fan_in)
        params += [
            rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32),
            np.zeros(fan_out, np.float32),
        ]
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    labels = rng.integers(0, sizes[-1], batch)

    def loss(params: Any, x: Any, labels: Any) -> Any:
        h = x
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            if k + 2 < len(params):
                h = ops.relu(h)
        return tnp.mean(ops.sparse_categorical_crossentropy(labels, h, from_logits=True))

    def step(x: Any, labels: Any, *params: Any) -> Any:
        value, grads = tg.value_and_grad(loss)(list(params), x, labels)
        return (value, *[p - 0.1 * g for p, g in zip(params, grads, strict=True)])

    traced = trace(step, x, labels, *params)
    n_args = 2
    inputs = [
        spec if k < n_args else Input(spec.id, "variable", spec.shape, spec.dtype, f"p{k - n_args}")
        for k, spec in enumerate(traced.inputs)
    ]
    updates = {
        spec.id: atom for spec, atom in zip(inputs[n_args:], traced.outputs[1:], strict=True)
    }
    graph = Graph(inputs, traced.nodes, traced.outputs[:1], traced.constants, updates=updates)
    graph.verify([x, labels])
    return graph, (x, labels, params)


def test_training_step_updates_in_place_and_exact() -> None:
    graph, (x, labels, params) = _mlp_step_graph()
    _check_exact(graph, [x, labels], params)
    compiled = compile_graph(graph, fuse=False)
    variables = [p.copy() for p in params]
    reference = [p.copy() for p in params]
    losses = []
    for _ in range(3):
        expected, new = evaluate(graph, [x, labels], reference, with_updates=True)
        reference = list(new.values())
        outputs, updates = compiled([x, labels], variables)
        for got, want in zip(updates, reference, strict=True):
            _assert_identical(got, want, "updated parameter")
        _assert_identical(outputs[0], expected[0], "loss")
        losses.append(outputs[0])
        in_place = [u is v for u, v in zip(updates, variables, strict=True)]
        assert all(in_place), f"updates not written in place: {in_place}\n{compiled.source}"
        variables = updates
    assert len({id(loss) for loss in losses}) == 3  # outputs are never reused buffers


def test_hand_built_update_graph() -> None:
    # w <- w - 0.5 * (x * w); outputs x * w and the old w (which blocks the in-place write).
    f32 = np.dtype(np.float32)
    x, w = Input(0, "arg", (3,), f32, "x"), Input(1, "variable", (3,), f32, "w")
    nodes = [
        Node("multiply", (0, 1), {}, (2,), ((3,),), (f32,)),
        Node("multiply", (2, Literal(0.5)), {}, (3,), ((3,),), (f32,)),
        Node("subtract", (1, 3), {}, (4,), ((3,),), (f32,)),
    ]
    args = [np.array([1.0, 2.0, 3.0], np.float32)]
    for outputs, in_place in (([2], True), ([2, 1], False)):
        graph = Graph([x, w], nodes, outputs, updates={1: 4})
        weights = np.array([0.5, -1.0, 2.0], np.float32)
        _check_exact(graph, args, [weights])
        compiled = compile_graph(graph, fuse=False)
        first, (new,) = compiled(args, [weights])
        assert (new is weights) == in_place
        second, (newer,) = compiled(args, [new])
        want, updates = evaluate(
            graph, args, [np.array([0.5, -1.0, 2.0], np.float32)], with_updates=True
        )
        _assert_identical(first[0], want[0], "first output kept")
        assert first[0] is not second[0]


def test_buffer_reuse_never_corrupts() -> None:
    def function(x: Any) -> Any:
        a = tnp.tanh(x * 2.0)
        b = tnp.exp(a) + a
        c = tnp.reshape(b, (-1,)) * 3.0  # a view of a buffer, read later
        d = tnp.sin(b) * a
        return tnp.sum(c) + tnp.sum(d), d

    x = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
    graph = trace(function, x)
    compiled = compile_graph(graph, fuse=False)
    assert compiled.n_buffers >= 1
    results = []
    for seed in range(3):
        args = [np.random.default_rng(seed).standard_normal((5, 4)).astype(np.float32)]
        results.append((args, compiled(args, [])[0]))
    for args, outputs in results:
        for got, want in zip(outputs, evaluate(graph, args), strict=True):
            _assert_identical(got, want, "output after later calls")


def test_source_has_one_commented_line_per_node() -> None:
    x = np.ones((2, 3), np.float32)
    graph = trace(lambda x: tnp.sum(tnp.tanh(x) * 2.0, axis=1), x)
    source = compile_graph(graph, fuse=False).source
    for name in ("= tanh x0", "= multiply t0 2.0", "= sum[axis=(1,), keepdims=False] t1"):
        assert name in source, source
    assert "out=" in source


def test_steady_state_allocations_near_zero() -> None:
    graph, (x, labels, params) = _mlp_step_graph(batch=64, sizes=(64, 128, 128, 10))
    compiled = compile_graph(graph, fuse=False)
    variables = [p.copy() for p in params]

    def peak(call: Any) -> int:
        tracemalloc.start()
        try:
            call()
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            call()
            return tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()

    compiled_peak = peak(lambda: compiled([x, labels], variables))
    evaluate_peak = peak(lambda: evaluate(graph, [x, labels], variables, with_updates=True))
    activations = 64 * 128 * 4
    # evaluate allocates every intermediate; the compiled step only small results (the
    # loss, a cast mask) and view objects, plus NumPy's own cast buffer when it
    # multiplies by a boolean mask (one activation's worth, freed at once).
    assert evaluate_peak > 8 * activations
    assert compiled_peak < 1.5 * activations, (compiled_peak, evaluate_peak)
    assert 8 * compiled_peak < evaluate_peak, (compiled_peak, evaluate_peak)


# -- passes -----------------------------------------------------------------------------------
def test_plan_buffers_reuses_dead_buffers_and_respects_views() -> None:
    f32 = np.dtype(np.float32)
    aval = ((4,), f32)
    steps = [
        Step((0,), (1,), (aval,), "out"),
        Step((1,), (2,), (aval,), "alias"),  # 2 is a view of 1's buffer
        Step((0,), (3,), (aval,), "out"),  # 1 is alive through 2: new slot
        Step((2, 3), (4,), (aval,), "out"),  # 1 and 3 die here: in place
        Step((4,), (5,), (aval,), "out"),
    ]
    plan = plan_buffers(steps, external=[0], escaping=[5])
    assert plan.placement[1] == ("slot", 0)
    assert plan.placement[3] == ("slot", 1)
    assert plan.placement[4] == ("share", 3)
    assert plan.placement[5] == ("new",)


def test_fusion_groups_are_acyclic() -> None:
    # y = tanh(x); s = sum(y) (not fusible); z = y * s: z cannot join y's group.
    x = np.ones(4, np.float32)
    graph = trace(lambda x: tnp.tanh(x) * tnp.sum(tnp.tanh(x) + 1.0), x)
    groups, order = fuse_elementwise(graph, key=lambda n: None if n.primitive == "sum" else n.dtype)
    sums = [k for k, n in enumerate(graph.nodes) if n.primitive == "sum"]
    for group in groups:
        produced = {graph.nodes[i].outputs[0] for i in group.nodes}
        reads_sum = any(
            graph.nodes[sums[0]].outputs[0] in graph.nodes[i].inputs for i in group.nodes
        )
        feeds_sum = any(a in produced for a in graph.nodes[sums[0]].inputs)
        assert not (reads_sum and feeds_sum)
    position = {id(u): k for k, u in enumerate(order)}
    assert len(position) == len(order)


# -- fused kernels (numba) --------------------------------------------------------------------
def test_fused_w1_within_tolerance() -> None:
    pytest.importorskip("numba")
    x = np.random.default_rng(1).standard_normal(16).astype(np.float32)
    graph = trace(tg.grad(_w1), x)
    compiled = compile_graph(graph, fuse=True)
    assert compiled.kernels
    want = evaluate(graph, [x])[0]
    for _ in range(2):
        got = compiled([x], [])[0][0]
        assert got.dtype == want.dtype and got.shape == want.shape
        # tanh differs from NumPy's by an ulp; 20 chained steps stay within 1e-5.
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_fused_training_step_within_tolerance() -> None:
    pytest.importorskip("numba")
    graph, (x, labels, params) = _mlp_step_graph()
    compiled = compile_graph(graph, fuse=True)
    expected, updates = evaluate(graph, [x, labels], params, with_updates=True)
    variables = [p.copy() for p in params]
    outputs, new = compiled([x, labels], variables)
    np.testing.assert_allclose(outputs[0], expected[0], rtol=1e-5)
    for got, want in zip(new, updates.values(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_fused_random_graphs_within_tolerance(seed: int) -> None:
    pytest.importorskip("numba")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = rng.standard_normal((4, 3)).astype(np.float32)
    graph = trace(_random_function(seed), x, y)
    compiled = compile_graph(graph, fuse=True)
    for _ in range(2):
        for got, want in zip(compiled([x, y], [])[0], evaluate(graph, [x, y]), strict=True):
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_reductions_with_default_params() -> None:
    # A node without params means the impl's defaults (axis=None), not ufunc.reduce's 0.
    f32 = np.dtype(np.float32)
    x = Input(0, "arg", (2, 3), f32, "x")
    for name in ("sum", "max", "min"):
        graph = Graph([x], [Node(name, (0,), {}, (1,), ((),), (f32,))], [1])
        _check_exact(graph, [np.arange(6, dtype=np.float32).reshape(2, 3)])


def test_slice_gradients_accumulate_in_place() -> None:
    # The backward of x[t] for every t: each index_add read only by an add is folded into
    # "acc[t] += g" in the accumulator's buffer (no zeros of the whole shape per slice).
    def f(x):
        return sum(tnp.sum(tnp.tanh(x[t]) * (t + 1.0)) for t in range(4))

    x = np.random.default_rng(3).standard_normal((4, 3, 2)).astype(np.float32)
    graph = trace(tg.grad(f), x)
    compiled = compile_graph(graph, fuse=False)
    assert compiled.source.count("folded in") == 3
    assert compiled.source.count("index_add_impl(") == 1  # the first slice starts the sum
    for values in (x, x * 2.0, -x):
        want = evaluate(graph, [values])[0]
        got = compiled([values], [])[0][0]
        np.testing.assert_array_equal(got, want)
    # An advanced index (repeats add in another order) is left to index_add.
    graph = trace(tg.grad(lambda x: tnp.sum(x[[0, 0, 1]] ** 2) + tnp.sum(x * 0.5)), x)
    assert "folded in" not in compile_graph(graph, fuse=False).source


def test_loss_and_its_derivative_share_one_pass() -> None:
    def loss(logits, labels):
        return tnp.mean(ops.sparse_categorical_crossentropy(labels, logits, from_logits=True))

    def value_and_grad(logits, labels):
        return tg.value_and_grad(loss)(logits, labels)

    rng = np.random.default_rng(4)
    logits = (rng.standard_normal((8, 5)) * 3).astype(np.float32)
    labels = rng.integers(0, 5, 8)
    graph = trace(value_and_grad, logits, labels)
    compiled = compile_graph(graph, fuse=False)
    assert "xent_with_delta(" in compiled.source
    for scale in (1.0, -2.0):
        args = [logits * np.float32(scale), rng.integers(0, 5, 8)]
        want = evaluate(graph, args)
        got = compiled(args, [])[0]
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


def test_loss_and_its_derivative_as_one_kernel() -> None:
    # With numba: one pass per row for both (the table's kernels), within ulps of NumPy's.
    pytest.importorskip("numba")
    import tapegrad.config

    def value_and_grad(logits, labels):
        return tg.value_and_grad(
            lambda z, y: tnp.mean(ops.sparse_categorical_crossentropy(y, z, from_logits=True))
        )(logits, labels)

    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64):
        logits = (rng.standard_normal((2, 7, 5)) * 4).astype(dtype)
        graph = trace(value_and_grad, logits, rng.integers(0, 5, (2, 7)))
        compiled = compile_graph(graph)
        assert "xent_with_delta(" in compiled.source
        for scale in (1.0, -30.0):
            args = [logits * dtype(scale), rng.integers(0, 5, (2, 7))]
            got = compiled(args, [])[0]
            for a, b in zip(got, evaluate(graph, args), strict=True):
                _assert_identical(a, b, "kernels")
            try:
                tapegrad.config.disable_engine("numba")
                numpy_path = evaluate(graph, args)
            finally:
                tapegrad.config.enable_engine("numba")
            for a, b in zip(got, numpy_path, strict=True):
                assert a.dtype == b.dtype and a.shape == b.shape
                np.testing.assert_allclose(
                    a, b, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-7
                )


def test_relu_keeps_maximum_on_contiguous_operands() -> None:
    # Large float inputs meet a cached zeros array (np.maximum's fast loop): same bits.
    from tapegrad.core.prims.elementwise import relu_p
    from tapegrad.kernels.numpy_fast import RELU_ZEROS_MIN_SIZE, relu_zeros

    x = np.random.default_rng(6).standard_normal((8, RELU_ZEROS_MIN_SIZE)).astype(np.float32)
    x[0, :3] = [np.nan, -0.0, np.inf]
    got = relu_p(x)
    np.testing.assert_array_equal(got, np.maximum(x, 0))
    assert got.flags.writeable and not np.shares_memory(got, relu_zeros(x.shape, x.dtype))
    assert not relu_zeros(x.shape, x.dtype).flags.writeable
    graph = trace(lambda v: ops.relu(v) * 2.0, x)
    compiled = compile_graph(graph, fuse=False)
    assert "_operand" in compiled.source  # (the registered operand: relu_zeros)
    np.testing.assert_array_equal(compiled([x], [])[0][0], evaluate(graph, [x])[0])


def test_calls_from_threads_do_not_share_buffers_at_once() -> None:
    import threading

    x = np.random.default_rng(7).standard_normal((64, 64)).astype(np.float32)
    graph = trace(lambda v: tnp.tanh(v @ v) * 2.0 + v, x)
    compiled = compile_graph(graph, fuse=False)
    inputs = [x * np.float32(k) for k in range(8)]
    want = [evaluate(graph, [v])[0] for v in inputs]
    failures = []

    def work(k: int) -> None:
        for _ in range(50):
            if not np.array_equal(compiled([inputs[k]], [])[0][0], want[k]):
                failures.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_integer_literals_keep_their_type_where_the_ufunc_needs_it() -> None:
    # ldexp has no (float, float) loop: its exponent must stay an integer.
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    graph = Graph(
        [Input(0, "arg", (2, 3), np.dtype(np.float32), "x")],
        [Node("ldexp", (0, Literal(3)), {}, (1,), ((2, 3),), (np.dtype(np.float32),))],
        [1],
    )
    graph.verify()
    (got,), _ = compile_graph(graph, fuse=False)([x], [])
    _assert_identical(got, np.ldexp(x, 3), "ldexp with an integer literal")
