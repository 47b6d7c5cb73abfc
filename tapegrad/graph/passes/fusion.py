"""Fusion: groups of elementwise nodes of one shape that can run as one kernel.

A group is a set of nodes (a chain or any DAG) whose results all have the same shape; it
reads values from outside (arguments, constants, results of other nodes), computes its
members element by element, and writes only the values that something outside reads.
Running it as one kernel means running all its members at one point of the program, so
grouping must not create a cycle through the rest of the graph: a node never joins a
group that one of its other inputs depends on.

`fuse_elementwise` forms the groups greedily in execution order (a node joins the group
of one of its producers when the shapes match and no cycle arises) and returns a new
execution order (`schedule`) in which each group is one unit placed where its inputs are
ready. The pass does not change the graph; code generation decides how each group runs.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Collection, Sequence
from typing import Any

from tapegrad.graph.ir import Graph, Literal, Node

Shape = tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class FusionGroup:
    """Elementwise nodes that run as one kernel.

    Attributes:
        nodes: Indices into ``graph.nodes``, in a valid execution order.
        shape: The shape of every member's result.
        inputs: Value ids read from outside the group, in first-use order.
        outputs: Member results read outside the group (or returned by the graph).
    """

    nodes: tuple[int, ...]
    shape: Shape
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


# A unit of the schedule: one node index, or one group.
Unit = int | FusionGroup


def fuse_elementwise(
    graph: Graph,
    *,
    key: Callable[[Node], Any],
    live: Collection[int] | None = None,
    max_inputs: int = 8,
    max_outputs: int = 8,
    min_size: int = 2,
) -> tuple[list[FusionGroup], list[Unit]]:
    """Group fusible nodes and schedule the groups.

    Args:
        graph: The graph.
        key: None for a node that cannot be fused (not elementwise, no kernel for
            it), else a key: only nodes with equal keys and result shapes share a
            group (code generation puts the computation dtype in it).
        live: Indices of the nodes to run, in order (default: all of them).
        max_inputs: Most values a group may read from outside.
        max_outputs: Most values a group may write for the outside.
        min_size: Smaller groups are left as single nodes.

    Returns:
        ``(groups, schedule)``: the groups, and the execution order as a list of units
        (node indices and groups).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> from tapegrad.graph import trace
        >>> graph = trace(lambda x: tnp.sum(tnp.tanh(x * 2.0 + 1.0)), np.ones(3, np.float32))
        >>> key = lambda node: None if node.primitive == "sum" else node.dtype
        >>> groups, order = fuse_elementwise(graph, key=key)
        >>> [(g.nodes, g.shape) for g in groups], order[-1]
        ([((0, 1, 2), (3,))], 3)
    """
    order = list(range(len(graph.nodes))) if live is None else list(live)
    producer: dict[int, int] = {}
    for index in order:
        for out in graph.nodes[index].outputs:
            producer[out] = index
    group_of: dict[int, int] = {}  # node index -> group number
    members: list[list[int]] = []
    group_inputs: list[set[int]] = []
    group_keys: list[Any] = []
    # Sets of groups are int bitmasks (bit g: group g): unions are single C operations.
    # value id -> groups it depends on when it is computed. Groups grow later, so a value
    # may depend on more: what it needs is the closure of this mask through the groups.
    ancestors: dict[int, int] = {}
    deps = _GroupDeps()
    for index in order:
        node = graph.nodes[index]
        reads = [a for a in node.inputs if not isinstance(a, Literal)]
        depends = 0
        for v in reads:
            depends |= ancestors.get(v, 0)
        chosen = None
        node_key = key(node) if len(node.outputs) == 1 else None
        if node_key is not None:
            chosen = _pick_group(
                graph,
                node,
                node_key,
                reads,
                producer,
                group_of,
                members,
                group_keys,
                group_inputs,
                ancestors,
                deps,
                max_inputs,
            )
            if chosen is None:
                chosen = len(members)
                members.append([])
                group_inputs.append(set())
                group_keys.append(node_key)
                deps.new_group()
            members[chosen].append(index)
            group_of[index] = chosen
            outside = [v for v in reads if group_of.get(producer.get(v, -1)) != chosen]
            group_inputs[chosen].update(outside)
            needed = 0
            for v in outside:
                needed |= ancestors.get(v, 0)
            deps.add(chosen, needed)
            depends |= 1 << chosen
        for out in node.outputs:
            ancestors[out] = depends
    escaping = _read_outside(graph, order, group_of)
    groups: list[FusionGroup] = []
    for nodes in members:
        for part in _split(graph, nodes, group_of, escaping, max_outputs):
            if len(part) >= min_size:
                groups.append(_describe(graph, part, escaping))
    return groups, schedule(graph, order, groups)


def _pick_group(
    graph: Graph,
    node: Node,
    node_key: Any,
    reads: list[int],
    producer: dict[int, int],
    group_of: dict[int, int],
    members: list[list[int]],
    group_keys: list[Any],
    group_inputs: list[set[int]],
    ancestors: dict[int, int],
    deps: _GroupDeps,
    max_inputs: int,
) -> int | None:
    """The most recent producer group ``node`` can join without a cycle, if any."""
    candidates = sorted(
        {group_of[producer[v]] for v in reads if producer.get(v) in group_of}, reverse=True
    )
    for group in candidates:
        first = graph.nodes[members[group][0]]
        if first.shape != node.shape or group_keys[group] != node_key:
            continue
        outside = [v for v in reads if group_of.get(producer.get(v, -1)) != group]
        needed = 0
        for v in outside:
            needed |= ancestors.get(v, 0)
        if deps.reaches(needed, group):
            continue  # an input computed outside depends on the group: a cycle
        if len(group_inputs[group] | set(outside)) > max_inputs:
            continue
        return group
    return None


class _GroupDeps:
    """Which groups each group depends on, transitively, as int bitmasks.

    ``deps[g]`` is closed (it holds the dependencies of its dependencies) and ``rdeps[a]``
    is its transpose (the groups whose ``deps`` hold ``a``), both kept up to date as
    groups gain members, so "does a mask of groups depend on group g?" is one AND.
    """

    def __init__(self) -> None:
        self.deps: list[int] = []
        self.rdeps: list[int] = []

    def new_group(self) -> None:
        self.deps.append(0)
        self.rdeps.append(0)

    def reaches(self, mask: int, group: int) -> bool:
        """Whether the groups of ``mask`` are ``group`` or depend on it."""
        return bool(mask & ((1 << group) | self.rdeps[group]))

    def add(self, group: int, mask: int) -> None:
        """``group`` now also depends on the groups of ``mask`` (and what they depend on)."""
        mask &= ~((1 << group) | self.deps[group])
        if not mask:
            return
        closed = mask
        for a in _bits(mask):
            closed |= self.deps[a]
        # Everything depending on `group` now depends on `closed` too.
        for h in (group, *_bits(self.rdeps[group])):
            added = closed & ~self.deps[h] & ~(1 << h)
            if added:
                self.deps[h] |= added
                for a in _bits(added):
                    self.rdeps[a] |= 1 << h


#: The set bits of each byte value.
_BYTE_BITS = [tuple(i for i in range(8) if byte >> i & 1) for byte in range(256)]


def _bits(mask: int) -> list[int]:
    """Indices of the set bits of ``mask``, in increasing order."""
    if mask.bit_count() * 32 < mask.bit_length():
        found = []  # few bits: peel them off one by one
        while mask:
            low = mask & -mask
            found.append(low.bit_length() - 1)
            mask ^= low
        return found
    # Many bits (a long unrolled graph's dependency masks): a byte at a time, since each
    # big-integer operation of the loop above costs time in the mask's length.
    data = mask.to_bytes((mask.bit_length() + 7) // 8, "little")
    return [8 * k + i for k, byte in enumerate(data) if byte for i in _BYTE_BITS[byte]]


def _read_outside(graph: Graph, order: Sequence[int], group_of: dict[int, int]) -> set[int]:
    """Values read by a node of another group (or none), or returned by the graph."""
    producer_group = {
        out: group_of[i] for i in order if i in group_of for out in graph.nodes[i].outputs
    }
    escaping = {a for a in [*graph.outputs, *graph.updates.values()] if not isinstance(a, Literal)}
    for index in order:
        for atom in graph.nodes[index].inputs:
            if isinstance(atom, Literal) or atom not in producer_group:
                continue
            if group_of.get(index) != producer_group[atom]:
                escaping.add(atom)
    return escaping


def _split(
    graph: Graph, nodes: list[int], group_of: dict[int, int], escaping: set[int], max_outputs: int
) -> list[list[int]]:
    """Split a group in execution-order halves until each writes few enough values."""
    inside = set(nodes)
    writes = sum(graph.nodes[index].outputs[0] in escaping for index in nodes)
    if writes <= max_outputs or len(nodes) < 2:
        return [nodes]
    half = len(nodes) // 2
    first, second = nodes[:half], nodes[half:]
    # Values of the first half read by the second now leave the first half's kernel.
    for index in second:
        for atom in graph.nodes[index].inputs:
            if not isinstance(atom, Literal) and any(
                atom in graph.nodes[i].outputs for i in first if i in inside
            ):
                escaping.add(atom)
    return [
        *_split(graph, first, group_of, escaping, max_outputs),
        *_split(graph, second, group_of, escaping, max_outputs),
    ]


def _describe(graph: Graph, nodes: list[int], escaping: set[int]) -> FusionGroup:
    produced = {graph.nodes[i].outputs[0] for i in nodes}
    inputs: list[int] = []
    for index in nodes:
        for atom in graph.nodes[index].inputs:
            if not isinstance(atom, Literal) and atom not in produced and atom not in inputs:
                inputs.append(atom)
    outputs = tuple(
        graph.nodes[i].outputs[0] for i in nodes if graph.nodes[i].outputs[0] in escaping
    )
    return FusionGroup(tuple(nodes), graph.nodes[nodes[0]].shape, tuple(inputs), outputs)


def schedule(graph: Graph, order: Sequence[int], groups: Sequence[FusionGroup]) -> list[Unit]:
    """An execution order with each group as one unit, as close to ``order`` as possible.

    Args:
        graph: The graph.
        order: Node indices in a valid execution order.
        groups: Disjoint groups of those nodes (acyclic, as `fuse_elementwise` forms them).

    Returns:
        Units (node indices and groups) in which every value is computed before it is read.
    """
    unit_of: dict[int, int] = {}
    units: list[Unit] = []
    position: dict[int, int] = {index: k for k, index in enumerate(order)}
    for group in groups:
        for index in group.nodes:
            unit_of[index] = len(units)
        units.append(group)
    for index in order:
        if index not in unit_of:
            unit_of[index] = len(units)
            units.append(index)
    producer_unit = {out: unit_of[i] for i in order for out in graph.nodes[i].outputs}
    waiting_on: list[set[int]] = [set() for _ in units]
    readers: list[set[int]] = [set() for _ in units]
    for k, unit in enumerate(units):
        for index in unit.nodes if isinstance(unit, FusionGroup) else (unit,):
            for atom in graph.nodes[index].inputs:
                source = None if isinstance(atom, Literal) else producer_unit.get(atom)
                if source is not None and source != k:
                    waiting_on[k].add(source)
                    readers[source].add(k)

    def rank(k: int) -> int:
        unit = units[k]
        return (
            min(position[i] for i in unit.nodes)
            if isinstance(unit, FusionGroup)
            else position[unit]
        )

    ready = [(rank(k), k) for k in range(len(units)) if not waiting_on[k]]
    heapq.heapify(ready)
    result: list[Unit] = []
    while ready:
        _, k = heapq.heappop(ready)
        result.append(units[k])
        for reader in readers[k]:
            waiting_on[reader].discard(k)
            if not waiting_on[reader]:
                heapq.heappush(ready, (rank(reader), reader))
    if len(result) != len(units):
        raise ValueError("fusion: the groups form a cycle with the rest of the graph")
    return result


__all__ = ["FusionGroup", "Unit", "fuse_elementwise", "schedule"]
