"""The recorder behind `explain`: `tapegrad.function`'s tracer, taking notes as it records.

`ExplainTracer` is a `FunctionTracer` (so the forward pass becomes graph nodes exactly as
a compiled function's would, and `tapegrad.gradients` turns the VJP rules' own calls into
the backward nodes). It also *observes* the backward sweep (`core.backward`'s
``observes_backward`` protocol): while the sweep runs one entry's VJP rule, the masking of
a `where`, an unbroadcast or the sum of two cotangents, it sets the tracer's ``step``, so
each node recorded then is attributed to that entry (the forward op) and that part.

For every node it notes the user's source line (the first frame outside tapegrad), the
layers whose ``__call__`` is running (their names, outermost first: the groups drawn
around a layer's ops) and a summary of the values computed (shape, min, max, mean, NaN).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import numpy as np

from tapegrad.core.primitive import user_source_line
from tapegrad.graph.function import FunctionTracer


@dataclasses.dataclass(frozen=True)
class ValueSummary:
    """What one array held when the explained call ran.

    Attributes:
        shape: The array's shape.
        dtype: Its dtype's name.
        min: Smallest finite value (None when empty, not numeric, or all NaN/inf).
        max: Largest finite value (same).
        mean: Mean of the finite values (same).
        nans: Number of NaN elements.
        infs: Number of infinite elements.
    """

    shape: tuple[int, ...]
    dtype: str
    min: float | None
    max: float | None
    mean: float | None
    nans: int = 0
    infs: int = 0

    def __str__(self) -> str:
        if self.min is None:
            text = "empty" if 0 in self.shape else "no finite values"
        elif self.min == self.max:
            text = f"all {self.min:.4g}"
        else:
            text = f"min {self.min:.4g} max {self.max:.4g} mean {self.mean:.4g}"
        if self.nans:
            text += f", {self.nans} NaN"
        if self.infs:
            text += f", {self.infs} inf"
        return text


def summarize(value: Any) -> ValueSummary:
    """A `ValueSummary` of an array (or scalar).

    Examples:
        >>> str(summarize(np.array([1.0, np.nan, 3.0])))
        'min 1 max 3 mean 2, 1 NaN'
    """
    arr = np.asarray(value)
    shape, dtype = tuple(arr.shape), arr.dtype.name
    if arr.size == 0 or arr.dtype.kind not in "biufc":
        return ValueSummary(shape, dtype, None, None, None)
    if arr.dtype.kind == "c":
        arr = np.abs(arr)
    if arr.dtype.kind == "f":
        finite_mask = np.isfinite(arr)
        nans = int(np.count_nonzero(np.isnan(arr)))
        infs = int(arr.size - nans - np.count_nonzero(finite_mask))
        finite = arr[finite_mask] if nans or infs else arr
    else:
        nans = infs = 0
        finite = arr
    if finite.size == 0:
        return ValueSummary(shape, dtype, None, None, None, nans, infs)
    data = finite.astype(np.float64)
    # (+ 0.0: a -0.0 shows as 0)
    low, high, mean = (float(v) + 0.0 for v in (data.min(), data.max(), data.mean()))
    return ValueSummary(shape, dtype, low, high, mean, nans, infs)


@dataclasses.dataclass
class NodeNote:
    """What the tracer noted when it recorded one node (see the module docstring)."""

    where: str
    scope: tuple[str, ...]
    summaries: tuple[ValueSummary | None, ...]
    backward: bool
    step: tuple[Any, int, str] | None


def layer_scope() -> tuple[str, ...]:
    """Names of the layers whose ``__call__`` runs now, outermost first.

    Read from the call stack, so layers need no bookkeeping for it; empty when the Keras
    API was never imported (looked up by name: `explain` sits below ``nn``).
    """
    base = sys.modules.get("tapegrad.nn.layers.base")
    if base is None:
        return ()
    call_code = base.Layer.__call__.__code__
    names: list[str] = []
    frame: Any = sys._getframe(1)
    while frame is not None:
        if frame.f_code is call_code:
            layer = frame.f_locals.get("self")
            name = getattr(layer, "name", None)
            if isinstance(name, str) and (not names or names[-1] != name):
                names.append(name)
        frame = frame.f_back
    return tuple(reversed(names))


class ExplainTracer(FunctionTracer):
    """A `FunctionTracer` that notes sources, layers, values and backward attribution."""

    # Read by core.backward: set ``step`` while a tensor-mode sweep runs each part.
    observes_backward = True

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.step: tuple[Any, int, str] | None = None
        self.notes: list[NodeNote] = []
        self.backward_phase = False
        self.extra_scope: tuple[str, ...] = ()
        self.producer: dict[int, int] = {}  # value id -> index of the node computing it
        # Results of stateful primitives (dropout masks) as drawn: the replay reuses them.
        self.drawn: dict[int, np.ndarray] = {}

    # Explaining one call on its data: Python may read values (control flow, index arrays
    # computed from the data); the graph is then the graph of this call.
    def refuse_value(self, tensor: Any, what: str) -> None:
        return None

    def _holds_traced_array(self, value: Any) -> bool:
        return False

    def record(
        self,
        prim: Any,
        args: tuple[Any, ...],
        values: list[Any],
        params: dict[str, Any],
        result: Any,
    ) -> None:
        count = len(self.nodes)
        super().record(prim, args, values, params, result)
        if len(self.nodes) == count:
            return
        outs = result if prim.multiple_results else (result,)
        last = len(self.nodes) - 1
        scope = () if self.backward_phase else self.extra_scope + layer_scope()
        where = user_source_line()
        for index in range(count, len(self.nodes)):
            node = self.nodes[index]
            summaries: tuple[ValueSummary | None, ...]
            if index == last:
                summaries = tuple(summarize(o._value) for o in outs)
                if prim.stateful:
                    for out_id, out in zip(node.outputs, outs, strict=True):
                        self.drawn[out_id] = np.array(out._value, copy=True)
            else:  # a stop_gradient the tracer put in front of a raw read
                summaries = (None,) * len(node.outputs)
            for out_id in node.outputs:
                self.producer[out_id] = index
            self.notes.append(NodeNote(where, scope, summaries, self.backward_phase, self.step))

    def forward_index(self, entry: Any) -> int | None:
        """The node index of the forward op a backward entry differentiates."""
        result = entry[4]
        first = result[0] if isinstance(result, tuple) else result
        value_id = self._ids.get(id(first))
        return None if value_id is None else self.producer.get(value_id)


__all__ = ["ExplainTracer", "NodeNote", "ValueSummary", "layer_scope", "summarize"]
