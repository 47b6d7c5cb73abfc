"""`tapegrad.function`: trace a Python function once per input signature, optimize, compile.

Calling a `Function` looks up its cache by *signature*: for each argument leaf, arrays
and Tensors contribute their shape and dtype, Python values (numbers, strings, None,
any hashable object) their value, Variables their identity. A new signature traces the
function again — every trace is logged on the ``tapegrad.function`` logger — and builds a
`ConcreteFunction`: the traced `Graph`, optimized by the passes and compiled by codegen.

Tracing runs the Python function once on *traced tensors*. Each primitive call is
evaluated (the table has no separate shape rules: running the implementation on the
traced call's arguments gives exact shapes and dtypes) and recorded as a node; Python
control flow takes the path of that run. What the function cannot do is read a value:
``if t > 0``, ``float(t)``, ``t.numpy()`` on a traced tensor raise `TracerValueError`
naming the line, because such a value exists only when the compiled code runs.

Variables are captured by reference: every Variable the function reads is an input of
the graph, bound to the Variable's current value at each call, and every
``assign``/``assign_add``/``assign_sub`` becomes an update of the graph — so a whole
training step (forward, `GradientTape` backward, optimizer update) compiles to one
graph. Tracing never changes a Variable: their values are restored afterwards.

Threads: the tracer is per thread (and asyncio task), like the tapes. A `Function` may be
called from several threads: a signature is traced once (one lock per Function), a thread
waiting for that trace gets the finished `ConcreteFunction`, and calls that update
Variables take turns.
"""

from __future__ import annotations

import functools
import linecache
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from weakref import WeakValueDictionary

import numpy as np

from tapegrad.core import primitive as _primitive
from tapegrad.core import prims
from tapegrad.core import tensor as _tensor
from tapegrad.core.primitive import active_recorders, set_recorders
from tapegrad.core.tensor import Tensor, Variable
from tapegrad.core.tracing import current_tracer, is_traced, set_tracer
from tapegrad.core.tree import tree_flatten, tree_unflatten
from tapegrad.graph.concrete import ConcreteFunction
from tapegrad.graph.ir import Atom, Graph, Input, Literal
from tapegrad.graph.polymorphic import BatchTemplates, batch_key, resized_rows
from tapegrad.graph.trace import EntriesNeeded, UntraceableError, _Tracer

logger = logging.getLogger("tapegrad.function")

# A function traced more often than this is probably retracing on Python values that
# change every call (a loop counter, a float learning rate): say so once.
_RETRACE_WARNING = 8


class TracerValueError(TypeError):
    """Python code asked for the value of a traced tensor, which exists only at run time."""


class FunctionTracer(_Tracer):
    """The recorder behind `tapegrad.function`.

    Unlike `trace`'s recorder (which serves Lambda saving), every Variable read — also
    non-trainable ones such as optimizer slots — is a graph input, assignments become
    graph updates, and with ``keep_entries`` the recorded calls are kept as tape entries
    so `gradients` can run the reverse sweep over them (they hold every value traced).
    """

    # The backward walk computes `where` masks as graph values when it sees this.
    symbolic = True

    def __init__(self, name: str, keep_entries: bool = True) -> None:
        super().__init__()
        self.name = name
        self.keep_entries = keep_entries
        self.entries: list[tuple[Any, ...]] = []
        self._state: dict[int, int] = {}  # id(Variable) -> value id of its current value
        self._originals: dict[int, tuple[Variable, Any]] = {}
        self._tensor_of = WeakValueDictionary[int, Tensor]()  # value id -> its live Tensor

    def add_argument(self, leaf: Any, position: int) -> Tensor:
        tensor = super().add_argument(leaf, position)
        self._tensor_of[self._ids[id(tensor)]] = tensor
        return tensor

    def lift(self, arg: Any) -> Any:
        """The traced Tensor behind ``arg`` when it is the raw array of a traced value."""
        if isinstance(arg, np.ndarray | np.generic):
            value_id = self._aliases.get(id(arg))
            if value_id is not None:
                return self._tensor_of.get(value_id, arg)
        return arg

    # -- recorder protocol ----------------------------------------------------------------
    def record(
        self,
        prim: Any,
        args: tuple[Any, ...],
        values: list[Any],
        params: dict[str, Any],
        result: Any,
    ) -> None:
        if params and any(self._holds_traced_array(v) for v in params.values()):
            where = _primitive.user_source_line()
            raise TracerValueError(
                f"tapegrad.function({self.name}): '{prim.name}' got a traced array as a fixed "
                f"parameter (indexing with a computed index array, x[idx]) — at {where}"
                f"{_source_text(where)}. Its values exist only when the compiled function "
                "runs: use tnp.take(x, idx, axis=...) (the index is then an input of the op)."
            )
        count = len(self.nodes)
        super().record(prim, args, values, params, result)
        if len(self.nodes) > count:
            for out, value_id in zip(
                result if prim.multiple_results else (result,), self.nodes[-1].outputs, strict=True
            ):
                self._tensor_of[value_id] = out
            if prim.differentiable and self.keep_entries:
                self.entries.append((prim, args, values, params, result, None))

    def _holds_traced_array(self, value: Any) -> bool:
        if isinstance(value, np.ndarray):
            return id(value) in self._aliases
        if isinstance(value, tuple | list):
            return any(self._holds_traced_array(v) for v in value)
        return False

    def _depends(self, arg: Any) -> bool:
        if isinstance(arg, Variable):
            return True
        return super()._depends(arg)

    def atom(self, arg: Any) -> Atom:
        if isinstance(arg, Variable):
            current = self._state.get(id(arg))
            return current if current is not None else self._variable(arg)
        return super().atom(arg)

    def _variable(self, variable: Variable) -> int:
        # Any Variable (trainable or not) is state of the program, read at call time.
        found = self._variable_ids.get(id(variable))
        if found is None:
            raw = variable._value
            original = self._originals.get(id(variable))
            if original is not None:
                raw = original[1]
            found = self._new_id(np.shape(raw), raw.dtype)
            self.inputs.append(
                Input(found, "variable", tuple(np.shape(raw)), raw.dtype, str(variable.name))
            )
            self._variable_ids[id(variable)] = found
            self.variables.append(variable)
        return found

    # -- trace hook (installed in core.tensor while the function runs) ----------------------
    def is_traced(self, tensor: Tensor) -> bool:
        return isinstance(tensor, Variable) or self.tracks(tensor)

    def refuse_value(self, tensor: Tensor, what: str) -> None:
        if not self.is_traced(tensor):
            return
        where = _primitive.user_source_line()
        raise TracerValueError(
            f"tapegrad.function({self.name}): {what} needs the value of a traced tensor "
            f"({tensor._value.dtype.name}{list(tensor._value.shape)}), which exists only "
            f"when the compiled function runs — at {where}{_source_text(where)}. Python "
            "control flow is fixed when the function is traced: use tnp.where / "
            "tnp.maximum for value-dependent choices, pass the value as a Python argument "
            "(one trace per value), or call the function outside tapegrad.function."
        )

    def assign(self, variable: Variable, value: Any, how: str) -> bool:
        if id(variable) not in self._originals:
            self._variable(variable)  # the update's key: the Variable's input
            self._originals[id(variable)] = (variable, variable._value)
            self._alive.append(variable)
        value_shape = _tensor.shape_of(value._value if isinstance(value, Tensor) else value)
        if tuple(value_shape) != tuple(variable._value.shape) and how == "assign":
            raise ValueError(
                f"Variable '{variable.name}': cannot assign a value of shape "
                f"{tuple(value_shape)} to a variable of shape {variable._value.shape}"
            )
        if how == "assign_add":
            new = prims.add_p(variable, value)
        elif how == "assign_sub":
            new = prims.subtract_p(variable, value)
        else:
            new = value if isinstance(value, Tensor) else Tensor(np.asarray(value))
        if not isinstance(new, Tensor):
            new = Tensor._wrap(new)
        dtype = variable._value.dtype
        if new._value.dtype != dtype:
            new = prims.cast_p(new, dtype=dtype)
        if tuple(new._value.shape) != tuple(variable._value.shape):
            raise ValueError(
                f"Variable '{variable.name}': {how} would change its shape from "
                f"{variable._value.shape} to {new._value.shape}"
            )
        new_atom = self.atom(new)
        if isinstance(new_atom, Literal):  # pragma: no cover - Tensors are never literals
            raise AssertionError("a Tensor traced as a literal")
        self._state[id(variable)] = new_atom
        self._alive.append(new)
        # Later Python code in the trace sees the new value (shapes, eager fallbacks).
        variable._value = new._value
        return True

    def restore_variables(self) -> None:
        for variable, original in self._originals.values():
            variable._value = original

    def updates(self) -> dict[int, Atom]:
        return {self._variable_ids[key]: value_id for key, value_id in self._state.items()}


def _source_text(where: str) -> str:
    """``: `source line``` for a ``file:line in function`` location, if readable."""
    try:
        path, rest = where.rsplit(":", 1)
        text = linecache.getline(path, int(rest.split(" ", 1)[0])).strip()
    except ValueError:
        return ""
    return f": `{text}`" if text else ""


class Function:
    """A Python function run as compiled graphs, one per input signature.

    Create with `function`. Call it like the Python function.

    Attributes:
        python_function: The wrapped function.
        tracing_count: How many times it has been traced (Python run on traced tensors).
        batch_polymorphic: Whether a new size of the arguments' leading axis reuses a
            trace (`tapegrad.graph.polymorphic`) instead of tracing again.
        specialization_count: How many graphs were made from a trace for another batch
            size, without running Python.
    """

    def __init__(
        self,
        python_function: Callable[..., Any],
        *,
        jit: bool = True,
        optimize: bool = True,
        name: str | None = None,
        batch_polymorphic: bool = False,
    ) -> None:
        self.python_function = python_function
        self.jit = jit
        self.optimize = optimize
        self.batch_polymorphic = batch_polymorphic
        self.name: str = str(name or getattr(python_function, "__name__", "function"))
        self._templates = BatchTemplates(self.name)
        self.specialization_count = 0
        self._cache: dict[Any, ConcreteFunction] = {}
        self._fast_cache: dict[Any, ConcreteFunction] = {}
        self._last: ConcreteFunction | None = None
        self.tracing_count = 0
        self._keep_entries = False  # (until a trace calls `gradients`: EntriesNeeded)
        # Held while tracing and while calling (see the module's notes on threads).
        self._lock = threading.RLock()
        functools.update_wrapper(self, python_function)

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        # Decorating a method: bind per instance (the instance is a static argument).
        if instance is None:
            return self
        bound = functools.partial(self.__call__, instance)
        return functools.update_wrapper(bound, self.python_function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if current_tracer() is not None:
            # Called while this thread traces a function: its ops join that graph.
            return self.python_function(*args, **kwargs)
        if not kwargs:
            # Fast path: positional arrays/Tensors (and Nones, such as a missing
            # sample_weight) only; the key is their shapes and dtypes.
            key = _array_key(args)
            if key is not None:
                concrete = self._fast_cache.get(key)
                if concrete is not None:
                    self._last = concrete
                    if None in key:
                        return concrete._call_flat([a for a in args if a is not None])
                    return concrete._call_flat(list(args))
        leaves, in_tree = tree_flatten((args, kwargs))
        key, positions = _signature(leaves, in_tree, self.name)
        concrete = self._cache.get(key)
        if concrete is None:
            concrete = self._traced(args, kwargs, leaves, in_tree, positions, key)
        self._last = concrete
        return concrete._call_flat([leaves[k] for k in positions])

    def _traced(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        leaves: list[Any],
        in_tree: Any,
        positions: list[int],
        key: Any,
    ) -> ConcreteFunction:
        """The cached trace of ``key``, traced now if no thread has traced it yet."""
        with self._lock:
            # Another thread may have traced this signature while we waited: the caches
            # only ever hold finished ConcreteFunctions.
            concrete = self._cache.get(key)
            if concrete is not None:
                return concrete
            batched = batch_key(key) if self.batch_polymorphic else None
            if batched is not None:
                concrete = self._templates.concrete(
                    batched,
                    positions,
                    in_tree,
                    _describe_key(key),
                    self.optimize,
                    self.jit,
                    self._lock,
                    functools.partial(self._probe_trace, leaves, in_tree, positions),
                )
                self.specialization_count += concrete is not None
            if concrete is None:
                concrete = self._trace(args, kwargs, leaves, in_tree, positions, key)
                if batched is not None:
                    self._templates.keep(batched, concrete)
            self._cache[key] = concrete
            fast_key = None if kwargs else _array_key(args)
            arrays = [a for a in args if a is not None]
            picked = [leaves[k] for k in positions]
            # Only where the fast path hands over the same arrays as this slow one.
            if (
                fast_key is not None
                and len(arrays) == len(picked)
                and all(a is b for a, b in zip(arrays, picked, strict=True))
            ):
                self._fast_cache[fast_key] = concrete
            return concrete

    def get_concrete_function(self, *args: Any, **kwargs: Any) -> ConcreteFunction:
        """The `ConcreteFunction` for these arguments (traced now if it is new)."""
        leaves, in_tree = tree_flatten((args, kwargs))
        key, positions = _signature(leaves, in_tree, self.name)
        concrete = self._cache.get(key)
        if concrete is None:
            concrete = self._traced(args, kwargs, leaves, in_tree, positions, key)
        return concrete

    @property
    def graph(self) -> Graph:
        """The optimized graph of the most recent call (``print(f.graph)`` lists it)."""
        if self._last is None:
            raise ValueError(
                f"tapegrad.function({self.name}) has not been called yet: call it, or use "
                "get_concrete_function(*args).graph"
            )
        return self._last.graph

    def clear_cache(self) -> None:
        """Forget every trace (the next call traces again)."""
        with self._lock:
            self._cache.clear()
            self._fast_cache.clear()
            self._templates.clear()
            self._last = None

    def _trace(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        leaves: list[Any],
        in_tree: Any,
        positions: list[int],
        key: Any,
    ) -> ConcreteFunction:
        start = time.perf_counter()
        traced_graph, out_tree = self._trace_graph(leaves, in_tree, positions)
        graph = traced_graph
        if self.optimize:
            from tapegrad.graph.passes import optimize

            graph = optimize(traced_graph)
        trace_seconds = time.perf_counter() - start
        concrete = ConcreteFunction(
            graph,
            traced_graph,
            out_tree,
            positions,
            [],
            in_tree,
            self.jit,
            trace_seconds,
            self._lock,
        )
        self.tracing_count += 1
        logger.info(
            "tapegrad.function(%s): trace #%d for %s: %d nodes (%d after passes); trace "
            "%.3f s, compile %.3f s",
            self.name,
            self.tracing_count,
            _describe_key(key),
            len(traced_graph.nodes),
            len(graph.nodes),
            trace_seconds,
            concrete.compile_seconds,
        )
        if self.tracing_count == _RETRACE_WARNING:
            logger.warning(
                "tapegrad.function(%s) has been traced %d times: Python values or shapes "
                "of its arguments keep changing (pass numbers that vary as arrays)",
                self.name,
                self.tracing_count,
            )
        return concrete

    def _trace_graph(
        self, leaves: list[Any], in_tree: Any, positions: list[int]
    ) -> tuple[Graph, Any]:
        """Run the Python function on traced ``leaves``: its graph and result structure."""
        tracer = FunctionTracer(self.name, keep_entries=self._keep_entries)
        traced = list(leaves)
        for number, k in enumerate(positions):
            traced[k] = tracer.add_argument(leaves[k], number)
        call_args, call_kwargs = tree_unflatten(in_tree, traced)
        previous_tracer = set_tracer(tracer)
        previous = set_recorders(active_recorders() + (tracer,))
        try:
            result = self.python_function(*call_args, **call_kwargs)
            out_leaves, out_tree = tree_flatten(result)
            outputs = [self._output_atom(tracer, leaf, j) for j, leaf in enumerate(out_leaves)]
        except EntriesNeeded:  # `gradients` was called: trace again, keeping the calls
            self._keep_entries = True
        finally:
            set_recorders(previous)
            set_tracer(previous_tracer)
            tracer.restore_variables()
        if self._keep_entries and not tracer.keep_entries:
            return self._trace_graph(leaves, in_tree, positions)
        if tracer.problems:
            raise UntraceableError(f"tapegrad.function({self.name}): {tracer.problems[0]}")
        graph = Graph(
            tracer.inputs,
            tracer.nodes,
            outputs,
            tracer.constants,
            captured_variables=tracer.variables,
            updates=tracer.updates(),
        )
        return graph, out_tree

    def _probe_trace(
        self, leaves: list[Any], in_tree: Any, positions: list[int], size: int
    ) -> tuple[Graph, Any]:
        """The trace at batch ``size`` proving batch polymorphism (not compiled, not counted)."""
        return self._trace_graph(resized_rows(leaves, positions, size), in_tree, positions)

    @staticmethod
    def _output_atom(tracer: FunctionTracer, leaf: Any, j: int) -> Atom:
        if isinstance(leaf, Tensor):
            return tracer.atom(leaf)
        if isinstance(leaf, np.ndarray | np.generic):
            return tracer.atom(leaf)
        if leaf is None or isinstance(leaf, bool | int | float | complex | str):
            return Literal(leaf)
        raise TypeError(
            f"tapegrad.function: output {j} is a {type(leaf).__name__}; a traced function "
            "returns Tensors, arrays, Python numbers or None (in lists, tuples and dicts)"
        )

    def __repr__(self) -> str:
        return f"<tapegrad.function {self.name}: {self.tracing_count} trace(s)>"


def _signature(leaves: list[Any], in_tree: Any, name: str) -> tuple[Any, list[int]]:
    """The cache key of a call, and the positions of the leaves that are graph inputs."""
    parts: list[Any] = [_hashable(in_tree)]
    positions: list[int] = []
    for k, leaf in enumerate(leaves):
        if isinstance(leaf, Variable):
            parts.append(("variable", id(leaf)))
        elif isinstance(leaf, Tensor):
            value = leaf._value
            parts.append(("array", value.shape, value.dtype.str))
            positions.append(k)
        elif isinstance(leaf, np.ndarray | np.generic):
            parts.append(("array", leaf.shape, leaf.dtype.str))
            positions.append(k)
        else:
            try:
                hash(leaf)
            except TypeError:
                raise TypeError(
                    f"tapegrad.function({name}): argument leaf {k} is an unhashable "
                    f"{type(leaf).__name__}; pass arrays, Tensors, Python values, or nest "
                    "them in lists/tuples/dicts"
                ) from None
            parts.append(("static", type(leaf), leaf))
    return tuple(parts), positions


def _array_key(args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Shapes and dtypes of positional arguments that are all arrays, plain Tensors or None."""
    key: list[Any] = []
    for arg in args:
        kind = type(arg)
        if kind is np.ndarray:
            key.append((arg.shape, arg.dtype))
        elif kind is Tensor:
            value = arg._value
            key.append((value.shape, value.dtype))
        elif arg is None:
            key.append(None)
        else:
            return None
    return tuple(key)


def _hashable(tree: Any) -> Any:
    if isinstance(tree, list | tuple):
        return tuple(_hashable(part) for part in tree)
    return tree


def _describe_key(key: Any) -> str:
    described = []
    for part in key[1:]:
        if part[0] == "array":
            described.append(f"{np.dtype(part[2]).name}{list(part[1])}")
        elif part[0] == "static":
            described.append(repr(part[2]))
        else:
            described.append("Variable")
    return "(" + ", ".join(described) + ")"


def function(
    func: Callable[..., Any] | None = None,
    *,
    jit: bool = True,
    optimize: bool = True,
    batch_polymorphic: bool = False,
) -> Any:
    """Compile ``func`` into graphs: traced once per input signature, optimized, compiled.

    Args:
        func: A function of Tensors/arrays (and Python values, nested in lists, tuples
            and dicts). It may use layers, `GradientTape`, `gradients`, optimizers and
            Variables; Variables are captured by reference and their assignments run
            in the compiled code.
        jit: Generate straight-line code (`tapegrad.graph.codegen`); False runs the
            optimized graph with the interpreter.
        optimize: Run the graph passes (dead code, common subexpressions, constant
            folding, simplification) before compiling.
        batch_polymorphic: Reuse a trace when only the leading size of the array
            arguments changes (a smaller last batch): the graph is re-specialized to the
            new size, proven by one more trace of the Python function at a small probe
            size (not compiled), and traced again where the two traces differ otherwise
            than by the batch (`tapegrad.graph.polymorphic`). Off by default, as in
            ``jax.jit``: two traces cannot prove a form such as ``min(B, 32)`` wrong.
            ``Model.fit``/``evaluate``/``predict`` turn it on.

    Returns:
        A `Function` (or a decorator making one when ``func`` is omitted).

    Raises:
        TracerValueError: (at call) the function reads the value of a traced tensor.
        UntraceableError: (at call) it calls an op that is not in the primitive table.

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> @tg.function
        ... def f(x):
        ...     return tnp.sum(tnp.tanh(x) * 2.0)
        >>> float(f(tnp.ones(3)))
        4.569...
        >>> f.tracing_count
        1
    """
    if func is None:
        return functools.partial(
            function, jit=jit, optimize=optimize, batch_polymorphic=batch_polymorphic
        )
    return Function(func, jit=jit, optimize=optimize, batch_polymorphic=batch_polymorphic)


__all__ = [
    "ConcreteFunction",
    "Function",
    "FunctionTracer",
    "TracerValueError",
    "current_tracer",
    "function",
    "is_traced",
]
