"""What the code generator learns about a graph before it writes code: the live nodes,
the value names, shapes and dtypes, which values NumPy lays out in C order, and the two
rewrites it applies (paired primitives computed by one call; ``add`` of an ``index_add``
written as an in-place slice update). Facts about primitives come from their records."""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core.primitive import PRIMITIVES
from tapegrad.graph.ir import Graph, Literal
from tapegrad.graph.passes.fusion import FusionGroup, Unit

Shape = tuple[int, ...]
Avals = dict[int, tuple[Shape, np.dtype]]


def live_nodes(graph: Graph) -> list[int]:
    """Indices of the nodes something returned depends on (and stateful ones)."""
    needed = {a for a in [*graph.outputs, *graph.updates.values()] if not isinstance(a, Literal)}
    keep: list[int] = []
    for index in range(len(graph.nodes) - 1, -1, -1):
        node = graph.nodes[index]
        if PRIMITIVES[node.primitive].stateful or needed.intersection(node.outputs):
            keep.append(index)
            needed.update(a for a in node.inputs if not isinstance(a, Literal))
    return keep[::-1]


def c_ordered(graph: Graph, avals: Avals) -> dict[int, bool]:
    """Whether NumPy would lay each value out in C order (arguments assumed C)."""
    layout: dict[int, bool] = {spec.id: True for spec in graph.inputs}
    for value_id, value in graph.constants.items():
        arr = np.asarray(value)
        layout[value_id] = arr.ndim <= 1 or bool(arr.flags.c_contiguous)
    for node in graph.nodes:
        reads = [a for a in node.inputs if not isinstance(a, Literal)]
        inputs_c = all(layout.get(v, False) for v in reads)
        prim = PRIMITIVES[node.primitive]
        if prim.c_order is not None:
            shapes = [avals[v][0] for v in reads]
            c = bool(prim.c_order(inputs_c, shapes, tuple(node.shape), node.params))
        elif prim.ufunc is not None or prim.returns in ("fresh_like_inputs", "view", "input"):
            c = inputs_c
        else:
            c = False
        for out, shape in zip(node.outputs, node.shapes, strict=True):
            layout[out] = c or len(shape) <= 1
    return layout


def find_paired(graph: Graph, units: list[Unit]) -> dict[int, int]:
    """Nodes whose primitive declares ``paired_with`` (the cross-entropy) -> the
    partner node on the same inputs (its delta)."""
    first: dict[tuple[str, tuple[Any, ...]], int] = {}
    paired: dict[int, int] = {}
    for unit in units:
        if not isinstance(unit, int):
            continue
        node = graph.nodes[unit]
        if node.params or any(isinstance(a, Literal) for a in node.inputs):
            continue
        if PRIMITIVES[node.primitive].paired_with is not None:
            first.setdefault((node.primitive, node.inputs), unit)
        for (loss_name, inputs), loss in first.items():
            partner = PRIMITIVES[loss_name].paired_with[0]  # type: ignore[index]
            if inputs == node.inputs and node.primitive == partner.name and loss not in paired:
                paired[loss] = unit
    return paired


def find_scatter_adds(
    graph: Graph, units: list[Unit], avals: Avals, layout: dict[int, bool]
) -> dict[int, tuple[int, int]]:
    """``add`` nodes whose one operand is an ``index_add`` read by nothing else.

    Returns:
        add node index -> (index_add node index, position of the other operand).
        Only basic indices (slices, ints): there ``x + zeros-with-g-at-idx`` equals
        ``x[idx] += g`` element for element (up to the sign of a zero sum: -0.0 in
        ``x`` stays -0.0); advanced indices with repeats would add in another order.
    """
    uses: dict[int, int] = {}
    for unit in units:
        nodes = unit.nodes if isinstance(unit, FusionGroup) else (unit,)
        for index in nodes:
            for atom in graph.nodes[index].inputs:
                if not isinstance(atom, Literal):
                    uses[atom] = uses.get(atom, 0) + 1
    for atom in [*graph.outputs, *graph.updates.values()]:
        if not isinstance(atom, Literal):
            uses[atom] = uses.get(atom, 0) + 2
    position = {
        graph.nodes[u].outputs[0]: u
        for u in units
        if isinstance(u, int) and len(graph.nodes[u].outputs) == 1
    }
    found: dict[int, tuple[int, int]] = {}
    for unit in units:
        if not isinstance(unit, int):
            continue
        node = graph.nodes[unit]
        if PRIMITIVES[node.primitive].ufunc is not np.add or len(node.inputs) != 2 or node.params:
            continue
        for k in (1, 0):
            atom, other = node.inputs[k], node.inputs[1 - k]
            if isinstance(atom, Literal) or isinstance(other, Literal):
                continue
            producer = position.get(atom)
            if producer is None or producer in {i for i, _ in found.values()}:
                continue
            scatter = graph.nodes[producer]
            index_param = PRIMITIVES[scatter.primitive].scatter_index
            if (
                index_param is None
                or uses.get(atom) != 1
                or isinstance(scatter.inputs[0], Literal)
                or not _basic_index(scatter.params.get(index_param))
            ):
                continue
            if (
                avals[other] != (node.shape, node.dtype)
                or avals[atom] != avals[other]
                or not layout[other]
            ):
                continue
            found[unit] = (producer, 1 - k)
            break
    return found


def _basic_index(index: Any) -> bool:
    """A tuple of ints, slices, None and Ellipsis (indexing gives a view)."""
    return isinstance(index, tuple) and all(
        i is None or i is Ellipsis or isinstance(i, int | slice | np.integer) for i in index
    )


def avals_of(graph: Graph) -> dict[int, tuple[Shape, np.dtype]]:
    avals: dict[int, tuple[Shape, np.dtype]] = {
        spec.id: (tuple(spec.shape), np.dtype(spec.dtype)) for spec in graph.inputs
    }
    for value_id, value in graph.constants.items():
        avals[value_id] = (np.shape(value), np.asarray(value).dtype)
    for node in graph.nodes:
        for out, shape, dtype in zip(node.outputs, node.shapes, node.dtypes, strict=True):
            avals[out] = (tuple(shape), np.dtype(dtype))
    return avals


__all__ = [
    "Avals",
    "avals_of",
    "c_ordered",
    "find_paired",
    "find_scatter_adds",
    "live_nodes",
]
