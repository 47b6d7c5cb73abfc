"""Batch polymorphism: reuse one trace of a function for other sizes of the batch axis.

A `tapegrad.function` created with ``batch_polymorphic=True`` (``Model.fit`` and friends
make theirs so) traces the Python function once per signature *up to the leading axis of
its array arguments*. A call whose arguments differ from a traced signature only in that
size gets the traced graph *re-specialized* to the new size, proven by two traces:

1. **Probe trace.** The first time a second size arrives, the Python function is traced
   once more at a small *probe* size ``P`` (3, or 5 when the first trace was at 3; its
   arguments are rows of the call's own, repeated) — Python only: no optimization, no
   compilation. Both traces must be the same program: the same primitives in the same
   order reading the same values, the same Variables, the same output structure.
2. **Two-point proof.** Everything that may differ between the two traces is compared
   position by position: every shape, every param (all its numbers, not only a leading
   entry), every literal and every constant. A number equal in both traces is fixed (a
   ``/ 32.0`` the program wrote stays ``32.0``, a mean over 32 time steps too). A number
   that differs must be ``k * B`` at the first trace's batch ``B`` and ``k * P`` at the
   probe (a shape, a count, ``x.shape[0]``), or ``c / (k * B)`` and ``c / (k * P)`` (a
   mean's divisor, up to float rounding): at a new size ``N`` it becomes ``k * N`` or
   ``c / (k * N)``. A constant with batch rows must have equal rows in both traces, each
   entry following these rules (``ones((B, 1))``, a mean's VJP run on constants at trace
   time). Anything else — ``sqrt(B)``, ``B - 1``, rows computed from the batch outside the
   graph (``np.arange(B)``), Python control flow that depends on the batch, a Variable
   assigned a batch-sized value, a probe that fails — proves nothing: the function is not
   polymorphic, each size traces as ``jax.jit`` would, and the ``tapegrad.function``
   logger says why at DEBUG level. The probe runs once per function and signature.
   Each node's shapes at a new size come from its shapes in both traces (no run at
   that size: a node whose shapes are ``k * B`` and ``k * P`` and whose params are
   extrapolated like its inputs' shapes has ``k * N``; an earlier design ran every new
   size's graph to check this, when its probe was not a trace of the program).

The specialized graph is optimized and compiled like a traced one (buffers and generated
code are per size) and cached under the call's signature, so each size pays this once.

Two traces cannot tell a linear form from one that is linear only at the two sizes
(``min(B, 32)``, ``B % 29``): such a program is wrong at other sizes. That is why
`tapegrad.function` keeps ``batch_polymorphic=False`` by default (as ``jax.jit`` traces
per shape), while the built-in ``fit``/``evaluate``/``predict`` steps, written with the
layers' ops, turn it on (`tapegrad.config.disable_batch_polymorphism` turns it off).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.graph.concrete import ConcreteFunction
from tapegrad.graph.ir import Graph, Input, Literal, Node

logger = logging.getLogger("tapegrad.function")

# Each axis of a value: a fixed size (> 0), or -k: k times the batch size.
Axes = tuple[int, ...]

# How far the two traces' forms may disagree: float rounding of c / (k * B) (float32
# constants round to 6e-8).
_RTOL = 1e-6


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


def probe_size(size: int) -> int:
    """The batch size of the probe trace for a trace at batch ``size``.

    Small (its trace runs the program's ops on few rows), not 1 or 2 (broadcasting and the
    programs' small numbers would pass for the batch), never ``size`` itself.

    Args:
        size: The batch size of the first trace.

    Returns:
        3, or 5 for a first trace at 3.

    Examples:
        >>> probe_size(32), probe_size(3)
        (3, 5)
    """
    return 5 if size == 3 else 3


def resized_rows(leaves: list[Any], positions: list[int], size: int) -> list[Any]:
    """``leaves`` with the arrays at ``positions`` cut or repeated to ``size`` rows.

    The probe trace's arguments: the call's own rows (valid labels and indices, not
    made-up values).

    Args:
        leaves: A call's flattened arguments.
        positions: Which leaves are arrays (or Tensors).
        size: The rows each array of rank 1 or more gets.

    Returns:
        A new list of leaves (arrays of rank 0 and other leaves as they were).

    Examples:
        >>> import numpy as np
        >>> resized_rows([np.arange(2), "static", np.float32(1)], [0, 2], 5)[0]
        array([0, 1, 0, 1, 0])
    """
    resized = list(leaves)
    for k in positions:
        array = np.asarray(leaves[k])
        if array.ndim:
            resized[k] = np.take(array, np.arange(size) % array.shape[0], axis=0)
    return resized


@dataclasses.dataclass
class BatchTemplate:
    """One trace of a function, re-specializable to other batch sizes once proven.

    Args:
        graph: The graph as traced (before the passes).
        size: The batch size it was traced at.
        probe: The same function traced at `probe_size` (set by `prove`).
        reason: Why it is not polymorphic (None: not refuted).
    """

    graph: Graph
    size: int
    probe: Graph | None = None
    reason: str | None = None

    def prove(self, probe: Graph) -> None:
        """Check the two-point proof against ``probe``, the trace at `probe_size`.

        Raises:
            NotPolymorphicError: the traces differ otherwise than by the batch (the reason;
                it is kept, and `specialize` refuses from then on).
        """
        size = probe_size(self.size)
        try:
            _Extension(self.graph, probe, self.size, size, size).graph()
        except NotPolymorphicError as err:
            self.reason = str(err)
            raise
        self.probe = probe

    def specialize(self, size: int) -> Graph:
        """The traced graph for batch ``size``: every number that differs between the two
        traces in its form at ``size``, every node's shapes from both traces' shapes.

        Raises:
            NotPolymorphicError: not proven, or refuted (the reason).
        """
        if self.reason is not None:
            raise NotPolymorphicError(self.reason)
        if self.probe is None:
            raise NotPolymorphicError("no probe trace proves it")
        return _Extension(self.graph, self.probe, self.size, probe_size(self.size), size).graph()


class BatchTemplates:
    """A `Function`'s traces by signature without batch sizes, made into other sizes.

    Args:
        name: The function's name (for the log).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._found: dict[Any, tuple[BatchTemplate, Any]] = {}

    def keep(self, batched: tuple[Any, int], concrete: ConcreteFunction) -> None:
        """Keep a new trace as the one other batch sizes are made from (unless one is).

        A refuted one stays: the reason is the program's, and another probe would cost a
        trace for each size.
        """
        if batched[0] not in self._found:
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
        trace: Callable[[int], tuple[Graph, Any]],
    ) -> ConcreteFunction | None:
        """A kept trace specialized to this batch size, compiled; None: trace again.

        ``trace(size)`` traces the Python function at batch ``size`` (the probe; not
        compiled) and returns the graph and its result's structure.
        """
        found = self._found.get(batched[0])
        if found is None:
            return None
        template, out_tree = found
        start = time.perf_counter()
        try:
            if template.probe is None and template.reason is None:
                self._prove(template, out_tree, trace)
            traced_graph = template.specialize(batched[1])
        except Exception as err:  # noqa: BLE001 - any failure here must end in a retrace
            # (NotPolymorphicError says why; anything else, the program failing at the
            # probe size included, is made harmless by a retrace.)
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

    def _prove(
        self, template: BatchTemplate, out_tree: Any, trace: Callable[[int], tuple[Graph, Any]]
    ) -> None:
        size = probe_size(template.size)
        start = time.perf_counter()
        try:
            graph, probe_tree = trace(size)
            if probe_tree != out_tree:
                raise NotPolymorphicError(f"its result has another structure at batch {size}")
            template.prove(graph)
        except Exception as err:
            template.reason = template.reason or f"the probe trace at batch {size} failed: {err}"
            logger.debug(
                "tapegrad.function(%s): probe trace at batch %d (Python only, %.3f s): the "
                "trace at batch %d is not batch-polymorphic: %s",
                self.name,
                size,
                time.perf_counter() - start,
                template.size,
                template.reason,
            )
            raise NotPolymorphicError(template.reason) from err
        logger.debug(
            "tapegrad.function(%s): probe trace at batch %d (Python only, %.3f s): the trace "
            "at batch %d serves every batch size",
            self.name,
            size,
            time.perf_counter() - start,
            template.size,
        )


class _Extension:
    """The trace at batch ``old`` carried to batch ``new`` by its twin traced at ``probe``.

    Walks both graphs in step; every number that differs must be ``k * old`` against
    ``k * probe`` or ``c / (k * old)`` against ``c / (k * probe)`` (`NotPolymorphicError`
    otherwise).
    """

    def __init__(self, first: Graph, second: Graph, old: int, probe: int, new: int) -> None:
        self.first, self.second = first, second
        self.old, self.probe, self.new = old, probe, new
        self.ids: dict[int, int] = {}  # first trace's value id -> the probe trace's
        self.axes: dict[int, Axes] = {}  # first trace's value id -> its axes
        self.constants: dict[int, np.ndarray] = {}

    def graph(self) -> Graph:
        first, second = self.first, self.second
        if len(first.inputs) != len(second.inputs):
            raise NotPolymorphicError(f"the probe trace at batch {self.probe} has other inputs")
        inputs = [self._input(s, t) for s, t in zip(first.inputs, second.inputs, strict=True)]
        captured = list(first.captured_variables or [])
        if len(captured) != len(second.captured_variables or []) or any(
            a is not b for a, b in zip(captured, second.captured_variables or [], strict=True)
        ):
            raise NotPolymorphicError(f"it reads other Variables at batch {self.probe}")
        if len(first.nodes) != len(second.nodes):
            raise NotPolymorphicError(
                f"it records {len(first.nodes)} ops at batch {self.old} but "
                f"{len(second.nodes)} at batch {self.probe} (Python that depends on the batch)"
            )
        nodes = [
            self._node(index, s, t)
            for index, (s, t) in enumerate(zip(first.nodes, second.nodes, strict=True))
        ]
        if len(first.outputs) != len(second.outputs):
            raise NotPolymorphicError(f"it has other outputs at batch {self.probe}")
        outputs = [
            self._atom(a, b, f"output {j}")
            for j, (a, b) in enumerate(zip(first.outputs, second.outputs, strict=True))
        ]
        if [self.ids.get(key) for key in first.updates] != list(second.updates):
            raise NotPolymorphicError(f"it assigns other Variables at batch {self.probe}")
        updates = {}
        for (key, atom), other in zip(first.updates.items(), second.updates.values(), strict=True):
            name = next(s.name for s in first.inputs if s.id == key)
            updates[key] = self._atom(atom, other, f"the update of Variable '{name}'")
            if not isinstance(atom, Literal) and min(self.axes[atom], default=1) < 0:
                raise NotPolymorphicError(f"Variable '{name}' is assigned a batch-sized value")
        constants = dict(first.constants)
        constants.update(self.constants)
        return _with(
            first, inputs=inputs, nodes=nodes, outputs=outputs, constants=constants, updates=updates
        )

    def _input(self, s: Input, t: Input) -> Input:
        where = f"input '{s.name}'"
        if s.kind != t.kind or s.dtype != t.dtype:
            raise NotPolymorphicError(f"{where} differs at batch {self.probe}")
        axes = self._shape(s.shape, t.shape, where)
        self.ids[s.id] = t.id
        self.axes[s.id] = axes
        return dataclasses.replace(s, shape=_shape_at(axes, self.new))

    def _node(self, index: int, s: Node, t: Node) -> Node:
        where = f"node {index} ({s.primitive})"
        if (
            s.primitive != t.primitive
            or len(s.inputs) != len(t.inputs)
            or len(s.outputs) != len(t.outputs)
            or s.dtypes != t.dtypes
            or s.params.keys() != t.params.keys()
        ):
            raise NotPolymorphicError(
                f"{where} is a {t.primitive} node of other arguments or results at batch "
                f"{self.probe} (Python that depends on the batch)"
            )
        inputs = tuple(self._atom(a, b, where) for a, b in zip(s.inputs, t.inputs, strict=True))
        params = {
            k: self._value(v, t.params[k], f"{where} param '{k}'") for k, v in s.params.items()
        }
        shapes = []
        for out, other, a, b in zip(s.outputs, t.outputs, s.shapes, t.shapes, strict=True):
            axes = self._shape(a, b, where)
            self.ids[out] = other
            self.axes[out] = axes
            shapes.append(_shape_at(axes, self.new))
        return dataclasses.replace(s, inputs=inputs, params=params, shapes=tuple(shapes))

    def _atom(self, a: Any, b: Any, where: str) -> Any:
        if isinstance(a, Literal) and isinstance(b, Literal):
            return a if a.value is b.value else Literal(self._value(a.value, b.value, where))
        if isinstance(a, Literal) or isinstance(b, Literal):
            raise NotPolymorphicError(f"{where} reads a literal at one batch size only")
        mapped = self.ids.get(a)
        if mapped is None and a in self.first.constants and b in self.second.constants:
            const = self.first.constants[a]
            self.constants[a] = self._array(const, self.second.constants[b], f"{where}: constant")
            self.axes[a] = self._shape(np.shape(const), np.shape(self.second.constants[b]), where)
            self.ids[a] = mapped = b
        if mapped != b:
            raise NotPolymorphicError(f"{where} reads another value at batch {self.probe}")
        return a

    def _shape(self, a: tuple[int, ...], b: tuple[int, ...], where: str) -> Axes:
        if len(a) != len(b):
            raise NotPolymorphicError(f"{where} changes rank at batch {self.probe}")
        kinds = []
        for m, n in zip(a, b, strict=True):
            if m == n:
                kinds.append(m)
            elif m % self.old == 0 and n * self.old == m * self.probe:
                kinds.append(-(m // self.old))
            else:
                raise NotPolymorphicError(
                    f"{where} has shape {list(a)} at batch {self.old} but {list(b)} at batch "
                    f"{self.probe}: a size that does not follow the batch"
                )
        return tuple(kinds)

    def _value(self, a: Any, b: Any, where: str) -> Any:
        if a is b:
            return a
        if _is_number(a) and _is_number(b):
            return a if a == b else self._number(a, b, where)
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            return self._array(a, b, where)
        if _same(a, b):
            return a
        if isinstance(a, tuple | list) and type(a) is type(b) and len(a) == len(b):
            return type(a)(self._value(x, y, where) for x, y in zip(a, b, strict=True))
        if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
            return {k: self._value(v, b[k], where) for k, v in a.items()}
        if isinstance(a, slice) and isinstance(b, slice):
            parts = zip((a.start, a.stop, a.step), (b.start, b.stop, b.step), strict=True)
            return slice(*(self._value(x, y, where) for x, y in parts))
        raise NotPolymorphicError(f"{where} is {a!r} at batch {self.old} but {b!r} at {self.probe}")

    def _number(self, a: Any, b: Any, where: str) -> Any:
        new = np.asarray(self._entries(np.asarray(a), np.asarray(b), where))
        return type(a)(new[()])

    def _array(self, a: np.ndarray, b: np.ndarray, where: str) -> np.ndarray:
        a, b = np.asarray(a), np.asarray(b)
        if a.shape == b.shape and a.dtype == b.dtype and _equal(a, b):
            return a
        if a.dtype != b.dtype:
            raise NotPolymorphicError(
                f"{where} has dtype {a.dtype} but {b.dtype} at batch {self.probe}"
            )
        axes = self._shape(a.shape, b.shape, where)
        if min(axes[1:], default=1) < 0:
            raise NotPolymorphicError(f"{where} has the batch along a non-leading axis")
        if not axes or axes[0] > 0:
            return self._entries(a, b, where)
        # Batch rows: equal rows in both traces (ones((B, 1)), a mean's VJP run on constants
        # at trace time); rows of other values were computed from the batch outside the graph.
        if not (
            _equal(a, np.broadcast_to(a[:1], a.shape))
            and _equal(b, np.broadcast_to(b[:1], b.shape))
        ):
            raise NotPolymorphicError(
                f"{where} has {a.shape[0]} rows that differ, computed from the batch outside "
                "the graph"
            )
        row = self._entries(a[:1], b[:1], where)
        return np.ascontiguousarray(np.broadcast_to(row, _shape_at(axes, self.new)))

    def _entries(self, a: np.ndarray, b: np.ndarray, where: str) -> np.ndarray:
        """Entry by entry: fixed where equal, else ``k * batch`` or ``c / (k * batch)``."""
        if a.dtype.kind not in "iuf" or b.dtype.kind not in "iuf":
            if _equal(a, b):
                return a
            raise NotPolymorphicError(f"{where} differs at batch {self.probe}")
        old, probe, new = self.old, self.probe, self.new
        x, y = a.astype(np.float64), b.astype(np.float64)
        with np.errstate(all="ignore"):
            fixed = (x == y) | (np.isnan(x) & np.isnan(y))
            live = (x != 0) & (y != 0) & np.isfinite(x) & np.isfinite(y)
            linear = live & np.isclose(x * probe, y * old, rtol=_RTOL, atol=0)
            inverse = live & np.isclose(x * old, y * probe, rtol=_RTOL, atol=0)
            if a.dtype.kind in "iu" or b.dtype.kind in "iu":
                whole = a.astype(np.int64)
                linear &= (whole % old == 0) & (b.astype(np.int64) % probe == 0)
                inverse = np.zeros_like(linear)
                result = np.where(fixed, whole, whole // old * new)
            else:
                result = np.where(fixed, x, np.where(linear, x / old * new, x * old / new))
        bad = np.asarray(~(fixed | linear | inverse))
        if bad.any():
            first = tuple(np.argwhere(bad)[0])
            raise NotPolymorphicError(
                f"{where}: the number {a[first]!r} at batch {old} is {b[first]!r} at batch "
                f"{probe}, neither k * batch nor c / (k * batch) (sqrt(batch), batch - 1, ...)"
            )
        return result.astype(a.dtype)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    try:
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    except TypeError:
        return bool(np.array_equal(a, b))


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays inside, or incomparable
        return False


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


def _shape_at(axes: Axes, size: int) -> tuple[int, ...]:
    return tuple(-a * size if a < 0 else a for a in axes)


__all__ = [
    "BatchTemplate",
    "BatchTemplates",
    "NotPolymorphicError",
    "batch_key",
    "probe_size",
    "resized_rows",
]
