"""Constant folding: compute at compile time what depends on constants only."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.core.primitive import PRIMITIVES
from tapegrad.graph.ir import Graph, Literal, Node
from tapegrad.graph.passes.rewrite import rebuild

#: Folded results above this many elements stay nodes unless they are smaller than
#: their inputs (a large constant costs memory and serialized size, a node costs time).
MAX_FOLDED_ELEMENTS = 1_000_000


def fold_constants(graph: Graph, *, max_elements: int = MAX_FOLDED_ELEMENTS) -> Graph:
    """Replace each node whose inputs are all constants or literals by its result.

    The node is run with its primitive's NumPy implementation (floating-point warnings
    silenced: the values are what the graph computes at run time too, NaN or inf
    included) and its results become constants under the node's own value ids, so
    outputs and updates need no rewiring. Skipped: stateful primitives (a random draw
    must differ on every call), nodes whose implementation raises (the error belongs to
    run time), results not matching the recorded shape and dtype, and results above
    ``max_elements`` unless they are no larger than their inputs together. A
    `broadcast_to` of a one-element constant above the limit becomes a read-only
    broadcast view (one element of memory).

    Args:
        graph: The graph (left unchanged; folded constants are fresh arrays).
        max_elements: Size limit of a folded result.

    Returns:
        A graph computing the same outputs and updates, bit for bit. The constants it
        no longer reads are left to `eliminate_dead_code`.

    Examples:
        >>> import numpy as np
        >>> from tapegrad.graph import Graph, Input, Literal, Node
        >>> f32 = np.dtype(np.float32)
        >>> graph = Graph(
        ...     [Input(0, "arg", (2,), f32)],
        ...     [Node("exp", (1,), {}, (2,), ((2,),), (f32,)),
        ...      Node("multiply", (2, Literal(2.0)), {}, (3,), ((2,),), (f32,)),
        ...      Node("add", (0, 3), {}, (4,), ((2,),), (f32,))],
        ...     [4], constants={1: np.zeros(2, f32)})
        >>> print(fold_constants(graph))
        { lambda c0:f32[2] c1:f32[2] c2:f32[2] ; x0:f32[2] . let
            t0:f32[2] = add x0 c2
          in t0 }
    """
    constants = dict(graph.constants)
    nodes: list[Node] = []
    for node in graph.nodes:
        folded = _fold(node, constants, max_elements)
        if folded is None:
            nodes.append(node)
        else:
            constants.update(zip(node.outputs, folded, strict=True))
    return rebuild(graph, nodes, constants=constants)


def _fold(node: Node, constants: dict[int, np.ndarray],
          max_elements: int) -> tuple[np.ndarray, ...] | None:
    """The node's results as constants, or None where it must stay a node."""
    prim = PRIMITIVES.get(node.primitive)
    if prim is None or prim.stateful:
        return None
    if not all(isinstance(a, Literal) or a in constants for a in node.inputs):
        return None
    values = [a.value if isinstance(a, Literal) else constants[a] for a in node.inputs]
    result_size = sum(math.prod(shape) for shape in node.shapes)
    input_size = sum(int(np.size(v)) for v in values if isinstance(v, np.ndarray))
    if result_size > max_elements and result_size > input_size:
        return _broadcast_view(node, values)
    try:
        with np.errstate(all="ignore"):
            result = prim.impl(*values, **node.params)
    except Exception:  # noqa: BLE001 - whatever the op raises, it raises at run time too
        return None
    results = tuple(result) if prim.multiple_results else (result,)
    if len(results) != len(node.outputs):
        return None
    arrays = []
    for value, shape, dtype in zip(results, node.shapes, node.dtypes, strict=True):
        # A copy: a view would tie the constant to another constant's buffer.
        array = np.array(value, copy=True)
        if array.shape != tuple(shape) or array.dtype != dtype:
            return None
        arrays.append(array)
    return tuple(arrays)


def _broadcast_view(node: Node, values: list[Any]) -> tuple[np.ndarray, ...] | None:
    """A large `broadcast_to` of one element as a zero-stride read-only view."""
    if node.primitive != "broadcast_to" or len(values) != 1:
        return None
    source = np.asarray(values[0])
    if source.size != 1 or source.dtype != node.dtype:
        return None
    return (np.broadcast_to(source.reshape(()), tuple(node.shape)),)
