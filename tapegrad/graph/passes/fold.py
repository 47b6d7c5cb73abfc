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
    `broadcast_to` of a one-element constant is folded at any size: a large one is a
    read-only zero-stride view (one element of memory), as at run time.

    Args:
        graph: The graph (left unchanged; a folded constant may be a view of one of its
            constants, as it is at run time).
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


def _fold(
    node: Node, constants: dict[int, np.ndarray], max_elements: int
) -> tuple[np.ndarray, ...] | None:
    """The node's results as constants, or None where it must stay a node."""
    prim = PRIMITIVES.get(node.primitive)
    if prim is None or prim.stateful:
        return None
    if not all(isinstance(a, Literal) or a in constants for a in node.inputs):
        return None
    values = [a.value if isinstance(a, Literal) else constants[a] for a in node.inputs]
    result_size = sum(math.prod(shape) for shape in node.shapes)
    input_size = sum(int(np.size(v)) for v in values if isinstance(v, np.ndarray))
    if result_size > max_elements and result_size > input_size and not _is_fill(node, values):
        return None
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
        # Kept as computed, views included: a copy could change the memory layout, and
        # with it the order in which later NumPy reductions add (see simplify.py).
        array = np.asarray(value)
        if array.shape != tuple(shape) or array.dtype != dtype:
            return None
        arrays.append(array)
    return tuple(arrays)


def _is_fill(node: Node, values: list[Any]) -> bool:
    """A `broadcast_to` of one element: large ones are zero-stride views (no memory)."""
    return node.primitive == "broadcast_to" and len(values) == 1 and int(np.size(values[0])) == 1
