"""Algebraic simplification: identities that are exact bit for bit.

Each rule looks at one node (and the node producing its input) and either *aliases* the
node's result to an existing value, or rewrites the node. An alias is only taken when the
value has exactly the node's recorded shape and dtype — so ``x * 1.0`` with an integer
``x`` (a float result) or ``x * ones((3, 3))`` with ``x`` of shape ``(3,)`` (a larger
result) stay as they are.

Exact means bit-identical results for every input, NaN and infinities included:

* ``x * 1``, ``1 * x``, ``x / 1`` (real ``x``: for complex ``x`` the product computes
  ``0 * imag``, which is NaN for an infinite part), ``x - 0``, ``--x``, ``not not x``
  (boolean ``x``), ``cast`` to the dtype ``x`` has, ``broadcast_to`` and ``reshape`` to
  ``x``'s own shape, transposes by the identity permutation, `identity` nodes;
* ``x + 0`` only for integer ``x``, or with a zero that is ``-0.0``: for floats
  ``-0.0 + 0.0`` is ``+0.0``, so ``x + 0.0`` is ``x`` only up to the sign of zero.
  ``ignore_signed_zeros=True`` accepts it (and ``x - (-0.0)``, and sums over axes of
  length one, which also turn ``-0.0`` into ``0.0``);
* transpose of transpose becomes one transpose (composed axes), reshape of reshape one
  reshape — same values, one copy fewer;
* ``sum(broadcast_to(x))`` over exactly the broadcast axes becomes ``x * count`` for
  64-bit integer ``x`` (wrap-around arithmetic agrees). Floats are left alone: a sum of
  ``n`` copies rounds differently from one multiplication.

*Memory layout counts too.* NumPy's reductions and ``matmul`` add in an order that
depends on their operand's layout: the sum of a C-contiguous array and of a transposed
or sliced view of the same values can differ in the last bit. So a rewrite that puts a
view where the original had a fresh array (``x * 1 -> x`` with ``x`` a slice,
``reshape(reshape(x))`` with a non-contiguous ``x``) would change later sums. Rules that
alias an op's fresh result or skip a copy apply only where a static analysis shows the
value involved is C-contiguous at run time; the analysis assumes the graph's inputs are
C-contiguous (as arrays and Tensors made the usual way are). Aliases that return the
very same array or a view with the same strides (identity nodes, same-dtype casts,
transposes and reshapes) need no condition.

``stop_gradient`` nodes are kept unless ``drop_stop_gradient=True``. In a graph whose
gradients are already built (a traced ``grad``) one computes the identity, but a graph
may still be differentiated after the passes: `tapegrad.function` replays its optimized
graph on Tensors when an outer `GradientTape` watches the arguments, and without the
node gradients would flow where the traced function blocked them. (It costs nothing at
run time: its implementation returns its argument.) ``x ** 1`` is not rewritten:
NumPy may compute float powers with a vectorized ``pow`` not guaranteed exact there.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tapegrad.core.primitive import PRIMITIVES
from tapegrad.core.prims.shape import _SMALL as BROADCAST_COPY_MAX
from tapegrad.graph.ir import Atom, Graph, Literal, Node
from tapegrad.graph.passes.rewrite import Aval, next_free_id, rebuild, remap_node, value_avals


@dataclasses.dataclass
class _Context:
    """What rules may look at: value avals, constants, producers; fresh ids."""

    avals: dict[int, Aval]
    constants: dict[int, np.ndarray]
    producers: dict[int, Node]
    fresh: Iterator[int]
    ignore_signed_zeros: bool
    drop_stop_gradient: bool
    c_order: set[int] = dataclasses.field(default_factory=set)

    def known(self, atom: Atom) -> np.ndarray | None:
        """The value of a literal or constant atom as an array (None: not known)."""
        if isinstance(atom, Literal):
            value = atom.value
            if not isinstance(value, bool | int | float | complex | np.generic):
                return None
            array = np.asarray(value)
        elif atom in self.constants:
            array = np.asarray(self.constants[atom])
        else:
            return None
        return None if array.dtype.hasobject else array

    def c_contiguous(self, *atoms: Atom) -> bool:
        """Whether every value among ``atoms`` is C-contiguous at run time (literals are)."""
        return all(isinstance(a, Literal) or a in self.c_order for a in atoms)

    def producer(self, atom: Atom, primitive: str) -> Node | None:
        """The node that computes ``atom``, if it is a call of ``primitive``."""
        if isinstance(atom, Literal):
            return None
        node = self.producers.get(atom)
        return node if node is not None and node.primitive == primitive else None


# A rule returns None (no change), an atom (the node's result *is* that value), or the
# nodes that replace the node (the last one keeps the node's output id).
Result = Atom | list[Node] | None
Rule = Callable[[Node, _Context], Result]


def simplify(
    graph: Graph, *, ignore_signed_zeros: bool = False, drop_stop_gradient: bool = False
) -> Graph:
    """Apply the algebraic identities of this module, in one forward walk.

    Args:
        graph: The graph (left unchanged).
        ignore_signed_zeros: Also apply identities exact only up to the sign of zero
            (``x + 0.0``, sums over length-one axes): results then equal the original
            under ``==``, but ``-0.0`` may come out as ``0.0``.
        drop_stop_gradient: Remove ``stop_gradient`` nodes too (only for graphs that
            will not be differentiated again).

    Returns:
        A graph computing the same outputs and updates, bit for bit (unless
        ``ignore_signed_zeros``). Nodes the rewrites no longer read are left to
        `eliminate_dead_code`.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.graph import trace
        >>> graph = trace(lambda x: -(-(x.T.T * 1.0)) - 0.0, tg.tensor([[1.0, 2.0]]))
        >>> print(simplify(graph))  # what is left is dead
        { lambda ; x0:f32[1,2] . let
            t0:f32[2,1] = transpose[axes=None] x0
            t1:f32[1,2] = negative x0
          in x0 }
    """
    context = _Context(
        value_avals(graph),
        dict(graph.constants),
        {},
        itertools.count(next_free_id(graph)),
        ignore_signed_zeros,
        drop_stop_gradient,
    )
    context.c_order.update(spec.id for spec in graph.inputs)  # assumed: see the module doc
    context.c_order.update(
        k for k, v in graph.constants.items() if np.asarray(v).flags.c_contiguous
    )
    replacements: dict[int, Atom] = {}
    nodes: list[Node] = []
    for node in graph.nodes:
        node = remap_node(node, replacements)
        rule = RULES.get(node.primitive)
        result = rule(node, context) if rule is not None else None
        if result is None:
            result = [node]
        if not isinstance(result, list):
            replacements[node.outputs[0]] = result
            continue
        for new in result:
            nodes.append(new)
            for out_id, shape, dtype in zip(new.outputs, new.shapes, new.dtypes, strict=True):
                context.producers[out_id] = new
                context.avals[out_id] = (tuple(shape), np.dtype(dtype))
            if _makes_c_contiguous(new, context):
                context.c_order.update(new.outputs)
    return rebuild(graph, nodes, replacements)


# Primitives whose result is C-contiguous when their array operands are (fresh arrays
# from ufuncs, reductions, matmul, ...; or the operand itself, or a view of it).
_C_PRESERVING = frozenset(
    {
        "cast",
        "sum",
        "max",
        "min",
        "prod",
        "cumsum",
        "cumprod",
        "matmul",
        "concatenate",
        "pad",
        "identity",
        "stop_gradient",
        "reshape",
    }
)


def _makes_c_contiguous(node: Node, context: _Context) -> bool:
    """Whether ``node``'s result is C-contiguous at run time (False: not known)."""
    prim = PRIMITIVES.get(node.primitive)
    if prim is None or prim.multiple_results or not context.c_contiguous(*node.inputs):
        return False
    if prim.elementwise or node.primitive in _C_PRESERVING:
        return True
    if node.primitive == "broadcast_to":
        # Small broadcasts are copied; larger ones are zero-stride views.
        source = node.inputs[0]
        same = not isinstance(source, Literal) and context.avals[source][0] == node.shape
        return same or math.prod(node.shape) <= BROADCAST_COPY_MAX
    if node.primitive == "transpose":
        return _axes(node.params.get("axes"), len(node.shape)) == tuple(range(len(node.shape)))
    return False


# -- helpers --------------------------------------------------------------------------------
def _alias(node: Node, atom: Atom, context: _Context) -> Atom | None:
    """``atom`` as the node's result, if it is a value of exactly the node's shape/dtype."""
    if isinstance(atom, Literal) or len(node.outputs) != 1:
        return None
    if context.avals.get(atom) != (tuple(node.shape), np.dtype(node.dtype)):
        return None
    return atom


def _all_equal(value: np.ndarray | None, target: int) -> bool:
    return value is not None and value.dtype.kind in "biuf" and bool(np.all(value == target))


def _negative_zeros(value: np.ndarray) -> np.ndarray:
    """Where ``value`` holds ``-0.0`` (integers have no signed zero)."""
    if value.dtype.kind == "f":
        return np.signbit(value) & (value == 0)
    return np.zeros(value.shape, bool)


def _kind(atom: Atom, context: _Context) -> str:
    """The dtype kind of a value ("" for a literal or an unknown value)."""
    if isinstance(atom, Literal) or atom not in context.avals:
        return ""
    return str(context.avals[atom][1].kind)


def _is_real(atom: Atom, context: _Context) -> bool:
    return _kind(atom, context) in tuple("biuf")


def _with(node: Node, inputs: tuple[Atom, ...], **params: Any) -> list[Node]:
    return [dataclasses.replace(node, inputs=inputs, params={**node.params, **params})]


# -- arithmetic identities ------------------------------------------------------------------
def _fresh_alias(node: Node, atom: Atom, context: _Context) -> Atom | None:
    """`_alias` for an op that computes a fresh array: only if layouts agree (C order)."""
    return _alias(node, atom, context) if context.c_contiguous(*node.inputs) else None


def _multiply_rule(node: Node, context: _Context) -> Result:
    x, y = node.inputs
    for value, other in ((y, x), (x, y)):
        if _all_equal(context.known(value), 1) and _is_real(other, context):
            found = _fresh_alias(node, other, context)
            if found is not None:
                return found
    return None


def _divide_rule(node: Node, context: _Context) -> Result:
    x, y = node.inputs
    if _all_equal(context.known(y), 1) and _is_real(x, context):
        return _fresh_alias(node, x, context)
    return None


def _add_rule(node: Node, context: _Context) -> Result:
    x, y = node.inputs
    for zero, other in ((y, x), (x, y)):
        value = context.known(zero)
        if not _all_equal(value, 0) or not _is_real(other, context):
            continue
        assert value is not None
        # x + (-0.0) is x for every float x; x + 0.0 turns x = -0.0 into 0.0.
        exact = (
            _kind(other, context) in tuple("biu")
            or context.ignore_signed_zeros
            or bool(np.all(_negative_zeros(value)))
        )
        found = _fresh_alias(node, other, context) if exact else None
        if found is not None:
            return found
    return None


def _subtract_rule(node: Node, context: _Context) -> Result:
    x, y = node.inputs
    value = context.known(y)
    if not _all_equal(value, 0) or not _is_real(x, context):
        return None
    assert value is not None
    # x - 0.0 is x for every float x (also -0.0 - 0.0 == -0.0); x - (-0.0) is x + 0.0.
    if context.ignore_signed_zeros or not np.any(_negative_zeros(value)):
        return _fresh_alias(node, x, context)
    return None


def _involution_rule(node: Node, context: _Context) -> Result:
    """negative(negative(x)) and logical_not(logical_not(x)) are x."""
    inner = context.producer(node.inputs[0], node.primitive)
    return _fresh_alias(node, inner.inputs[0], context) if inner is not None else None


def _identity_rule(node: Node, context: _Context) -> Result:
    return _alias(node, node.inputs[0], context)


def _stop_gradient_rule(node: Node, context: _Context) -> Result:
    return _alias(node, node.inputs[0], context) if context.drop_stop_gradient else None


# -- shape identities -----------------------------------------------------------------------
def _transpose_rule(node: Node, context: _Context) -> Result:
    (x,) = node.inputs
    ndim = len(node.shape)
    axes = _axes(node.params.get("axes"), ndim)
    if axes is None:
        return None
    inner = context.producer(x, "transpose")
    if inner is not None:
        # transpose(transpose(y, a), b) == transpose(y, a[b])
        inner_axes = _axes(inner.params.get("axes"), ndim)
        if inner_axes is None:
            return None
        axes = tuple(inner_axes[i] for i in axes)
        x = inner.inputs[0]
    if axes == tuple(range(ndim)):
        return _alias(node, x, context)
    if inner is None:
        return None
    return _with(node, (x,), axes=axes)


def _axes(axes: Any, ndim: int) -> tuple[int, ...] | None:
    """A transpose's axes as a permutation (None: not one this pass reads)."""
    if axes is None:
        return tuple(reversed(range(ndim)))
    items = tuple(axes) if isinstance(axes, tuple | list) else (axes,)
    if len(items) != ndim or not all(
        isinstance(a, int | np.integer) and -ndim <= a < ndim for a in items
    ):
        return None  # a graph from a file may hold any form the impl accepts
    return tuple(int(a) % ndim for a in items)


def _reshape_rule(node: Node, context: _Context) -> Result:
    (x,) = node.inputs
    inner = context.producer(x, "reshape")
    if inner is not None and context.c_contiguous(inner.inputs[0]):
        # A reshape only reads the element order, which is kept. (Of a non-contiguous
        # value the first reshape may copy where the direct one returns a view.)
        x = inner.inputs[0]
    else:
        inner = None
    found = _alias(node, x, context)
    if found is not None or inner is None:
        return found
    return _with(node, (x,))


def _same_value_rule(node: Node, context: _Context) -> Result:
    """cast to x's own dtype, broadcast_to x's own shape: the value itself."""
    return _alias(node, node.inputs[0], context)


def _reduced_axes(axis: Any, ndim: int) -> tuple[int, ...] | None:
    """``axis`` as non-negative axes (an int, a sequence of ints or None: all axes);
    None for anything else (a graph from a file may hold any value that verifies)."""
    if axis is None:
        return tuple(range(ndim))
    items = tuple(axis) if isinstance(axis, tuple | list) else (axis,)
    if not all(isinstance(a, int | np.integer) and -ndim <= a < ndim for a in items):
        return None
    return tuple(int(a) % ndim for a in items)


def _sum_rule(node: Node, context: _Context) -> Result:
    (x,) = node.inputs
    if isinstance(x, Literal) or x not in context.avals or not context.c_contiguous(x):
        return None  # the replacements are views of x: same layout only if x is C order
    shape, dtype = context.avals[x]
    axes = _reduced_axes(node.params.get("axis"), len(shape))
    if axes is None:
        return None
    if (
        all(shape[i] == 1 for i in axes)
        and dtype == node.dtype
        and (dtype.kind in "iu" or (dtype.kind == "f" and context.ignore_signed_zeros))
    ):
        # Summing one element is that element (for floats, but -0.0 becomes 0.0).
        return _reshaped(node, x, shape, context)
    inner = context.producer(x, "broadcast_to")
    if inner is None or isinstance(inner.inputs[0], Literal) or dtype.kind not in "iu":
        return None
    source = inner.inputs[0]
    if not context.c_contiguous(source):
        return None
    source_shape, source_dtype = context.avals[source]
    if source_dtype != node.dtype or source_dtype.itemsize != 8:
        return None  # sums of narrower integers are computed in (and return) int64
    aligned = (1,) * (len(shape) - len(source_shape)) + tuple(source_shape)
    if any((aligned[i] != 1) if i in axes else (aligned[i] != shape[i]) for i in range(len(shape))):
        return None
    count = math.prod(shape[i] for i in axes)
    steps: list[Node] = []
    base: Atom = source
    if tuple(source_shape) != tuple(node.shape):
        base = next(context.fresh)
        steps.append(
            Node(
                "reshape",
                (source,),
                {"shape": tuple(node.shape)},
                (base,),
                (node.shape,),
                (node.dtype,),
            )
        )
    return [
        *steps,
        Node("multiply", (base, Literal(count)), {}, node.outputs, node.shapes, node.dtypes),
    ]


def _reshaped(node: Node, x: int, shape: tuple[int, ...], context: _Context) -> Result:
    """``x`` (of ``shape``) reshaped to the node's shape: an alias or a reshape node."""
    if tuple(shape) == tuple(node.shape):
        return _alias(node, x, context)
    return [
        Node("reshape", (x,), {"shape": tuple(node.shape)}, node.outputs, node.shapes, node.dtypes)
    ]


#: The rule of each primitive that has one.
RULES: dict[str, Rule] = {
    "multiply": _multiply_rule,
    "divide": _divide_rule,
    "add": _add_rule,
    "subtract": _subtract_rule,
    "negative": _involution_rule,
    "logical_not": _involution_rule,
    "identity": _identity_rule,
    "stop_gradient": _stop_gradient_rule,
    "transpose": _transpose_rule,
    "reshape": _reshape_rule,
    "cast": _same_value_rule,
    "broadcast_to": _same_value_rule,
    "sum": _sum_rule,
}
