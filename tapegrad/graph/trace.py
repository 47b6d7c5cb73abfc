"""Trace a function into a `Graph` by recording the primitives it calls.

`trace` runs the function once on the example arguments with a recorder on the core's
recorder stack (the mechanism tapes use; the stack is per thread, so ops other threads run
meanwhile never enter the graph). Every primitive call that depends on an
argument — or on a trainable Variable — becomes a `Node`; everything else is resolved at
trace time: Python control flow takes the branch the example values take, arrays and
Tensors that do not depend on the arguments become graph constants, and Python scalars,
tuples, slices, None and dtypes stay inline (as literals or params).

Values the function pulls out of a traced Tensor as a raw array (``np.asarray(t)``,
``tnp.where``'s condition) are recognised when the very same array object reaches a
primitive, and enter the graph through ``stop_gradient`` (they carry no gradient in
eager mode either). Anything computed from them with plain NumPy is a constant of the
graph: `trace_checked` retraces on other values to refuse such functions.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tapegrad.core import primitive as _primitive
from tapegrad.core.primitive import PRIMITIVES, Primitive, set_recorders
from tapegrad.core.tensor import Tensor, Variable
from tapegrad.core.tree import tree_flatten, tree_unflatten
from tapegrad.graph.compare import describe_difference
from tapegrad.graph.ir import Atom, Graph, Input, Literal, Node


class UntraceableError(ValueError):
    """The function cannot be represented by a graph of table primitives."""


class EntriesNeeded(BaseException):
    """`tapegrad.gradients` was called in a trace that does not keep its recorded calls
    (they would hold every value of the trace alive): the function is traced again,
    keeping them.

    A BaseException, so that a user's ``except Exception`` does not swallow it.
    """


def trace(function: Callable[..., Any], *example_args: Any) -> Graph:
    """Record the primitives ``function(*example_args)`` calls into a `Graph`.

    Args:
        function: A function of Tensors written with tapegrad ops (``tapegrad.numpy``,
            ``tapegrad.ops``, Tensor operators, NumPy functions on Tensors).
        *example_args: Arrays, Tensors or Python numbers, or nested lists/tuples/dicts of
            them. Each leaf becomes an ``"arg"`` input of the graph.

    Returns:
        The graph. Trainable Variables the function read are its ``"variable"`` inputs;
        calling the graph without ``variables=`` binds the same Variables again.

    Raises:
        UntraceableError: a primitive that depends on the arguments is not in the table
            (a `custom_gradient` function, a redefined user primitive).

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> w = tg.Variable([1.0, 2.0])
        >>> graph = trace(lambda x: tnp.maximum(x * w, 0.0), tg.tensor([3.0, -1.0]))
        >>> print(graph)
        { lambda ; x0:f32[2] | w0:f32[2] . let
            t0:f32[2] = multiply x0 w0
            t1:f32[2] = maximum t0 0.0
          in t1 }
        >>> graph(tg.tensor([1.0, 1.0])).numpy()
        array([1., 2.], dtype=float32)
    """
    leaves, in_tree = tree_flatten(example_args)
    tracer = _Tracer()
    arguments = tree_unflatten(
        in_tree, [tracer.add_argument(leaf, k) for k, leaf in enumerate(leaves)]
    )
    set_recorders(_primitive.active_recorders() + (tracer,))
    try:
        result = function(*arguments)
    finally:
        set_recorders(tuple(r for r in _primitive.active_recorders() if r is not tracer))
    if tracer.problems:
        raise UntraceableError(tracer.problems[0])
    out_leaves, out_tree = tree_flatten(result)
    outputs = [tracer.atom(leaf) for leaf in out_leaves]
    return Graph(
        tracer.inputs,
        tracer.nodes,
        outputs,
        tracer.constants,
        in_tree,
        out_tree,
        captured_variables=tracer.variables,
    )


def trace_checked(
    function: Callable[..., Any], example_args: Sequence[Any], probes: Sequence[Sequence[Any]]
) -> Graph:
    """Trace ``function`` and make sure the graph does not depend on the values traced.

    The function is traced again on each probe (other values, other sizes of the batch
    axis) and every trace must compute the same thing (`describe_difference`); the
    replayed graph must reproduce each probe's direct result exactly; and every output
    must depend on the arguments. This refuses data-dependent Python control flow,
    NumPy computations on raw values and graphs specialised to one batch size.

    Args:
        function: As for `trace`.
        example_args: The arguments of the trace that is returned.
        probes: Other argument tuples, of the same structure, dtypes and ranks.

    Returns:
        The graph traced on ``example_args``.

    Raises:
        UntraceableError: describing the first difference found.
    """
    graph = trace(function, *example_args)
    _check_outputs_depend_on_arguments(graph)
    for k, probe in enumerate(probes):
        # Probe values may leave the function's domain (sqrt of a negative): the check
        # compares graphs and results, NaN included, so NumPy's warnings are noise here.
        with np.errstate(all="ignore"):
            other = trace(function, *probe)
            problem = describe_difference(graph, other)
            if problem:
                raise UntraceableError(
                    f"the traced graph changes with the input values or sizes ({problem}, "
                    f"probe {k}): the function uses data-dependent Python control flow, "
                    "NumPy on raw values, or sizes read from the input"
                )
            _check_replay(function, graph, probe, k)
    return graph


def _check_replay(function: Callable[..., Any], graph: Graph, probe: Sequence[Any], k: int) -> None:
    direct = tree_flatten(function(*_as_tensors(probe)))[0]
    replayed = tree_flatten(graph(*probe))[0]
    for j, (a, b) in enumerate(zip(direct, replayed, strict=True)):
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        if a_arr.shape != b_arr.shape or not np.array_equal(a_arr, b_arr, equal_nan=True):
            raise UntraceableError(
                f"replaying the graph does not reproduce output {j} of the function on "
                f"probe {k}: part of the computation happens outside tapegrad primitives"
            )


def _as_tensors(args: Sequence[Any]) -> list[Any]:
    leaves, tree = tree_flatten(tuple(args))
    return list(tree_unflatten(tree, [x if isinstance(x, Tensor) else Tensor(x) for x in leaves]))


def _check_outputs_depend_on_arguments(graph: Graph) -> None:
    reached = {spec.id for spec in graph.arg_inputs}
    for node in graph.nodes:
        if any(not isinstance(a, Literal) and a in reached for a in node.inputs):
            reached.update(node.outputs)
    for j, atom in enumerate(graph.outputs):
        if isinstance(atom, Literal) or atom not in reached:
            raise UntraceableError(
                f"output {j} does not depend on the inputs through tapegrad primitives "
                "(it was computed outside them, e.g. with NumPy on raw arrays, or it is "
                "a constant)"
            )


class _Tracer:
    """The recorder behind `trace`: turns observed primitive calls into nodes."""

    # Comparisons and stop_gradient matter to a graph even though tapes skip them.
    records_nondifferentiable = True

    def __init__(self) -> None:
        self.inputs: list[Input] = []
        self.nodes: list[Node] = []
        self.constants: dict[int, np.ndarray] = {}
        self.variables: list[Variable] = []
        self.problems: list[str] = []
        self._ids: dict[int, int] = {}  # id(traced Tensor) -> value id
        self._aliases: dict[int, int] = {}  # id(a traced Tensor's array) -> value id
        self._frozen: dict[int, int] = {}  # value id -> its stop_gradient value id
        self._constant_ids: dict[int, int] = {}  # id(array) -> constant value id
        self._variable_ids: dict[int, int] = {}  # id(Variable) -> input value id
        self._avals: dict[int, tuple[tuple[int, ...], np.dtype]] = {}
        # No id above may be reused while it is a key: arguments, constants' sources and
        # what cannot be weakly referenced stay alive; the results of recorded calls
        # leave their tables when they die (`_follow`), so a trace holds no more memory
        # than the run it observes.
        self._alive: list[Any] = []
        self._refs: dict[int, weakref.ref[Any]] = {}

    def _new_id(self, shape: tuple[int, ...], dtype: np.dtype) -> int:
        value_id = len(self._avals)
        self._avals[value_id] = (tuple(shape), np.dtype(dtype))
        return value_id

    # -- the recorder protocol ------------------------------------------------------------
    def tracks(self, tensor: Tensor) -> bool:
        return id(tensor) in self._ids

    def record(
        self,
        prim: Primitive,
        args: tuple[Any, ...],
        values: list[Any],
        params: dict[str, Any],
        result: Any,
    ) -> None:
        if not any(self._depends(a) for a in args):
            return
        if PRIMITIVES.get(prim.name) is not prim:
            self.problems.append(
                f"primitive {prim.name!r} is not in the primitive table (a custom_gradient "
                "function or a redefined primitive): declare it with tapegrad.primitive "
                "and defvjp to make it traceable"
            )
            return
        inputs = tuple(self.atom(a) for a in args)
        outs = result if prim.multiple_results else (result,)
        out_ids = []
        for out in outs:
            raw = out._value
            value_id = self._new_id(np.shape(raw), raw.dtype)
            self._ids[id(out)] = value_id
            self._aliases[id(raw)] = value_id
            self._follow(out, self._ids)
            self._follow(raw, self._aliases)
            out_ids.append(value_id)
        self.nodes.append(
            Node(
                prim.name,
                inputs,
                _frozen_params(params),
                tuple(out_ids),
                tuple(self._avals[i][0] for i in out_ids),
                tuple(self._avals[i][1] for i in out_ids),
            )
        )

    def _follow(self, obj: Any, table: dict[int, int]) -> None:
        """Drop ``obj``'s id from ``table`` when ``obj`` dies (its id may then be reused)."""
        key = id(obj)
        try:
            self._refs[key] = weakref.ref(obj, functools.partial(_forget, table, self._refs, key))
        except TypeError:  # (NumPy scalars take no weak references: kept alive instead)
            self._alive.append(obj)

    # -- arguments and atoms ----------------------------------------------------------------
    def add_argument(self, leaf: Any, position: int) -> Tensor:
        if isinstance(leaf, Tensor):
            raw = np.array(leaf._value, copy=True)
        elif isinstance(leaf, np.ndarray | np.generic | bool | int | float | complex):
            raw = Tensor(
                np.array(leaf, copy=True) if isinstance(leaf, np.ndarray | np.generic) else leaf
            )._value
        else:
            raise TypeError(
                f"trace: argument leaf {position} is a {type(leaf).__name__}, not an array; "
                "close over non-array values instead (functools.partial or a lambda)"
            )
        tensor = Tensor._wrap(raw)
        value_id = self._new_id(raw.shape, raw.dtype)
        self.inputs.append(Input(value_id, "arg", tuple(raw.shape), raw.dtype, f"x{position}"))
        self._ids[id(tensor)] = value_id
        self._aliases[id(raw)] = value_id
        self._alive.append(tensor)
        return tensor

    def _depends(self, arg: Any) -> bool:
        if isinstance(arg, Tensor):
            return (
                id(arg) in self._ids
                or id(arg._value) in self._aliases
                or (isinstance(arg, Variable) and arg.trainable)
            )
        return isinstance(arg, np.ndarray | np.generic) and id(arg) in self._aliases

    def atom(self, arg: Any) -> Atom:
        """The graph value (or literal) an argument of a primitive stands for."""
        if isinstance(arg, Tensor):
            found = self._ids.get(id(arg))
            if found is not None:
                return found
            if isinstance(arg, Variable) and arg.trainable:
                return self._variable(arg)
            return self._raw(arg._value)
        if isinstance(arg, np.ndarray | np.generic):
            return self._raw(arg)
        return Literal(arg)

    def _raw(self, raw: Any) -> int:
        alias = self._aliases.get(id(raw))
        if alias is not None:
            return self._no_gradient(alias)
        found = self._constant_ids.get(id(raw))
        if found is not None:
            return found
        value = np.array(raw, copy=True)
        value_id = self._new_id(value.shape, value.dtype)
        self.constants[value_id] = value
        self._constant_ids[id(raw)] = value_id
        self._alive.append(raw)
        return value_id

    def _no_gradient(self, value_id: int) -> int:
        """A value used as a raw array: like eager mode, no gradient flows through it."""
        shape, dtype = self._avals[value_id]
        if dtype.kind not in "fc":
            return value_id
        frozen = self._frozen.get(value_id)
        if frozen is None:
            frozen = self._new_id(shape, dtype)
            self.nodes.append(Node("stop_gradient", (value_id,), {}, (frozen,), (shape,), (dtype,)))
            self._frozen[value_id] = frozen
        return frozen

    def _variable(self, variable: Variable) -> int:
        found = self._variable_ids.get(id(variable))
        if found is None:
            raw = variable._value
            found = self._new_id(np.shape(raw), raw.dtype)
            self.inputs.append(
                Input(found, "variable", tuple(np.shape(raw)), raw.dtype, str(variable.name))
            )
            self._variable_ids[id(variable)] = found
            self.variables.append(variable)
        return found


def _forget(table: dict[int, int], refs: dict[int, Any], key: int, ref: Any) -> None:
    # A weak reference's callback: runs as the object dies, before its id can be reused.
    if refs.get(key) is ref:
        del refs[key]
        table.pop(key, None)


def _frozen_params(params: dict[str, Any]) -> dict[str, Any]:
    """Params with arrays copied and Tensors made arrays (later mutation cannot leak in)."""
    return {key: _freeze(value) for key, value in params.items()}


def _freeze(value: Any) -> Any:
    if isinstance(value, Tensor):
        return np.array(value._value, copy=True)
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, list):
        return [_freeze(v) for v in value]
    return value


__all__ = ["EntriesNeeded", "UntraceableError", "trace", "trace_checked"]
