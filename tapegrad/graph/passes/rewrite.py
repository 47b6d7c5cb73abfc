"""Helpers the passes share: value shapes and dtypes, substitution of values, rebuilding.

A pass walks the nodes of a graph once and records *replacements* (value id -> the atom
that now stands for it). `remap_node` applies them to a node's inputs as the walk
reaches it; `rebuild` applies them to the outputs and updates and returns the new graph.
Nodes that do not change are reused as they are (the pipeline's fixed-point test in
`optimize` relies on that).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tapegrad.graph.ir import Atom, Graph, Literal, Node, Shape

Aval = tuple[Shape, np.dtype]


def value_avals(graph: Graph) -> dict[int, Aval]:
    """Value id -> (shape, dtype) for the inputs, constants and node results of ``graph``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.graph import trace
        >>> avals = value_avals(trace(lambda x: x.sum(), tg.tensor([1.0, 2.0])))
        >>> sorted((k, s, d.name) for k, (s, d) in avals.items())
        [(0, (2,), 'float32'), (1, (), 'float32')]
    """
    avals: dict[int, Aval] = {
        spec.id: (tuple(spec.shape), np.dtype(spec.dtype)) for spec in graph.inputs
    }
    for value_id, value in graph.constants.items():
        avals[value_id] = (tuple(np.shape(value)), np.asarray(value).dtype)
    for node in graph.nodes:
        for out_id, shape, dtype in zip(node.outputs, node.shapes, node.dtypes, strict=True):
            avals[out_id] = (tuple(shape), np.dtype(dtype))
    return avals


def next_free_id(graph: Graph) -> int:
    """A value id above every id ``graph`` defines (for nodes a pass creates)."""
    ids = [spec.id for spec in graph.inputs] + list(graph.constants)
    ids += [out_id for node in graph.nodes for out_id in node.outputs]
    return max(ids, default=-1) + 1


def resolve(atom: Atom, replacements: dict[int, Atom]) -> Atom:
    """The atom that stands for ``atom`` once ``replacements`` are applied (chains too)."""
    while not isinstance(atom, Literal) and atom in replacements:
        atom = replacements[atom]
    return atom


def remap_node(node: Node, replacements: dict[int, Atom]) -> Node:
    """``node`` reading the replacements of its inputs (the same object if none apply)."""
    if not replacements:
        return node
    inputs = tuple(resolve(a, replacements) for a in node.inputs)
    if all(new is old for new, old in zip(inputs, node.inputs, strict=True)):
        return node
    return dataclasses.replace(node, inputs=inputs)


def rebuild(
    graph: Graph,
    nodes: list[Node],
    replacements: dict[int, Atom] | None = None,
    constants: dict[int, np.ndarray] | None = None,
) -> Graph:
    """A copy of ``graph`` with new nodes (and constants), replacements applied throughout.

    Args:
        graph: The graph the pass started from (inputs, trees, Variables are kept).
        nodes: The nodes of the result, in execution order.
        replacements: Value id -> atom, applied to node inputs, outputs and updates.
        constants: The constants of the result (default: those of ``graph``).

    Returns:
        The new graph; ``graph`` is left as it was.
    """
    replacements = replacements or {}
    return Graph(
        graph.inputs,
        [remap_node(node, replacements) for node in nodes],
        [resolve(a, replacements) for a in graph.outputs],
        dict(graph.constants if constants is None else constants),
        graph.in_tree,
        graph.out_tree,
        graph.captured_variables,
        {key: resolve(a, replacements) for key, a in graph.updates.items()},
    )


def used_ids(graph: Graph) -> set[int]:
    """Every value id some node, output or update reads."""
    used = {a for node in graph.nodes for a in node.inputs if not isinstance(a, Literal)}
    used.update(a for a in graph.outputs if not isinstance(a, Literal))
    used.update(a for a in graph.updates.values() if not isinstance(a, Literal))
    return used
