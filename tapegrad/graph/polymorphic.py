"""Batch polymorphism: reuse one trace of a function for other sizes of the batch axis.

A `tapegrad.function` created with ``batch_polymorphic=True`` (``Model.fit`` and friends
make theirs so) traces the Python function once per signature *up to the leading axis of
its array arguments*. A call whose arguments differ from a traced signature only in that
size gets the traced graph *re-specialized* to the new size — without running Python:

1. **Substitution.** The batch size ``B`` of the trace can have entered the graph only
   through the arguments' shapes and through numbers Python computed from them: the
   leading entry of a shape-valued param (``reshape``'s ``(B, -1)`` or ``(B * 36, 4)``,
   a ``broadcast_to`` back to the batch, a random draw's shape), a literal equal to
   ``B`` (a count, ``x.shape[0]``) or ``1 / B``, or, in the part of the graph computed
   from the batch or feeding it, to ``k * B`` or ``1 / (k * B)`` where ``k`` is an
   element count of a batch value's other axes (a mean's divisor), and a constant with
   ``k * B`` equal rows (``ones((B, 1))``; its value may be ``c / (k * B)``: the mean's
   VJP run on constants at trace time). Those are replaced for the new size.
2. **Verification.** The substituted graph is run once on seeded random values at a
   small *probe* size (random draws and collectives are not run), node by node: a shape
   param is scaled, or kept where scaling fails (a reshape of a fixed-size value), and
   each value's axes are classified: ``k`` times the batch where the trace had ``k * B``
   and the probe ``k * probe``, else fixed. Each new size then runs once more and every
   node must have exactly the shapes this classification predicts. A graph whose shapes
   do not follow (rows computed from the batch outside the graph, a Variable assigned a
   batch-sized value, a trace at batch 1 or 2 whose broadcasting or small numbers hide
   the batch) is not polymorphic: the call traces again, and the ``tapegrad.function``
   logger says why at DEBUG level.

The specialized graph is optimized and compiled like a traced one (buffers and generated
code are per size) and cached under the call's signature, so each size pays this once.

A number that fits a batch-derived form *and* is a product of fixed sizes of the graph
(a mean over 32 time steps traced at batch 32, a count of 32 beside a 32-unit layer) is
ambiguous: the trace is not reused for other sizes. What shapes cannot prove: a number
written in the program that equals a batch-derived value (the traced batch size,
``1 / B``, ``k * B``) and no fixed size is taken for one, and a batch-derived number of
another form (``sqrt(B)``, ``3 / B`` folded into a constant) is not recognized. Both
give wrong results at other sizes, so `tapegrad.function` keeps
``batch_polymorphic=False`` by default (as ``jax.jit`` traces per shape); the built-in
``fit``/``evaluate``/``predict`` steps, written with the layers' ops, turn it on.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any

import numpy as np

from tapegrad.core.primitive import PRIMITIVES
from tapegrad.graph.concrete import ConcreteFunction
from tapegrad.graph.ir import Graph, Input, Literal, Node

logger = logging.getLogger("tapegrad.function")

# Each axis of a value: a fixed size (> 0), or -k: k times the batch size.
Axes = tuple[int, ...]


class NotPolymorphicError(ValueError):
    """A trace cannot be re-specialized to another batch size (the message says why)."""


def batch_key(key: tuple[Any, ...]) -> tuple[tuple[Any, ...], int] | None:
    """A `Function` signature with the leading sizes of its arrays left out, and that size.

    Args:
        key: A signature as `tapegrad.function` builds it (``("array", shape, dtype)``
            parts for array arguments).

    Returns:
        ``(key without batch sizes, batch size)``, or None when the signature has no array
        of rank 1 or more, or its arrays' leading sizes differ.

    Examples:
        >>> batch_key(("tree", ("array", (32, 8), "<f4"), ("array", (32,), "<i8")))
        (('tree', ('array', (None, 8), '<f4'), ('array', (None,), '<i8')), 32)
        >>> batch_key(("tree", ("array", (32, 8), "<f4"), ("array", (4,), "<i8"))) is None
        True
    """
    sizes = {part[1][0] for part in key[1:] if part[0] == "array" and len(part[1]) > 0}
    if len(sizes) != 1:
        return None
    parts = [key[0]]
    for part in key[1:]:
        if part[0] == "array" and len(part[1]) > 0:
            part = ("array", (None, *part[1][1:]), part[2])
        parts.append(part)
    return tuple(parts), sizes.pop()


@dataclasses.dataclass
class _Plan:
    """What the probe run decided: which params scale, which nodes read the batch."""

    params: dict[int, tuple[str, ...]]  # node index -> params whose leading entry scales
    dependent: frozenset[int]  # nodes reading values computed from the batch, or feeding them
    axes: dict[int, Axes]  # value id -> its axes


@dataclasses.dataclass
class BatchTemplate:
    """One trace of a function, re-specializable to other batch sizes.

    Args:
        graph: The graph as traced (before the passes).
        size: The batch size it was traced at.
    """

    graph: Graph
    size: int
    reason: str | None = None
    _plan: _Plan | None = None

    def __post_init__(self) -> None:
        if self.reason is None and self.size < 3:
            self.reason = (
                f"it was traced with a batch of {self.size}: broadcasting (of 1) or small "
                "numbers of the program (2) could pass for the batch"
            )

    def specialize(self, size: int) -> Graph:
        """The traced graph for batch ``size``, shapes checked node by node.

        Raises:
            NotPolymorphicError: the graph does not follow the batch size (the reason).
        """
        if self.reason is not None:
            raise NotPolymorphicError(self.reason)
        if self._plan is None:
            try:
                self._plan = _probe(self.graph, self.size, 3 if self.size != 3 else 5)
            except NotPolymorphicError as err:
                self.reason = str(err)
                raise
        plan = self._plan
        graph = substitute(self.graph, self.size, size, plan, _multiples(plan.axes))
        shapes = {key: _shape_at(axes, size) for key, axes in plan.axes.items()}
        _run_shapes(graph, size, shapes)
        nodes = [
            dataclasses.replace(node, shapes=tuple(shapes[i] for i in node.outputs))
            for node in graph.nodes
        ]
        return _with(graph, nodes=nodes)


class BatchTemplates:
    """A `Function`'s traces by signature without batch sizes, made into other sizes.

    Args:
        name: The function's name (for the log).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._found: dict[Any, tuple[BatchTemplate, Any]] = {}

    def keep(self, batched: tuple[Any, int], concrete: ConcreteFunction) -> None:
        """Keep a new trace as the one other batch sizes are made from (unless one is)."""
        found = self._found.get(batched[0])
        if found is None or found[0].reason is not None:
            template = BatchTemplate(concrete.traced_graph, batched[1])
            self._found[batched[0]] = (template, concrete.out_tree)

    def clear(self) -> None:
        """Forget every trace."""
        self._found.clear()

    def concrete(
        self,
        batched: tuple[Any, int],
        positions: list[int],
        in_tree: Any,
        described: str,
        optimize: bool,
        jit: bool,
        lock: Any,
    ) -> ConcreteFunction | None:
        """A kept trace specialized to this batch size, compiled; None: trace again."""
        found = self._found.get(batched[0])
        if found is None:
            return None
        template, out_tree = found
        start = time.perf_counter()
        try:
            traced_graph = template.specialize(batched[1])
        except Exception as err:  # noqa: BLE001 - any failure here must end in a retrace
            # (NotPolymorphicError says why; anything else is a shape check gone wrong,
            # which a retrace makes harmless.)
            logger.debug(
                "tapegrad.function(%s): the trace at batch %d does not serve batch %d, "
                "tracing again: %s",
                self.name,
                template.size,
                batched[1],
                err,
            )
            return None
        graph = traced_graph
        if optimize:
            from tapegrad.graph.passes import optimize as optimize_graph

            graph = optimize_graph(traced_graph)
        seconds = time.perf_counter() - start
        concrete = ConcreteFunction(
            graph, traced_graph, out_tree, positions, [], in_tree, jit, seconds, lock
        )
        logger.info(
            "tapegrad.function(%s): no trace for %s: the trace at batch %d specialized to "
            "batch %d (%d nodes after passes); specialize %.3f s, compile %.3f s",
            self.name,
            described,
            template.size,
            batched[1],
            len(graph.nodes),
            seconds,
            concrete.compile_seconds,
        )
        return concrete


def _probe(graph: Graph, old: int, probe: int) -> _Plan:
    """Run ``graph`` at batch ``probe``, deciding node by node what follows the batch."""
    first = substitute(graph, old, probe)
    env = _start(first)
    traced = _traced_shapes(graph)
    axes = {key: _axes(key, traced[key], np.shape(env[key]), old, probe) for key in env}
    batched = {key for key, kinds in axes.items() if min(kinds, default=1) < 0}
    reading = set(batched)  # values computed from the batch
    params: dict[int, tuple[str, ...]] = {}
    dependent: set[int] = set()
    with np.errstate(all="ignore"):
        for index, (node, plain) in enumerate(zip(graph.nodes, first.nodes, strict=True)):
            ids = [a for a in node.inputs if not isinstance(a, Literal)]
            scalable = tuple(k for k, v in node.params.items() if _param(v, old, probe) != v)
            batch_in = any(a in batched for a in ids)
            # A shape whose leading entry is a multiple of the batch follows it (also in a
            # broadcast of a reduced value back to the batch); kept where that fails (a
            # reshape whose element count is fixed). A wrong guess fails where its
            # result meets the batch, and the trace is then refused.
            choices = [scalable, ()]
            problem = ""
            for keys in dict.fromkeys(choices):
                trial = dataclasses.replace(
                    plain,
                    params={
                        k: _param(v, old, probe) if k in keys else v for k, v in node.params.items()
                    },
                )
                try:
                    results = _run_node(trial, env, index, probe, old if keys or batch_in else 0)
                    found = {
                        out: _axes(out, shape, np.shape(value), old, probe)
                        for out, shape, value in zip(
                            node.outputs, node.shapes, results, strict=True
                        )
                    }
                except NotPolymorphicError as err:
                    problem = str(err)
                    continue
                break
            else:
                raise NotPolymorphicError(problem)
            env.update(zip(node.outputs, results, strict=True))
            axes.update(found)
            if keys:
                params[index] = keys
            batched.update(out for out, kinds in found.items() if min(kinds, default=1) < 0)
            if any(a in reading for a in ids):
                dependent.add(index)
                reading.update(node.outputs)
    for key, atom in graph.updates.items():
        if not isinstance(atom, Literal) and atom in batched:
            name = next(s.name for s in graph.inputs if s.id == key)
            raise NotPolymorphicError(f"Variable '{name}' is assigned a batch-sized value")
    return _Plan(params, _with_ancestors(graph, dependent), axes)


def _with_ancestors(graph: Graph, dependent: set[int]) -> frozenset[int]:
    """``dependent`` and the nodes feeding them (a mean's VJP divides the cotangent)."""
    related = set(dependent)
    needed: set[int] = set()
    for index in range(len(graph.nodes) - 1, -1, -1):
        node = graph.nodes[index]
        if index in related or any(out in needed for out in node.outputs):
            related.add(index)
            needed.update(a for a in node.inputs if not isinstance(a, Literal))
    return frozenset(related)


def _axes(key: int, traced: Any, probed: Any, old: int, probe: int) -> Axes:
    if len(traced) != len(probed):
        raise NotPolymorphicError(f"value {key} changes rank at batch {probe}")
    kinds: list[int] = []
    for a, b in zip(traced, probed, strict=True):
        if a == b:
            kinds.append(a)
        elif a % old == 0 and b == a // old * probe:
            kinds.append(-(a // old))
        else:
            raise NotPolymorphicError(
                f"value {key} has shape {list(traced)} at batch {old} but {list(probed)} at "
                f"batch {probe}: a size the graph cannot follow"
            )
    return tuple(kinds)


def substitute(
    graph: Graph,
    old: int,
    new: int,
    plan: _Plan | None = None,
    multiples: frozenset[int] = frozenset({1}),
) -> Graph:
    """``graph`` with the traces of batch size ``old`` replaced by ``new``.

    Argument shapes' leading axis; the leading entry of the shape params ``plan`` names;
    literals equal to ``old`` or ``1 / old``, and, in nodes reading values computed from
    the batch (or feeding such nodes), to ``k * old`` or its reciprocal for ``k`` in
    ``multiples`` (element counts of batch values: a mean's divisor); constants whose
    ``k * old`` rows are all equal (values ``c / (k * old)`` too). Node shapes are left
    as traced (`BatchTemplate.specialize` recomputes them).
    """
    inputs = [
        dataclasses.replace(spec, shape=(new, *spec.shape[1:]))
        if spec.kind == "arg" and spec.shape
        else spec
        for spec in graph.inputs
    ]
    one = frozenset({1})
    # A number that is also a size of the graph's other axes may be either (a mean over
    # 32 time steps traced at batch 32): refused, not guessed.
    fixed = _fixed_products(plan.axes) if plan is not None else frozenset()
    constants = {
        key: _constant(key, value, old, new, one if plan is None else multiples, fixed)
        for key, value in graph.constants.items()
    }
    nodes = []
    for index, node in enumerate(graph.nodes):
        scaled = plan.params.get(index, ()) if plan is not None else ()
        counts = multiples if plan is not None and index in plan.dependent else one
        literals = tuple(
            Literal(_number(a.value, old, new, counts, fixed=fixed))
            if isinstance(a, Literal)
            else a
            for a in node.inputs
        )
        params = {k: _param(v, old, new) if k in scaled else v for k, v in node.params.items()}
        nodes.append(dataclasses.replace(node, inputs=literals, params=params))
    return _with(graph, inputs=inputs, nodes=nodes, constants=constants)


def _with(graph: Graph, **changes: Any) -> Graph:
    fields = {
        "inputs": graph.inputs,
        "nodes": graph.nodes,
        "outputs": graph.outputs,
        "constants": graph.constants,
        "in_tree": graph.in_tree,
        "out_tree": graph.out_tree,
        "captured_variables": graph.captured_variables,
        "updates": graph.updates,
    }
    fields.update(changes)
    return Graph(**fields)


def _number(
    value: Any,
    old: int,
    new: int,
    multiples: frozenset[int],
    numerators: tuple[float, ...] = (1.0,),
    fixed: frozenset[int] = frozenset(),
) -> Any:
    """``k * new`` for ``k * old``, ``c / (k * new)`` for ``c / (k * old)``, in its own type.

    Raises:
        NotPolymorphicError: the number is also a product of fixed sizes (``fixed``).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return value
    if value == 0 or not math.isfinite(value):
        return value
    for count, numerator in ((value, 0.0), *((c / value, c) for c in numerators)):
        whole = round(count)
        if whole % old or not math.isclose(count, whole, rel_tol=1e-6):
            continue
        if whole // old in multiples:
            if whole in fixed:
                raise NotPolymorphicError(
                    f"the number {value} may come from the batch size {old} or from a size "
                    f"of {whole} elements along fixed axes: ambiguous"
                )
            total = whole // old * new
            return type(value)(numerator / total if numerator else total)
    return value


def _fixed_products(axes: dict[int, Axes]) -> frozenset[int]:
    """Element counts of any subset of the fixed axes of every value."""
    found: set[int] = set()
    for kinds in axes.values():
        products = {1}
        for size in kinds:
            if size > 0:
                products |= {p * size for p in products}
        found |= products
    found.discard(1)
    return frozenset(found)


# A constant array with batch rows comes from derivative rules run on constants at trace
# time (a mean's VJP seeds 1 / N, the square's rule doubles it): its value may be c / N.
_NUMERATORS = (1.0, -1.0, 2.0, -2.0, 0.5, -0.5)


def _constant(
    key: int,
    value: np.ndarray,
    old: int,
    new: int,
    multiples: frozenset[int],
    fixed: frozenset[int] = frozenset(),
) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim == 0:
        return np.asarray(
            _number(array[()], old, new, frozenset({1}), fixed=fixed), dtype=array.dtype
        )
    if array.shape[0] % old:
        return value
    first = array[:1]
    if not np.array_equal(array, np.broadcast_to(first, array.shape), equal_nan=True):
        # Data (a weight matrix), or rows computed from the batch outside the graph: the
        # probe then fails where they meet the batch.
        return value
    row = np.vectorize(
        lambda v: _number(v, old, new, multiples, _NUMERATORS, fixed), otypes=[array.dtype]
    )(first)
    rows = array.shape[0] // old * new
    return np.ascontiguousarray(np.broadcast_to(row, (rows, *array.shape[1:])))


def _traced_shapes(graph: Graph) -> dict[int, tuple[int, ...]]:
    shapes: dict[int, tuple[int, ...]] = {s.id: tuple(s.shape) for s in graph.inputs}
    shapes.update({key: np.shape(value) for key, value in graph.constants.items()})
    for node in graph.nodes:
        shapes.update({i: tuple(s) for i, s in zip(node.outputs, node.shapes, strict=True)})
    return shapes


def _example(spec: Input, rng: np.random.Generator) -> np.ndarray:
    # Random floats, zero integers (valid indices and labels); zero Variables (large
    # weights: only shapes are checked, and drawing them cost more than the run).
    if spec.dtype.kind in "fc" and spec.kind == "arg":
        return rng.standard_normal(spec.shape).astype(spec.dtype)
    return np.zeros(spec.shape, spec.dtype)


def _multiples(axes: dict[int, Axes]) -> frozenset[int]:
    """Element counts of any subset of the axes of values with a batch axis, over ``B``."""
    found = {1}
    for kinds in axes.values():
        if min(kinds, default=1) > 0:
            continue
        products = {1}
        for size in kinds:
            products |= {p * abs(size) for p in products}
        found |= products
    return frozenset(found)


def _param(value: Any, old: int, new: int) -> Any:
    # Only the leading entry of a shape (k * old rows): the batch leads the layers' layouts.
    if (
        isinstance(value, tuple)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and value[0] > 0
        and value[0] % old == 0
    ):
        return (value[0] // old * new, *value[1:])
    return value


def _shape_at(axes: Axes, size: int) -> tuple[int, ...]:
    return tuple(-a * size if a < 0 else a for a in axes)


def _start(graph: Graph) -> dict[int, Any]:
    rng = np.random.default_rng(0)
    env: dict[int, Any] = dict(graph.constants)
    env.update({spec.id: _example(spec, rng) for spec in graph.inputs})
    return env


def _run_node(node: Node, env: dict[int, Any], index: int, size: int, old: int) -> list[Any]:
    """One node's results at batch ``size`` (``old``: its leading entries follow the batch)."""
    prim = PRIMITIVES[node.primitive]
    if prim.stateful:
        # Not run (a draw would advance its generator, a collective would wait for the
        # other processes): its shapes follow the batch where its leading entry is it.
        return [
            np.zeros(_param(tuple(s), old, size) if old else s, d)
            for s, d in zip(node.shapes, node.dtypes, strict=True)
        ]
    operands = [a.value if isinstance(a, Literal) else env[a] for a in node.inputs]
    try:
        result = prim.impl(*operands, **node.params)
    except Exception as err:
        raise NotPolymorphicError(
            f"node {index} ({node.primitive}) fails at batch {size}: {err}"
        ) from err
    return list(result) if prim.multiple_results else [result]


def _run_shapes(graph: Graph, size: int, expected: dict[int, tuple[int, ...]]) -> None:
    """Run ``graph`` on seeded values; every node must have its ``expected`` shapes."""
    env = _start(graph)
    with np.errstate(all="ignore"):
        for index, node in enumerate(graph.nodes):
            shapes = tuple(expected[i] for i in node.outputs)
            results = _run_node(dataclasses.replace(node, shapes=shapes), env, index, size, 0)
            for out_id, value, shape in zip(node.outputs, results, shapes, strict=True):
                if np.shape(value) != shape:
                    raise NotPolymorphicError(
                        f"node {index} ({node.primitive}) computes shape "
                        f"{list(np.shape(value))} at batch {size}, where its trace implies "
                        f"{list(shape)}"
                    )
                env[out_id] = value


__all__ = ["BatchTemplate", "BatchTemplates", "NotPolymorphicError", "batch_key", "substitute"]
