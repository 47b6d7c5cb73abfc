"""Buffer planning: which results of a compiled graph reuse which dead arrays.

Code generation turns a graph into a sequence of *steps* (one primitive call or one fused
kernel each). A step of kind ``"out"`` can write its results into arrays it is handed
(a ufunc with ``out=``, a fused kernel); ``"fresh"`` steps allocate their own results (a
non-ufunc implementation); ``"alias"`` steps may return views of their inputs (reshape,
transpose, getitem, identity, ...).

`plan_buffers` walks the steps once with value liveness and decides, for every result of
an ``"out"`` step, where it goes:

* ``("slot", k)`` — persistent buffer ``k``, allocated once and reused across calls and by
  later values of the same shape and dtype once every value in it is dead;
* ``("share", u)`` — in place, into the array of a value ``u`` read by the same step that
  dies there (elementwise ops may overwrite their own input); ``u`` may also be a
  ``"variable"`` input whose update this is (the optimizer step writes the new weights
  into the old array);
* ``("new",)`` — a new array every call: values that escape the call (outputs, updates
  and everything they may be views of) must never be overwritten by a later call.

Liveness follows aliasing: a view keeps the array it views alive, so a buffer is reused
only when every value that may live in it is dead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

Shape = tuple[int, ...]
Aval = tuple[Shape, np.dtype]
Placement = tuple[Any, ...]

_FOREVER = 1 << 60  # the end of life of values that escape the call


@dataclasses.dataclass(frozen=True)
class Step:
    """One call of the generated code, as buffer planning sees it.

    Args:
        reads: Value ids read (inputs, constants or earlier results).
        writes: Value ids produced.
        avals: ``(shape, dtype)`` of each written value.
        kind: ``"out"`` (results into given arrays), ``"fresh"`` (allocates its results)
            or ``"alias"`` (results may be views of the array inputs).
        shares_contiguous_only: For ``"out"`` steps that index their outputs flat (fused
            kernels): only planned buffers and updated variables may be shared, never
            arrays of unknown layout.
        in_place: An ``"out"`` step may write a result over an input that dies there
            (elementwise ops; not matmul or reductions, where NumPy would copy the
            overlapping input first).
        c_order: The arrays the step would allocate on its own are C-ordered. An
            ``"out"`` step without it always gets new arrays (NumPy lays a ufunc's result
            out like its inputs, and a later reduction adds in memory order, so a C
            buffer in place of a transposed result would change the last bits); a
            ``"fresh"`` step without it never lends its results for in-place writes.
    """

    reads: tuple[int, ...]
    writes: tuple[int, ...]
    avals: tuple[Aval, ...]
    kind: str
    shares_contiguous_only: bool = False
    c_order: bool = True
    in_place: bool = True


@dataclasses.dataclass
class BufferPlan:
    """Where each result of an ``"out"`` step lives (see the module docstring).

    Attributes:
        slots: Shape and dtype of each persistent buffer.
        placement: Value id -> ``("slot", k)``, ``("share", u)`` or ``("new",)``.
        in_place_updates: Variable input id -> update value written into its array.
        storage: Value id -> the array it was written into: ``("slot", k)``,
            ``("fresh", v)`` (allocated for value ``v`` this call) or
            ``("external", v)`` (an input's array).
    """

    slots: list[Aval]
    placement: dict[int, Placement]
    in_place_updates: dict[int, int]
    storage: dict[int, tuple[str, int]]


def plan_buffers(
    steps: Sequence[Step],
    *,
    external: Iterable[int],
    escaping: Iterable[int],
    update_targets: dict[int, int] | None = None,
    reuse: bool = True,
) -> BufferPlan:
    """Assign buffers to the results of ``"out"`` steps by liveness.

    Args:
        steps: The steps in execution order.
        external: Value ids the caller or the graph owns (arguments, variables, constants):
            never written, except a variable into which its own update goes.
        escaping: Values returned to the caller (outputs, variable updates).
        update_targets: Update value id -> variable input id: the update may be written
            into the variable's array once nothing reads the old value any more.
        reuse: False gives every result a new array (no slots, no sharing).

    Returns:
        The plan.

    Examples:
        >>> f32 = np.dtype(np.float32)
        >>> steps = [Step((0,), (1,), (((4,), f32),), "out"),
        ...          Step((1,), (2,), (((4,), f32),), "out"),
        ...          Step((2,), (3,), (((4,), f32),), "out")]
        >>> plan = plan_buffers(steps, external=[0], escaping=[3])
        >>> plan.placement
        {1: ('slot', 0), 2: ('share', 1), 3: ('new',)}
    """
    update_targets = dict(update_targets or {})
    external = set(external)
    escaping = set(escaping)
    producer_kind: dict[int, str] = {}
    avals: dict[int, Aval] = {}
    alias_parents: dict[int, tuple[int, ...]] = {}
    last_use: dict[int, int] = {}
    for index, step in enumerate(steps):
        for value in step.reads:
            last_use[value] = index
        for value, aval in zip(step.writes, step.avals, strict=True):
            producer_kind[value] = step.kind
            avals[value] = (tuple(aval[0]), np.dtype(aval[1]))
            if step.kind == "alias":
                alias_parents[value] = step.reads
    # A value's array lives as long as any view of it: propagate ends to alias parents.
    end: dict[int, int] = {v: last_use.get(v, -1) for v in [*producer_kind, *external]}
    for value in escaping:
        end[value] = _FOREVER
    for value in reversed(list(producer_kind)):
        for parent in alias_parents.get(value, ()):
            end[parent] = max(end.get(parent, -1), end[value])

    slots: list[Aval] = []
    free: dict[Aval, list[int]] = {}
    placement: dict[int, Placement] = {}
    in_place_updates: dict[int, int] = {}
    # storage: value -> (kind, key) of the array it was written into; the end of life of
    # every storage is the latest end of the values placed in it.
    storage: dict[int, tuple[str, int]] = {}
    storage_end: dict[tuple[str, int], int] = {}
    releases: dict[int, list[int]] = {}  # step index -> slots whose storage may end there
    for value in external:
        storage[value] = ("external", value)
    for index, step in enumerate(steps):
        taken: set[int] = set()
        for value, aval in zip(step.writes, step.avals, strict=True):
            if step.kind != "out":
                if step.kind == "fresh" and step.c_order:
                    storage[value] = ("fresh", value)
                    storage_end[storage[value]] = end.get(value, -1)
                continue
            if not reuse or not step.c_order:
                placement[value] = ("new",)
                continue
            aval = avals[value]
            target = update_targets.get(value)
            if target is not None and end.get(target, -1) <= index and target not in taken:
                # The old weights are dead: the new ones go into the same array.
                placement[value] = ("share", target)
                in_place_updates[target] = value
                taken.add(target)
                storage[value] = ("external", target)
                continue
            shared = (
                None
                if not step.in_place
                else _dying_input(
                    step,
                    index,
                    aval,
                    avals,
                    storage,
                    storage_end,
                    end,
                    taken,
                    escapes=end.get(value, -1) == _FOREVER,
                    alias_parents=alias_parents,
                )
            )
            if shared is not None:
                placement[value] = ("share", shared)
                taken.add(shared)
                storage[value] = storage[shared]
                storage_end[storage[value]] = max(storage_end[storage[value]], end.get(value, -1))
                if storage[value][0] == "slot":
                    releases.setdefault(storage_end[storage[value]], []).append(storage[value][1])
            elif end.get(value, -1) == _FOREVER:
                placement[value] = ("new",)
                storage[value] = ("fresh", value)
                storage_end[storage[value]] = _FOREVER
            else:
                pool = free.get(aval)
                slot = pool.pop() if pool else len(slots)
                if slot == len(slots):
                    slots.append(aval)
                placement[value] = ("slot", slot)
                storage[value] = ("slot", slot)
                storage_end[("slot", slot)] = end.get(value, -1)
                releases.setdefault(end.get(value, -1), []).append(slot)
        # Buffers whose last reader (of the value or of a view of it) is this step are
        # free for the following steps. (`releases` lists candidates by end step, so the
        # scan is not over every slot at every step.)
        for slot in releases.pop(index, ()):
            if storage_end.get(("slot", slot)) == index:
                free.setdefault(slots[slot], []).append(slot)
                storage_end[("slot", slot)] = -1  # released once
    return BufferPlan(slots, placement, in_place_updates, storage)


def _dying_input(
    step: Step,
    index: int,
    aval: Aval,
    avals: dict[int, Aval],
    storage: dict[int, tuple[str, int]],
    storage_end: dict[tuple[str, int], int],
    end: dict[int, int],
    taken: set[int],
    escapes: bool,
    alias_parents: dict[int, tuple[int, ...]],
) -> int | None:
    """A value read by ``step`` whose array dies here and can take the result in place."""
    for value in step.reads:
        key = storage.get(value)
        if key is None or value in taken or avals.get(value) != aval:
            continue
        kind = key[0]
        if kind == "external" or storage_end.get(key) != index or end.get(value) != index:
            continue
        if kind == "slot" and escapes:
            continue  # a persistent buffer must not be handed to the caller
        if kind == "fresh" and (step.shares_contiguous_only or not aval[0]):
            continue  # unknown layout, or a NumPy scalar rather than an array
        if step.shares_contiguous_only and any(
            value in _ancestors(other, alias_parents) for other in step.reads
        ):
            continue  # a kernel also reads a view of it: stores would overtake loads
        return value
    return None


def _ancestors(value: int, alias_parents: dict[int, tuple[int, ...]]) -> set[int]:
    """The values whose arrays ``value`` may be a view of."""
    found: set[int] = set()
    todo = list(alias_parents.get(value, ()))
    while todo:
        parent = todo.pop()
        if parent not in found:
            found.add(parent)
            todo.extend(alias_parents.get(parent, ()))
    return found


__all__ = ["BufferPlan", "Step", "plan_buffers"]
