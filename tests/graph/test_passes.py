"""Graph passes: same results (bit for bit) on random and traced graphs, and less work.

Random graphs come from `random_graph`: a seeded mix of elementwise, reduction, shape
and matmul nodes over arguments, a Variable with an update, constants and literals,
with deliberate redundancy (repeated and commuted nodes, duplicate constants), dead
branches, nodes of constants only, ``x * 1``, transposes of transposes and so on.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.core.primitive import PRIMITIVES
from tapegrad.graph import Graph, Input, Literal, Node, trace
from tapegrad.graph.ir import evaluate
from tapegrad.graph.passes import (
    DEFAULT_PASSES,
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_constants,
    optimize,
    simplify,
)
from tapegrad.graph.passes.cse import _node_key
from tapegrad.graph.passes.rewrite import used_ids

F32, F64, I64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)


# -- a random graph generator -----------------------------------------------------------------
@dataclasses.dataclass
class Expected:
    """How many nodes each pass must at least remove from a generated graph."""

    duplicates: int = 0  # repeated (or commuted) nodes: CSE
    constant_only: int = 0  # nodes reading constants and literals only: folding
    identities: int = 0  # x * 1, transpose of transpose, ...: simplify
    # Values C-contiguous by construction (inputs, constants, what ufuncs, reductions and
    # reshapes make of them): where simplify may drop a copy without changing a layout.
    c_order: set[int] = dataclasses.field(default_factory=set)


class Builder:
    """Builds a `Graph` node by node, running each primitive on example values to record
    the exact shapes and dtypes it produces."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.inputs: list[Input] = []
        self.nodes: list[Node] = []
        self.constants: dict[int, np.ndarray] = {}
        self.example: dict[int, Any] = {}
        self.expected = Expected()
        self._next = 0

    def _id(self) -> int:
        self._next += 1
        return self._next - 1

    def input(self, shape: tuple[int, ...], dtype: np.dtype, kind: str = "arg") -> int:
        value_id = self._id()
        self.expected.c_order.add(value_id)
        self.inputs.append(Input(value_id, kind, shape, dtype, f"{kind}{value_id}"))
        self.example[value_id] = self.rng.standard_normal(shape).astype(dtype)
        return value_id

    def constant(self, value: np.ndarray) -> int:
        value_id = self._id()
        self.expected.c_order.add(value_id)
        self.constants[value_id] = value
        self.example[value_id] = value
        return value_id

    def call(self, primitive: str, *inputs: int | Literal, **params: Any) -> int:
        prim = PRIMITIVES[primitive]
        args = [a.value if isinstance(a, Literal) else self.example[a] for a in inputs]
        with np.errstate(all="ignore"):
            result = np.asarray(prim.impl(*args, **params))
        value_id = self._id()
        self.nodes.append(
            Node(primitive, tuple(inputs), params, (value_id,), (result.shape,), (result.dtype,))
        )
        self.example[value_id] = result
        if primitive not in ("transpose", "getitem") and all(
            isinstance(a, Literal) or a in self.expected.c_order for a in inputs
        ):
            self.expected.c_order.add(value_id)
        return value_id

    def is_c(self, value_id: int) -> bool:
        return value_id in self.expected.c_order

    def repeat(self, node: Node) -> int:
        """The same call again (a new result id): a common subexpression."""
        value_id = self._id()
        self.nodes.append(dataclasses.replace(node, outputs=(value_id,)))
        self.example[value_id] = self.example[node.outputs[0]]
        self.expected.duplicates += 1
        if self.is_c(node.outputs[0]):
            self.expected.c_order.add(value_id)
        return value_id

    def aval(self, value_id: int) -> tuple[tuple[int, ...], np.dtype]:
        value = np.asarray(self.example[value_id])
        return value.shape, value.dtype

    def graph(self, outputs: list[int], updates: dict[int, int]) -> Graph:
        return Graph(self.inputs, self.nodes, outputs, self.constants, updates=dict(updates))


UNARY = [
    "exp",
    "tanh",
    "sin",
    "negative",
    "absolute",
    "square",
    "relu",
    "sigmoid",
    "sqrt",
    "stop_gradient",
]
BINARY = ["add", "subtract", "multiply", "divide", "maximum"]
LITERALS = [1, 1.0, 0, 0.0, -0.0, 2.5, True, -1.5]


def random_graph(seed: int) -> Graph:
    """A random graph of a few dozen nodes (see the module docstring)."""
    return random_case(seed)[0]


def random_case(seed: int) -> tuple[Graph, Expected]:
    """`random_graph` and what the passes must remove from it."""
    rng = np.random.default_rng(seed)
    b = Builder(rng)
    matrix_dtype = F32 if rng.random() < 0.5 else F64
    # Sizes up to 12: long enough for NumPy's reductions to add in a layout-dependent order.
    rows, cols = int(rng.integers(2, 13)), int(rng.integers(3, 13))
    x = b.input((rows, cols), matrix_dtype)
    y = b.input((cols,), F64)
    w = b.input((cols,), F64, kind="variable")
    ones = b.constant(np.ones((rows, cols), matrix_dtype))
    b.constant(np.ones((rows, cols), matrix_dtype))  # a duplicate constant (unused so far)
    neg_zeros = b.constant(np.full((cols,), -0.0))
    noise = b.constant(rng.standard_normal((rows, cols)).astype(matrix_dtype))
    noise_again = b.constant(b.constants[noise].copy())  # equal values, another constant
    projection = b.constant(rng.standard_normal((cols, 2)).astype(matrix_dtype))
    pool = [x, y, w, ones, neg_zeros, noise, noise_again]

    def pick(shape: tuple[int, ...] | None = None) -> int:
        choices = [v for v in pool if shape is None or b.aval(v)[0] == shape]
        return choices[int(rng.integers(len(choices)))]

    def operand_for(value: int) -> int | Literal:
        shape = b.aval(value)[0]
        roll = rng.random()
        if roll < 0.35:
            return Literal(LITERALS[int(rng.integers(len(LITERALS)))])
        compatible = [v for v in pool if _broadcasts(b.aval(v)[0], shape)]
        return compatible[int(rng.integers(len(compatible)))]

    for _ in range(int(rng.integers(15, 30))):
        kind = rng.random()
        value = pick()
        shape, dtype = b.aval(value)
        if kind < 0.2:
            pool.append(b.call(str(rng.choice(UNARY)), value))
        elif kind < 0.45:
            op = str(rng.choice(BINARY))
            other = operand_for(value)
            args = (value, other) if rng.random() < 0.7 else (other, value)
            if isinstance(args[0], Literal) and isinstance(args[1], Literal):
                continue
            pool.append(b.call(op, *args))
        elif kind < 0.52:
            # x * 1 (or 1 * x, x / 1, x - 0.0, x + -0.0): identities on C-ordered values
            op, literal = [("multiply", 1.0), ("divide", 1), ("subtract", 0.0), ("add", -0.0)][
                int(rng.integers(4))
            ]
            result = b.call(op, value, Literal(literal))
            if b.aval(result) == (shape, dtype) and b.is_c(value):
                b.expected.identities += 1
            pool.append(result)
        elif kind < 0.6 and len(shape) >= 2:
            perm = tuple(int(i) for i in rng.permutation(len(shape)))
            first = b.call("transpose", value, axes=perm)
            back = tuple(int(i) for i in np.argsort(perm))
            pool.append(b.call("transpose", first, axes=back))  # transpose of transpose
            b.expected.identities += 1
        elif kind < 0.66:
            axis = None if rng.random() < 0.3 or not shape else (int(rng.integers(len(shape))),)
            op = "sum" if rng.random() < 0.7 else "max"
            pool.append(b.call(op, value, axis=axis, keepdims=bool(rng.random() < 0.5)))
        elif kind < 0.72 and shape:
            flat = b.call("reshape", value, shape=(int(np.prod(shape)),))
            pool.append(b.call("reshape", flat, shape=shape))  # reshape of reshape
            b.expected.identities += b.is_c(value)
        elif kind < 0.77 and shape[-1:] == (cols,):
            pool.append(b.call("matmul", value, projection))
        elif kind < 0.8 and shape:
            # Views that are not C-contiguous: a strided slice, a reversal, a transpose.
            step = -2 if len(shape) > 1 else -1
            index = (slice(None),) * (len(shape) - 1) + (slice(None, None, step),)
            pool.append(b.call("getitem", value, index=index))
            if len(shape) == 2:
                pool.append(b.call("transpose", value, axes=None))
        elif kind < 0.84:
            # nodes of constants only: folded
            constant = pool[3 + int(rng.integers(4))]
            pool.append(b.call("exp", b.call("multiply", constant, Literal(0.5))))
            b.expected.constant_only += 2
        elif kind < 0.88 and b.nodes:
            pool.append(b.repeat(b.nodes[int(rng.integers(len(b.nodes)))]))
        elif kind < 0.92:
            other = pick(shape)
            if b.aval(other)[1] == dtype:
                first = b.call("add", value, other)
                pool.append(first)
                pool.append(b.call("add", other, value))  # commuted: same value
                b.expected.duplicates += 1
        elif kind < 0.96:
            pool.append(b.call("identity", b.call("identity", value)))
            b.expected.identities += 2
        else:
            double = b.call("negative", b.call("negative", value))
            pool.append(b.call("cast", double, dtype=dtype))  # a cast to the same dtype
            b.expected.identities += 1 + b.is_c(value)
        # Deliberately dead: a branch nothing reads.
        if rng.random() < 0.15:
            b.call("cos", pick())
    # The Variable's update: a value of its shape and dtype, through an identity to rewire.
    candidates = [v for v in pool if b.aval(v) == ((cols,), F64)]
    step = b.call("multiply", candidates[int(rng.integers(len(candidates)))], Literal(0.1))
    new_w = b.call("multiply", b.call("subtract", w, step), Literal(1.0))
    b.expected.identities += b.is_c(new_w)
    live = [v for v in pool if v not in (x, y, w)]
    outputs = [live[int(i)] for i in rng.choice(len(live), size=min(3, len(live)), replace=False)]
    return b.graph(outputs, {w: new_w}), b.expected


def _broadcasts(small: tuple[int, ...], large: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(small, large) == tuple(large)
    except ValueError:
        return False


# -- checks ---------------------------------------------------------------------------------
def _arguments(graph: Graph, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Random values with the awkward ones mixed in: signed zeros, infinities, NaN."""
    rng = np.random.default_rng(seed)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0])

    def value(spec: Input) -> np.ndarray:
        array = rng.standard_normal(spec.shape) * 3
        mask = rng.random(spec.shape) < 0.3
        array = np.where(mask, rng.choice(special, size=spec.shape), array)
        return np.asarray(array).astype(spec.dtype)

    return ([value(s) for s in graph.arg_inputs], [value(s) for s in graph.variable_inputs])


def run(graph: Graph, seed: int = 0) -> tuple[list[Any], dict[int, Any]]:
    args, variables = _arguments(graph, seed)
    with np.errstate(all="ignore"):
        outputs, updates = evaluate(graph, args, variables, with_updates=True)
    return outputs, updates


def assert_identical(a: Any, b: Any, signed_zeros: bool = True) -> None:
    """Same dtype, shape and values, NaN where NaN, and the same sign of every zero."""
    a, b = np.asarray(a), np.asarray(b)
    assert (a.dtype, a.shape) == (b.dtype, b.shape)
    assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), (a, b)
    if signed_zeros and a.dtype.kind == "f":
        numbers = ~np.isnan(a)
        assert np.array_equal(np.signbit(a[numbers]), np.signbit(b[numbers])), (a, b)


def assert_same_results(before: Graph, after: Graph, signed_zeros: bool = True) -> None:
    after.verify()
    assert [(s.id, s.kind) for s in after.inputs] == [(s.id, s.kind) for s in before.inputs]
    assert sorted(after.updates) == sorted(before.updates)
    for seed in range(2):
        outputs_a, updates_a = run(before, seed)
        outputs_b, updates_b = run(after, seed)
        assert len(outputs_a) == len(outputs_b)
        for a, b in [
            *zip(outputs_a, outputs_b, strict=True),
            *((updates_a[k], updates_b[k]) for k in updates_a),
        ]:
            assert_identical(a, b, signed_zeros)


def snapshot(graph: Graph) -> tuple[Any, ...]:
    """Everything a pass must not change in its argument."""
    return (
        str(graph),
        list(graph.nodes),
        dict(graph.updates),
        list(graph.outputs),
        {k: (id(v), np.array(v, copy=True)) for k, v in graph.constants.items()},
    )


def assert_unchanged(graph: Graph, before: tuple[Any, ...]) -> None:
    now = snapshot(graph)
    assert now[:4] == before[:4]
    assert now[4].keys() == before[4].keys()
    for key, (ident, value) in before[4].items():
        assert now[4][key][0] == ident and np.array_equal(now[4][key][1], value, equal_nan=True)


def dead_nodes(graph: Graph) -> list[Node]:
    """Nodes whose results nothing reads (an all-dead chain shows up as its last node)."""
    used = used_ids(graph)
    return [n for n in graph.nodes if not any(o in used for o in n.outputs)]


PASSES: dict[str, Callable[[Graph], Graph]] = {
    "dce": eliminate_dead_code,
    "cse": eliminate_common_subexpressions,
    "fold": fold_constants,
    "simplify": simplify,
    "simplify_drop_stop_gradient": functools.partial(simplify, drop_stop_gradient=True),
    "optimize": optimize,
}
SEEDS = range(30)


# -- random graphs: every pass keeps the results, bit for bit ---------------------------------
def test_random_graphs_are_well_formed() -> None:
    for seed in range(5):
        graph = random_graph(seed)
        graph.verify()
        assert graph.updates and len(graph.nodes) > 15


@pytest.mark.parametrize("name", sorted(PASSES))
@pytest.mark.parametrize("seed", SEEDS)
def test_pass_keeps_results_bit_for_bit(name: str, seed: int) -> None:
    graph = random_graph(seed)
    before = snapshot(graph)
    result = PASSES[name](graph)
    assert_unchanged(graph, before)
    assert_same_results(graph, result)


@pytest.mark.parametrize("seed", SEEDS)
def test_simplify_up_to_signed_zeros(seed: int) -> None:
    graph = random_graph(seed)
    assert_same_results(graph, simplify(graph, ignore_signed_zeros=True), signed_zeros=False)


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_optimize_keeps_results_on_any_seed(seed: int) -> None:
    graph = random_graph(seed)
    assert_same_results(graph, optimize(graph))


@pytest.mark.parametrize("seed", SEEDS)
def test_dead_code_elimination_leaves_no_dead_node_or_constant(seed: int) -> None:
    graph = random_graph(seed)
    result = eliminate_dead_code(graph)
    assert dead_nodes(graph) and not dead_nodes(result)
    assert set(result.constants) <= used_ids(result)
    assert len(result.constants) < len(graph.constants)


@pytest.mark.parametrize("seed", SEEDS)
def test_cse_merges_repeated_nodes_and_constants(seed: int) -> None:
    graph, expected = random_case(seed)
    result = eliminate_common_subexpressions(graph)
    assert len(result.nodes) <= len(graph.nodes) - expected.duplicates
    keys = [_node_key(n) for n in result.nodes]
    assert len(keys) == len(set(keys))
    arrays = [(v.dtype, v.shape, v.tobytes()) for v in result.constants.values()]
    assert len(arrays) == len(set(arrays)) < len(graph.constants)


@pytest.mark.parametrize("seed", SEEDS)
def test_folding_removes_every_node_of_constants(seed: int) -> None:
    graph, expected = random_case(seed)
    result = fold_constants(graph)
    assert len(result.nodes) <= len(graph.nodes) - expected.constant_only
    assert not [
        n
        for n in result.nodes
        if all(isinstance(a, Literal) or a in result.constants for a in n.inputs)
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_simplify_removes_identities_and_reaches_a_fixed_point(seed: int) -> None:
    graph, expected = random_case(seed)
    assert len(graph.nodes) - len(simplify(graph).nodes) >= expected.identities
    result = eliminate_dead_code(simplify(graph))
    assert not [n for n in result.nodes if n.primitive == "identity"]
    producers = {o: n for n in result.nodes for o in n.outputs}
    for node in result.nodes:
        inner = producers.get(node.inputs[0]) if node.inputs else None
        if inner is None or inner.primitive != node.primitive:
            continue
        assert node.primitive != "transpose", node
        if node.primitive in ("reshape", "negative"):
            # kept only where dropping the copy would change the memory layout
            assert not expected.c_order >= {inner.inputs[0], node.inputs[0]}, node
    assert len(eliminate_dead_code(simplify(result)).nodes) == len(result.nodes)


@pytest.mark.parametrize("seed", SEEDS)
def test_optimize_is_idempotent_and_no_worse_than_each_pass(seed: int) -> None:
    graph = random_graph(seed)
    result = optimize(graph)
    assert len(optimize(result).nodes) == len(result.nodes)
    for graph_pass in DEFAULT_PASSES:
        assert len(result.nodes) <= len(eliminate_dead_code(graph_pass(graph)).nodes)


# -- memory layouts ---------------------------------------------------------------------------
def _layout_graph(second: str) -> Graph:
    """sum(f(transpose(x)), axis=0) with f an identity that makes a C-ordered copy."""
    b = Builder(np.random.default_rng(0))
    x = b.input((16, 16), F32)
    turned = b.call("transpose", x, axes=None)
    if second == "multiply":
        ones = b.constant(np.ones((16, 16), F32))
        copied = b.call("multiply", turned, ones)  # mixed layouts: NumPy returns C order
    else:
        copied = b.call("reshape", b.call("reshape", turned, shape=(256,)), shape=(16, 16))
    return b.graph([b.call("sum", copied, axis=(0,), keepdims=False)], {})


@pytest.mark.parametrize("second", ["multiply", "reshape"])
def test_simplify_keeps_copies_that_change_the_memory_layout(second: str) -> None:
    # NumPy adds the rows of a C-ordered and of a transposed array in different orders
    # (the last bits differ), so `x * ones` and `reshape(reshape(x))` of a transposed x
    # must stay: they hand the sum a C-ordered copy.
    graph = _layout_graph(second)
    result = optimize(graph)
    assert [n.primitive for n in result.nodes] == [n.primitive for n in graph.nodes]
    assert_same_results(graph, result)


# -- traced graphs ----------------------------------------------------------------------------
X = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)

# name -> scalar function of one (4, 3) float32 tensor, differentiated by `tg.grad`
LOSSES: dict[str, Callable[[Any], Any]] = {
    "tanh_square": lambda x: tnp.sum(tnp.tanh(x.T.T * 1.0) ** 2 + tnp.exp(x)),
    "softmax": lambda x: tnp.sum(tg.ops.softmax(x @ x.T, axis=-1) * 2.0),
    "reshape_transpose": lambda x: tnp.sum(tnp.transpose(tnp.reshape(x, (2, 6))) ** 3),
    "mean_max": lambda x: tnp.mean(x, axis=0).sum() + tnp.max(x, axis=1).sum(),
    "where_sqrt": lambda x: tnp.sum(tnp.where(x > 0, tnp.sqrt(tnp.abs(x)), x * 0.5)),
    "stop_gradient": lambda x: tnp.sum(x * tg.stop_gradient(tnp.exp(x)) + x * x),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_traced_gradient_graphs(name: str) -> None:
    graph = trace(tg.grad(LOSSES[name]), tg.tensor(X))
    result = optimize(graph)
    assert_same_results(graph, result)
    assert len(result.nodes) < len(graph.nodes)
    assert not [n for n in result.nodes if n.primitive == "identity"]


def test_optimized_graphs_can_be_differentiated_again() -> None:
    # stop_gradient stays: a replay under a tape must not differentiate through it.
    graph = trace(lambda x: tnp.sum(x * tg.stop_gradient(tnp.exp(x)) * 1.0), tg.tensor(X))
    result = optimize(graph)
    assert [n.primitive for n in result.nodes].count("stop_gradient") == 1
    gradients = []
    for g in (graph, result):
        x = tg.tensor(X)
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = g(x)
        gradients.append(tape.gradient(y, x).numpy())
    np.testing.assert_array_equal(gradients[0], gradients[1])
    np.testing.assert_array_equal(gradients[0], np.exp(X))


def test_training_step_with_updates_built_by_hand() -> None:
    w = tg.Variable(np.array([0.5, -1.0, 2.0], np.float32), name="w")

    def step(x: Any) -> Any:
        with tg.GradientTape() as tape:
            loss = tnp.sum(tnp.tanh(x * w) ** 2)
        return loss, (w - 0.1 * tape.gradient(loss, w)) * 1.0

    traced = trace(step, tg.tensor(X))
    (w_input,) = traced.variable_inputs
    graph = Graph(
        traced.inputs,
        traced.nodes,
        traced.outputs[:1],
        traced.constants,
        traced.in_tree,
        None,
        traced.captured_variables,
        updates={w_input.id: traced.outputs[1]},
    )
    result = optimize(graph)
    assert_same_results(graph, result)
    # The update was rewired past `* 1.0` to the subtraction it multiplied.
    update = result.updates[w_input.id]
    assert [n.primitive for n in result.nodes if update in n.outputs] == ["subtract"]
    # Dead code elimination keeps what only the update reads.
    no_update = Graph(graph.inputs, graph.nodes, graph.outputs, graph.constants)
    assert len(optimize(no_update).nodes) < len(result.nodes)


def test_outputs_may_become_inputs_or_constants() -> None:
    b = Builder(np.random.default_rng(0))
    x = b.input((3,), F64)
    c = b.constant(np.arange(3.0))
    graph = b.graph([b.call("multiply", x, Literal(1.0)), b.call("exp", c)], {})
    result = optimize(graph)
    assert result.nodes == [] and result.outputs[0] == x
    assert result.outputs[1] in result.constants
    assert_same_results(graph, result)


# -- simplify: exactness guards ---------------------------------------------------------------
def _unary(
    op: str, operand: Any, dtype: np.dtype = F64, shape: tuple[int, ...] = (3,), swap: bool = False
) -> Graph:
    """``op(x, operand)`` (or ``op(operand, x)``), operand a literal or a constant array."""
    b = Builder(np.random.default_rng(0))
    x = b.input(shape, dtype)
    other = b.constant(operand) if isinstance(operand, np.ndarray) else Literal(operand)
    return b.graph([b.call(op, *((other, x) if swap else (x, other)))], {})


@pytest.mark.parametrize(
    ("op", "operand", "swap", "removed"),
    [
        ("multiply", 1.0, False, True),
        ("multiply", 1, True, True),
        ("multiply", np.ones((3,)), False, True),
        ("divide", 1.0, False, True),
        ("subtract", 0.0, False, True),  # -0.0 - 0.0 is -0.0
        ("subtract", -0.0, False, False),  # -0.0 - -0.0 is 0.0
        ("add", -0.0, True, True),  # x + -0.0 is x for every x
        ("add", 0.0, False, False),  # -0.0 + 0.0 is 0.0
        ("add", np.zeros(3), False, False),
        ("multiply", 2.0, False, False),
        ("divide", 1.0, True, False),  # 1 / x
    ],
)
def test_simplify_arithmetic_identities(op: str, operand: Any, swap: bool, removed: bool) -> None:
    graph = _unary(op, operand, swap=swap)
    result = simplify(graph)
    assert (result.nodes == []) == removed
    assert_same_results(graph, result)


def test_simplify_x_plus_zero_up_to_the_sign_of_zero() -> None:
    graph = _unary("add", 0.0)
    result = simplify(graph, ignore_signed_zeros=True)
    assert result.nodes == []
    assert_same_results(graph, result, signed_zeros=False)
    b = Builder(np.random.default_rng(0))
    x = b.input((3,), np.dtype(np.int32))
    ints = b.graph([b.call("add", x, Literal(0))], {})
    assert simplify(ints).nodes == []  # integers have no signed zero


@pytest.mark.parametrize(
    ("operand", "dtype", "shape"),
    [
        (1.0, np.dtype(np.int64), (3,)),  # an int times 1.0 is a float
        (np.ones((2, 3)), F64, (3,)),  # a larger result
        (np.ones(3), F32, (3,)),  # float32 * float64 ones is float64
        (1.0, np.dtype(np.complex128), (3,)),  # (inf + 0j) * 1 has a NaN imaginary part
    ],
)
def test_simplify_keeps_identities_that_change_dtype_shape_or_values(
    operand: Any, dtype: np.dtype, shape: tuple[int, ...]
) -> None:
    graph = _unary("multiply", operand, dtype, shape)
    assert len(simplify(graph).nodes) == 1


def test_simplify_shape_identities() -> None:
    b = Builder(np.random.default_rng(0))
    x = b.input((2, 3, 4), F32)
    once = b.call("transpose", x, axes=(1, 2, 0))
    twice = b.call("transpose", once, axes=(1, 0, 2))  # composes to (2, 1, 0) = None
    back = b.call("transpose", b.call("transpose", x, axes=None), axes=None)
    flat = b.call("reshape", b.call("reshape", x, shape=(6, 4)), shape=(24,))
    same = b.call(
        "reshape",
        b.call("broadcast_to", b.call("cast", x, dtype=F32), shape=(2, 3, 4)),
        shape=(2, 3, 4),
    )
    graph = b.graph([twice, back, flat, same], {})
    result = eliminate_dead_code(simplify(graph))
    assert [(n.primitive, n.params, n.inputs) for n in result.nodes] == [
        ("transpose", {"axes": (2, 1, 0)}, (x,)),
        ("reshape", {"shape": (24,)}, (x,)),
    ]
    assert result.outputs == [twice, x, flat, x]
    assert_same_results(graph, result)


def test_simplify_double_negation_and_the_stop_gradient_option() -> None:
    b = Builder(np.random.default_rng(0))
    x = b.input((3,), F32)
    flags = b.call("greater", x, Literal(0.0))
    graph = b.graph(
        [
            b.call("negative", b.call("negative", x)),
            b.call("logical_not", b.call("logical_not", flags)),
            b.call("stop_gradient", x),
        ],
        {},
    )
    kept = simplify(graph)
    assert kept.outputs[:2] == [x, flags]
    assert [n.primitive for n in eliminate_dead_code(kept).nodes] == ["greater", "stop_gradient"]
    assert simplify(graph, drop_stop_gradient=True).outputs == [x, flags, x]


def test_simplify_sum_of_broadcast_is_exact_for_integers_only() -> None:
    for dtype, removed in [(I64, True), (F64, False)]:
        b = Builder(np.random.default_rng(0))
        x = b.input((3,), dtype)
        wide = b.call("broadcast_to", x, shape=(5, 3))
        graph = b.graph([b.call("sum", wide, axis=(0,), keepdims=False)], {})
        result = eliminate_dead_code(simplify(graph))
        primitives = [n.primitive for n in result.nodes]
        assert primitives == (["multiply"] if removed else ["broadcast_to", "sum"])
        assert_same_results(graph, result)
    b = Builder(np.random.default_rng(0))
    x = b.input((2, 1), I64)
    graph = b.graph(
        [b.call("sum", b.call("broadcast_to", x, shape=(4, 2, 3)), axis=(0, 2), keepdims=True)], {}
    )
    result = eliminate_dead_code(simplify(graph))
    assert [n.primitive for n in result.nodes] == ["reshape", "multiply"]
    assert_same_results(graph, result)


# -- CSE: literals by value, type and sign ----------------------------------------------------
def test_cse_compares_literals_bit_for_bit() -> None:
    b = Builder(np.random.default_rng(0))
    x = b.input((3,), F64)
    products = [b.call("multiply", x, Literal(v)) for v in (0.0, -0.0, 0, 2.0, 2.0)]
    commuted = [b.call("add", x, Literal(2.0)), b.call("add", Literal(2.0), x)]
    graph = b.graph(products + commuted, {})
    result = eliminate_common_subexpressions(graph)
    assert len(result.nodes) == len(graph.nodes) - 2
    assert_same_results(graph, result)


# -- stateful primitives ----------------------------------------------------------------------
def _dropout_graph() -> Graph:
    b = Builder(np.random.default_rng(0))
    x = b.input((3,), F32)
    c = b.constant(np.ones(3, F32))
    params = {"rate": 0.5, "shape": (3,), "generator": np.random.default_rng(0)}
    first = b.call("dropout_mask", x, **params)
    second = b.call("dropout_mask", x, **params)  # the same call: a different draw
    b.call("dropout_mask", c, **params)  # of a constant, and dead
    return b.graph([b.call("add", first, second)], {})


def test_stateful_nodes_are_never_merged_folded_or_dropped() -> None:
    graph = _dropout_graph()
    assert PRIMITIVES["dropout_mask"].stateful
    for result in (optimize(graph), *(p(graph) for p in DEFAULT_PASSES)):
        result.verify()
        assert [n.primitive for n in result.nodes] == ["dropout_mask"] * 3 + ["add"]


# -- folding limits ---------------------------------------------------------------------------
def test_folding_respects_the_size_limit() -> None:
    b = Builder(np.random.default_rng(0))
    x = b.input((), F32)
    small = b.constant(np.arange(4, dtype=F32))
    one = b.constant(np.array([2.0], F32))
    grown = b.call("broadcast_to", b.call("exp", small), shape=(3, 4))  # grows: kept
    shrunk = b.call("sum", b.call("exp", small), axis=None, keepdims=False)  # shrinks
    filled = b.call("broadcast_to", one, shape=(200, 1000))  # one element: a view
    outputs = [b.call("multiply", v, x) for v in (grown, shrunk, filled)]
    graph = b.graph(outputs, {})
    result = eliminate_dead_code(fold_constants(graph, max_elements=8))
    assert [n.primitive for n in result.nodes] == ["broadcast_to"] + ["multiply"] * 3
    view = result.constants[filled]
    assert view.strides == (0, 0) and not view.flags.writeable
    assert_same_results(graph, result)


def test_folding_leaves_errors_to_run_time() -> None:
    b = Builder(np.random.default_rng(0))
    x = b.input((2, 2), F64)
    singular = b.constant(np.zeros((2, 2)))
    b.example[singular] = np.eye(2)  # record shapes on a regular matrix
    graph = b.graph([b.call("add", b.call("solve", singular, b.constant(np.eye(2))), x)], {})
    assert len(fold_constants(graph).nodes) == 2


def test_optimize_stops_after_max_rounds() -> None:
    graph = random_graph(3)
    assert optimize(graph, max_rounds=0) is graph
    assert len(optimize(graph, passes=[eliminate_dead_code]).nodes) == len(
        eliminate_dead_code(graph).nodes
    )


@pytest.mark.parametrize("axis", [-1, 1, (-1,), (1,), None])
def test_sum_of_a_size_one_axis_given_any_valid_way(axis: Any) -> None:
    # Traced graphs hold non-negative tuples; a graph from a file may hold any form the
    # impl accepts.
    spec = Input(0, "arg", (3, 1), np.dtype(np.int64), "x")
    shape = (3,) if axis is not None else ()
    node = Node(
        "sum", (0,), {"axis": axis, "keepdims": False}, (1,), (shape,), (np.dtype(np.int64),)
    )
    graph = Graph([spec], [node], [1])
    graph.verify()
    x = np.arange(3, dtype=np.int64).reshape(3, 1)
    np.testing.assert_array_equal(evaluate(optimize(graph), [x])[0], x.sum(axis=axis))
