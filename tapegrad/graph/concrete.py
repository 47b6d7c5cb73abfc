"""`ConcreteFunction`: one trace of a `tapegrad.function`, run through generated code.

Each call binds the arguments' arrays and the captured Variables' current values to the
graph's inputs, runs the compiled code (or, without ``jit``, the interpreter) and writes
the graph's updates back to the Variables. When an outer tape follows an argument or a
trainable Variable, the call replays the graph as traced on Tensors instead, so that
gradients flow through it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tapegrad.core.primitive import active_recorders, set_recorders
from tapegrad.core.tensor import Tensor
from tapegrad.core.tree import tree_flatten, tree_unflatten
from tapegrad.core.variable import Variable, note_views, set_value, writable_value
from tapegrad.graph.ir import Graph, Literal, evaluate


class ConcreteFunction:
    """One trace of a `Function`: its graph (optimized) and the compiled code running it.

    Attributes:
        graph: The optimized graph that runs.
        traced_graph: The graph as traced, before the passes.
        trace_seconds, compile_seconds: How long tracing and optimizing + compiling took.
    """

    def __init__(
        self,
        graph: Graph,
        traced_graph: Graph,
        out_tree: Any,
        arg_positions: list[int],
        static_leaves: list[Any],
        in_tree: Any,
        jit: bool,
        trace_seconds: float,
        lock: Any = None,
    ) -> None:
        self.graph = graph
        self._lock = lock if lock is not None else threading.RLock()
        self.traced_graph = traced_graph
        self._out_tree = out_tree
        self._arg_positions = arg_positions
        self._static_leaves = static_leaves
        self._in_tree = in_tree
        self._variables: list[Variable] = list(graph.captured_variables or [])
        variable_ids = [spec.id for spec in graph.variable_inputs]
        position = {value_id: k for k, value_id in enumerate(variable_ids)}
        self._updated = [self._variables[position[key]] for key in graph.updates]
        # Where the updated Variables' arrays go in the compiled code's `variables`: it may
        # write an update into its Variable's array, which must then be the Variable's own.
        self._written = [position[key] for key in graph.updates]
        # Whether each update comes back as an array nothing else holds (the generated code
        # copies what another value may share); the interpreter's results may be shared.
        self._exclusive = [jit and not isinstance(atom, Literal) for atom in graph.updates.values()]
        # Calls that update Variables take turns (their Function's lock): each reads the
        # Variables, runs and writes them back, which must not interleave with another
        # call's. Other calls need no lock of their own (the compiled code has one).
        self._call_flat: Callable[[list[Any]], Any] = (
            self._call_locked if self._updated else self._call_unlocked
        )
        self.trace_seconds = trace_seconds
        # A `where` usually guards a branch that is invalid where it is not selected (a
        # sqrt of negatives, its infinite derivative): like the backward walk, silence
        # NumPy's warnings for graphs that can compute such masked values.
        self._quiet = any(node.primitive == "where" for node in graph.nodes)
        start = time.perf_counter()
        self._compiled: Callable[..., Any] | None = None
        if jit:
            from tapegrad.graph.codegen import compile_graph

            self._compiled = compile_graph(graph)
        self.compile_seconds = time.perf_counter() - start

    @property
    def out_tree(self) -> Any:
        """The structure of the result (None: a single leaf)."""
        return self._out_tree

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        leaves = tree_flatten((args, kwargs))[0]
        return self._call_flat([leaves[k] for k in self._arg_positions])

    def _call_locked(self, array_leaves: list[Any]) -> Any:
        with self._lock:
            return self._call_unlocked(array_leaves)

    def _call_unlocked(self, array_leaves: list[Any]) -> Any:
        # The per-call path of every compiled step: kept lean (no tree walks, no context
        # managers unless needed).
        recorders = active_recorders()
        if recorders and self._recorded_by(recorders, array_leaves):
            return self._call_recorded(array_leaves)
        arrays = []
        for x in array_leaves:
            if type(x) is not np.ndarray:
                x = x._value if isinstance(x, Tensor) else x
                if type(x) is not np.ndarray:
                    x = np.asarray(x)
            arrays.append(x)
        captured = self._variables
        variables = [v._value for v in captured]
        for k in self._written:
            # (a copy where something else holds the array: a view, a tape, a `.numpy()`)
            variables[k] = writable_value(captured[k])
        if self._quiet:
            saved = np.seterr(all="ignore")
            try:
                outputs, new_values = self._run(arrays, variables)
            finally:
                np.seterr(**saved)
        else:
            outputs, new_values = self._run(arrays, variables)
        for variable, new, exclusive in zip(
            self._updated, new_values, self._exclusive, strict=True
        ):
            set_value(variable, new, exclusive)
        if self._out_tree is None:
            out = outputs[0]
            return Tensor._wrap(out) if type(out) is np.ndarray else self._result(outputs)
        return self._result(outputs)

    def _run(self, arrays: list[Any], variables: list[Any]) -> tuple[list[Any], list[Any]]:
        if self._compiled is not None:
            return self._compiled(arrays, variables)  # type: ignore[no-any-return]
        with _NoRecorders():
            outputs, updates = evaluate(self.graph, arrays, variables, with_updates=True)
        # The interpreter's outputs may be views of the Variables' arrays.
        note_views(outputs, self._variables)
        return outputs, list(updates.values())

    def _recorded_by(self, recorders: Sequence[Any], leaves: list[Any]) -> bool:
        """Whether an outer tape (or tracer) follows an argument or a captured Variable."""
        for recorder in recorders:
            for leaf in leaves:
                if isinstance(leaf, Tensor) and recorder.tracks(leaf):
                    return True
            for variable in self._variables:
                if variable.trainable and getattr(recorder, "watch_accessed_variables", True):
                    return True
        return False

    def _call_recorded(self, array_leaves: list[Any]) -> Any:
        # An outer GradientTape differentiates through the call: replay the graph on
        # Tensors so each node's primitive is recorded with its VJP rule.
        tensors = [x if isinstance(x, Tensor) else Tensor(x) for x in array_leaves]
        # The graph as traced: its gradients are then the eager ones, bit for bit (passes
        # reorder sums of cotangents and drop the stop_gradient markers of raw values).
        outputs, updates = evaluate(self.traced_graph, tensors, self._variables, with_updates=True)
        for variable, new in zip(self._updated, updates.values(), strict=True):
            # (the outer tape's record holds the new array too)
            set_value(variable, new._value if isinstance(new, Tensor) else np.asarray(new), False)
        return self._result(outputs)

    def _result(self, outputs: list[Any]) -> Any:
        leaves = [
            o
            if isinstance(o, Tensor) or not isinstance(o, np.ndarray | np.generic)
            else Tensor._wrap(o)
            for o in outputs
        ]
        return tree_unflatten(self._out_tree, leaves)


class _NoRecorders:
    def __enter__(self) -> None:
        self._previous = set_recorders(())

    def __exit__(self, *exc: object) -> None:
        set_recorders(self._previous)
