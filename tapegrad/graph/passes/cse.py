"""Common-subexpression elimination: compute each distinct value once."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from tapegrad.core.primitive import PRIMITIVES
from tapegrad.graph.ir import Atom, Graph, Literal, Node
from tapegrad.graph.passes.rewrite import rebuild, remap_node

# Binary ops whose result is bit-identical with the arguments swapped (IEEE addition and
# multiplication commute exactly; comparisons and logical/bitwise ops trivially).
# maximum/minimum are left out: which of -0.0 and 0.0 they return depends on the order.
COMMUTATIVE = frozenset(
    {
        "add",
        "multiply",
        "equal",
        "not_equal",
        "logical_and",
        "logical_or",
        "logical_xor",
        "bitwise_and",
        "bitwise_or",
        "bitwise_xor",
    }
)


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """Merge nodes that compute the same thing, and constants that hold the same array.

    Two nodes merge when they call the same primitive on the same values with the same
    params (and record the same shapes and dtypes); the later one's results are replaced
    by the earlier one's. Literals and params compare *bit for bit* with their type —
    stricter than `compare.values_equal`, which treats ``-0.0`` and ``0.0`` as equal, so
    ``x * -0.0`` never merges with ``x * 0.0``. Arguments of `COMMUTATIVE` ops are
    compared as a set. Constants merge when dtype, shape, strides and bytes are equal. Stateful
    primitives (random draws) never merge: two draws are two different values.

    Args:
        graph: The graph (left unchanged).

    Returns:
        A graph computing the same outputs and updates, bit for bit. The merged-away
        nodes are gone; nodes only they read are left to `eliminate_dead_code`.

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> from tapegrad.graph import trace
        >>> graph = trace(lambda x: tnp.exp(x * 2.0) + tnp.exp(2.0 * x), tg.tensor([1.0]))
        >>> print(eliminate_common_subexpressions(graph))
        { lambda ; x0:f32[1] . let
            t0:f32[1] = multiply x0 2.0
            t1:f32[1] = exp t0
            t2:f32[1] = add t1 t1
          in t2 }
    """
    replacements: dict[int, Atom] = {}
    constants: dict[int, np.ndarray] = {}
    first_constant: dict[Any, int] = {}
    for value_id, value in graph.constants.items():
        key = _array_key(np.asarray(value))
        first = first_constant.setdefault(key, value_id) if key is not None else value_id
        if first == value_id:
            constants[value_id] = value
        else:
            replacements[value_id] = first
    first_node: dict[Any, Node] = {}
    nodes: list[Node] = []
    for node in graph.nodes:
        node = remap_node(node, replacements)
        prim = PRIMITIVES.get(node.primitive)
        key = None if prim is None or prim.stateful else _node_key(node)
        earlier = first_node.setdefault(key, node) if key is not None else node
        if earlier is node:
            nodes.append(node)
        else:
            replacements.update(zip(node.outputs, earlier.outputs, strict=True))
    return rebuild(graph, nodes, replacements, constants)


def _node_key(node: Node) -> Any:
    """A hashable key equal for nodes computing the same values (None: never merge)."""
    inputs = [_atom_key(a) for a in node.inputs]
    params = [(name, value_key(value)) for name, value in sorted(node.params.items())]
    if any(k is None for k in inputs) or any(k is None for _, k in params):
        return None
    if node.primitive in COMMUTATIVE and len(inputs) == 2:
        inputs.sort(key=repr)  # repr: keys of ids and literals are not mutually ordered
    return (
        node.primitive,
        tuple(inputs),
        tuple(params),
        tuple(map(tuple, node.shapes)),
        tuple(np.dtype(d).str for d in node.dtypes),
    )


def _atom_key(atom: Atom) -> Any:
    if isinstance(atom, Literal):
        key = value_key(atom.value)
        return None if key is None else ("literal", key)
    return ("value", atom)


def value_key(value: Any) -> Any:
    """A hashable key, equal only for values of the same type with the same bits.

    Floats compare by their IEEE bits (``-0.0`` differs from ``0.0``; NaNs by payload),
    arrays by dtype, shape and bytes; None is returned for values that cannot be keyed
    (object arrays, unhashable objects), which then never merge.

    Examples:
        >>> value_key(0.0) == value_key(-0.0), value_key(1) == value_key(True)
        (False, False)
        >>> value_key((1, slice(None, 2))) == value_key((1, slice(None, 2)))
        True
    """
    if isinstance(value, np.ndarray):
        return _array_key(value)
    if isinstance(value, np.generic):
        return _array_key(np.asarray(value), type(value))
    if isinstance(value, float):
        return (float, struct.pack("<d", value))
    if isinstance(value, complex):
        return (complex, struct.pack("<dd", value.real, value.imag))
    if isinstance(value, tuple | list):
        keys = [value_key(v) for v in value]
        return None if any(k is None for k in keys) else (type(value), tuple(keys))
    if isinstance(value, dict):
        items = [(k, value_key(v)) for k, v in value.items()]
        if any(k is None for _, k in items):
            return None
        return (dict, tuple(sorted(items, key=repr)))
    if isinstance(value, slice):
        parts = value_key((value.start, value.stop, value.step))
        return None if parts is None else (slice, parts)
    try:
        hash(value)
    except TypeError:
        return None
    return (type(value), value)


def _array_key(array: np.ndarray, kind: Any = np.ndarray) -> Any:
    if array.dtype.hasobject or (array.size > 1 and 0 in array.strides):
        return None  # object identities; a broadcast view would be expanded to hash it
    # The strides too: one array's layout for another's would change the order in which
    # later NumPy reductions add (see simplify.py).
    return (kind, array.dtype.str, array.shape, array.strides, array.tobytes())
