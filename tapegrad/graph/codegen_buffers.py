"""Which arrays generated code writes into, and which it must copy before handing them out.

`codegen` plans buffers once (`passes/buffers.py`): persistent buffers (``_s0``, ...) are
globals of the generated module, allocated at compile time and reused by every call, so a
steady-state step takes its results' memory from them instead of the allocator (no page
faults once the heap would have been trimmed between steps). This module holds the parts
of code generation about those arrays:

* the ``out=`` text of a step, *guarded* where the result layout of an input is known only
  at run time (after a kernel, einsum): the buffer is used when the inputs are C-ordered,
  where NumPy's own result would be C-ordered too; else NumPy allocates, as it would;
* the values that may therefore sit in an array of unknown layout (fused kernels, which
  write their outputs flat, never write in place into those);
* the return line: outputs that may live in a buffer the next call reuses, in a constant
  or in a Variable's array go out as copies, so nothing handed out is overwritten later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.graph.ir import Graph, Literal, Node
from tapegrad.graph.passes.buffers import BufferPlan, Placement

Roots = Callable[[int], frozenset[Any]]


def out_text(placement: Placement, guard: list[int] | None, names: dict[int, str]) -> str:
    """``", out=..."`` for a result placed at ``placement`` (``""``: NumPy allocates).

    Args:
        placement: The plan's placement of the result.
        guard: Inputs whose run-time C order decides whether the buffer is used.
        names: Value id -> its name in the generated code.

    Returns:
        The keyword text to append to the call's arguments.

    Examples:
        >>> out_text(("slot", 3), None, {})
        ', out=_s3'
        >>> out_text(("slot", 0), [7], {7: "t7"})
        ', out=(_s0 if t7.flags.c_contiguous else None)'
        >>> out_text(("new",), None, {})
        ''
    """
    if placement[0] == "slot":
        target = f"_s{placement[1]}"
    elif placement[0] == "share":
        target = names[placement[1]]
    else:
        return ""
    if guard:
        test = " and ".join(f"{names[a]}.flags.c_contiguous" for a in guard)
        return f", out=({target} if {test} else None)"
    return f", out={target}"


def unsure_arrays(plan: BufferPlan, guarded: set[int] | dict[int, Any]) -> set[int]:
    """Values planned into a buffer that may be in an array NumPy allocated instead:
    guarded results whose guard failed, and results written in place over them.

    Examples:
        >>> from tapegrad.graph.passes.buffers import BufferPlan
        >>> plan = BufferPlan([], {1: ("slot", 0), 2: ("share", 1), 3: ("slot", 1)}, {}, {})
        >>> sorted(unsure_arrays(plan, {1}))
        [1, 2]
    """
    unsure: set[int] = set()
    for value, where in plan.placement.items():  # (in the order of the steps)
        if value in guarded or (where[0] == "share" and where[1] in unsure):
            unsure.add(value)
    return unsure


def storage_roots(
    plan: BufferPlan, producer: dict[int, Node], kind: Callable[[Node], str]
) -> Roots:
    """value -> the set of arrays (storage keys) it may live in."""
    storage = plan.storage
    memo: dict[int, frozenset[Any]] = {}

    def of(value: int) -> frozenset[Any]:
        if value in memo:
            return memo[value]
        node = producer.get(value)
        if value in storage:
            found = frozenset([storage[value]])
        elif node is None:
            found = frozenset([("external", value)])
        elif kind(node) == "alias":
            found = frozenset().union(*(of(a) for a in node.inputs if not isinstance(a, Literal)))
        else:
            found = frozenset([("fresh", value)])
        memo[value] = found
        return found

    return of


def return_line(
    graph: Graph,
    plan: BufferPlan,
    names: dict[int, str],
    roots: Roots,
    param: Callable[[Any], str],
) -> str:
    """The generated ``return [outputs], [updates]`` line, copying what is not the
    caller's to keep (see the module docstring)."""
    claimed: set[Any] = set()
    updates = []
    for key, atom in graph.updates.items():
        if isinstance(atom, Literal):
            updates.append(param(atom.value))
            continue
        name = names[atom]
        mine = roots(atom)
        if atom == key or plan.in_place_updates.get(key) == atom:
            claimed |= mine
            updates.append(name)
        elif mine & claimed or any(r[0] == "external" for r in mine):
            updates.append(f"_copy({name})")  # the caller's or another update's array
        else:
            claimed |= mine
            updates.append(name)
    outputs = []
    constants = {("external", c) for c in graph.constants}
    # The Variables' input arrays (the updated ones among them).
    variables = {("external", s.id) for s in graph.variable_inputs}
    for atom in graph.outputs:
        if isinstance(atom, Literal):
            outputs.append(param(atom.value))
            continue
        name = names[atom]
        mine = roots(atom)
        # Arrays the next call writes into, our constants and the Variables' arrays
        # (which their owners may update in place) go out as copies.
        unsafe = mine & (claimed | constants | variables)
        outputs.append(f"_copy({name})" if unsafe else name)
    return f"    return [{', '.join(outputs)}], [{', '.join(updates)}]"


def copy_array(value: Any) -> Any:
    """A copy of ``value`` (generated code's ``_copy``)."""
    return np.array(value, copy=True)


def own_array(array: np.ndarray) -> np.ndarray:
    """``array`` if the compiled code may write into it, else a C-ordered copy (generated
    code's ``_own``)."""
    flags = array.flags
    if flags.c_contiguous and flags.writeable:
        return array
    return np.array(array, order="C", copy=True)


__all__ = [
    "copy_array",
    "out_text",
    "own_array",
    "return_line",
    "storage_roots",
    "unsure_arrays",
]
