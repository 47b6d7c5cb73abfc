"""The graph IR: inputs, constants and a straight-line list of primitive calls.

A `Graph` is what `trace` records and what `serialize` stores. Every value has an integer
id; a `Node` names a primitive of the table (`PRIMITIVES`), the ids (or inline Python
literals) it reads, its params and the ids, shapes and dtypes of what it produces::

    { lambda c0:f32[3] ; x0:f32[2,3] | w0:f32[3] . let
        t0:f32[2,3] = multiply x0 w0
        t1:f32[2,3] = add t0 c0
        t2:f32[2] = sum[axis=(1,), keepdims=False] t1
      in (t2,) }

Inputs come in two kinds: ``"arg"`` (the function's arguments, in order) and
``"variable"`` (trainable Variables the function read, in first-read order), so a
deserialized graph can be bound to fresh Variables. Replaying (`evaluate`, or calling the
graph) looks each primitive up by name and calls it: on Tensors the calls are recorded by
tapes like any other op, so the replay is differentiable through the same VJP rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.core.primitive import PRIMITIVES
from tapegrad.core.tensor import Tensor, Variable
from tapegrad.core.tree import TreeDef, tree_flatten, tree_unflatten
from tapegrad.graph.signatures import call_problem

Shape = tuple[int, ...]

INPUT_KINDS = ("arg", "variable")


@dataclasses.dataclass(frozen=True)
class Literal:
    """A Python value (number, None, tuple, slice, ...) passed inline to a primitive."""

    value: Any


# A node argument or graph output: a value id, or an inline literal.
Atom = int | Literal


@dataclasses.dataclass(frozen=True)
class Input:
    """A graph input: an argument of the function or a Variable it read."""

    id: int
    kind: str
    shape: Shape
    dtype: np.dtype
    name: str = ""


@dataclasses.dataclass(frozen=True)
class Node:
    """One primitive call: ``outputs = primitive(*inputs, **params)``.

    ``shapes`` and ``dtypes`` describe ``outputs`` one to one (a single entry for the
    usual single-result primitive; `shape` and `dtype` read it).
    """

    primitive: str
    inputs: tuple[Atom, ...]
    params: dict[str, Any]
    outputs: tuple[int, ...]
    shapes: tuple[Shape, ...]
    dtypes: tuple[np.dtype, ...]

    @property
    def shape(self) -> Shape:
        return self.shapes[0]

    @property
    def dtype(self) -> np.dtype:
        return self.dtypes[0]


class Graph:
    """A traced function: inputs, constants, nodes in execution order, outputs.

    Args:
        inputs: `Input` records, the ``"arg"`` ones first (in argument order), then the
            ``"variable"`` ones.
        nodes: `Node` records in execution order.
        outputs: One `Atom` per output leaf.
        constants: Arrays by value id (closed-over arrays, values computed outside
            primitives).
        in_tree: Structure of the arguments (a `tree_flatten` definition of the tuple
            of arguments); None means a flat tuple of ``len(arg_inputs)`` leaves.
        out_tree: Structure of the result (None: a single leaf).
        captured_variables: The Variables read at trace time (not serialized), bound
            when the graph is called without ``variables=``.
        updates: New values of ``"variable"`` inputs (a traced function that assigns to
            Variables, e.g. an optimizer step): input value id -> the `Atom` holding the
            value the Variable takes after the call. Live like outputs for every pass.

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> from tapegrad.graph import trace
        >>> graph = trace(lambda x: tnp.sum(x * 2.0, axis=1), tg.tensor([[1.0, 2.0]]))
        >>> print(graph)
        { lambda ; x0:f32[1,2] . let
            t0:f32[1,2] = multiply x0 2.0
            t1:f32[1] = sum[axis=(1,), keepdims=False] t0
          in t1 }
        >>> graph(tg.tensor([[3.0, 4.0]])).numpy()
        array([14.], dtype=float32)
    """

    def __init__(
        self,
        inputs: Sequence[Input],
        nodes: Sequence[Node],
        outputs: Sequence[Atom],
        constants: dict[int, np.ndarray] | None = None,
        in_tree: TreeDef = None,
        out_tree: TreeDef = None,
        captured_variables: Sequence[Variable] | None = None,
        updates: dict[int, Atom] | None = None,
    ) -> None:
        self.inputs = list(inputs)
        self.nodes = list(nodes)
        self.outputs = list(outputs)
        self.constants = dict(constants or {})
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.captured_variables = list(captured_variables) if captured_variables else None
        self.updates: dict[int, Atom] = dict(updates or {})

    @property
    def arg_inputs(self) -> list[Input]:
        return [i for i in self.inputs if i.kind == "arg"]

    @property
    def variable_inputs(self) -> list[Input]:
        return [i for i in self.inputs if i.kind == "variable"]

    def __call__(self, *args: Any, variables: Sequence[Any] | None = None) -> Any:
        """Replay the graph on ``args`` (same structure, dtypes and ranks as traced).

        Arguments are converted to Tensors, so the result is made of Tensors recorded by
        any active tape. ``variables`` binds the ``"variable"`` inputs (by position);
        by default the Variables read at trace time.
        """
        leaves, in_tree = tree_flatten(args)
        expected = (
            self.in_tree
            if self.in_tree is not None
            else tree_flatten(tuple(range(len(self.arg_inputs))))[1]
        )
        if in_tree != expected:
            raise ValueError(
                f"graph: called with arguments of structure {_describe_tree(in_tree)}, "
                f"but it was traced with {_describe_tree(expected)}"
            )
        if variables is None:
            if self.captured_variables is None and self.variable_inputs:
                raise ValueError(
                    f"graph: it reads {len(self.variable_inputs)} Variable(s); pass them "
                    "with variables=[...] (in the order of graph.variable_inputs)"
                )
            variables = self.captured_variables or []
        tensors = [x if isinstance(x, Tensor) else Tensor(x) for x in leaves]
        flat = evaluate(self, tensors, variables)
        outs = [Tensor._wrap(np.asarray(o)) if not isinstance(o, Tensor) else o for o in flat]
        return tree_unflatten(self.out_tree, outs)

    def verify(self, example_args: Sequence[Any] | None = None) -> None:
        """Check the graph is well formed and its shapes and dtypes are what it computes.

        Checks: value ids are defined once and before use; every primitive is in the
        table; every node's inputs and params fit its primitive's signature (arity,
        param names: `tapegrad.graph.signatures`); then the graph is re-run (on
        ``example_args``, flat, or on seeded random values of the input shapes) and each
        node's results must have the recorded shapes and dtypes.

        Raises:
            ValueError: naming the node and the problem.
        """
        verify(self, example_args)

    def __str__(self) -> str:
        return format_graph(self)

    def __repr__(self) -> str:
        return (
            f"<Graph: {len(self.arg_inputs)} args, {len(self.variable_inputs)} variables, "
            f"{len(self.constants)} constants, {len(self.nodes)} nodes>"
        )


# -- replay ---------------------------------------------------------------------------------
def evaluate(
    graph: Graph, args: Sequence[Any], variables: Sequence[Any] = (), with_updates: bool = False
) -> Any:
    """Run ``graph`` on flat ``args`` and ``variables``; return the flat outputs.

    Each node calls its primitive from the table: Tensors in, Tensors out (recorded by
    tapes); plain arrays in, plain arrays out.

    With ``with_updates``, returns ``(outputs, updates)``: ``updates`` maps each key of
    ``graph.updates`` (a variable input's value id) to its new value. Nothing is assigned.
    """
    arg_inputs, variable_inputs = graph.arg_inputs, graph.variable_inputs
    if len(args) != len(arg_inputs):
        raise ValueError(f"graph: expected {len(arg_inputs)} arguments, got {len(args)}")
    if len(variables) != len(variable_inputs):
        raise ValueError(f"graph: expected {len(variable_inputs)} variables, got {len(variables)}")
    env: dict[int, Any] = dict(graph.constants)
    for spec, value in [
        *zip(arg_inputs, args, strict=True),
        *zip(variable_inputs, variables, strict=True),
    ]:
        _check_input(spec, value)
        env[spec.id] = value
    for node in graph.nodes:
        prim = PRIMITIVES.get(node.primitive)
        if prim is None:
            raise ValueError(f"graph: unknown primitive {node.primitive!r}")
        result = prim(*[_read(env, a) for a in node.inputs], **node.params)
        if not prim.multiple_results:
            env[node.outputs[0]] = result
        else:
            for out_id, value in zip(node.outputs, result, strict=True):
                env[out_id] = value
    outputs = [_read(env, a) for a in graph.outputs]
    if with_updates:
        return outputs, {key: _read(env, atom) for key, atom in graph.updates.items()}
    return outputs


def _read(env: dict[int, Any], atom: Atom) -> Any:
    return atom.value if isinstance(atom, Literal) else env[atom]


def _check_input(spec: Input, value: Any) -> None:
    raw = value._value if isinstance(value, Tensor) else np.asarray(value)
    # Shapes may differ (a Lambda graph runs on any batch size); dtype and rank may not.
    if raw.dtype != spec.dtype or raw.ndim != len(spec.shape):
        raise ValueError(
            f"graph: {spec.kind} input {spec.name or spec.id} must be a {spec.dtype.name} "
            f"array of rank {len(spec.shape)} (traced as {format_aval(spec.shape, spec.dtype)}), "
            f"got {format_aval(raw.shape, raw.dtype)}"
        )


# -- verification ---------------------------------------------------------------------------
def verify(graph: Graph, example_args: Sequence[Any] | None = None) -> None:
    """See `Graph.verify`."""
    defined: set[int] = set()

    def define(value_id: Any, what: str) -> None:
        if not isinstance(value_id, int) or isinstance(value_id, bool):
            raise ValueError(f"graph: {what} has a non-integer value id {value_id!r}")
        if value_id in defined:
            raise ValueError(f"graph: value id {value_id} is defined twice ({what})")
        defined.add(value_id)

    seen_variable = False
    for spec in graph.inputs:
        if spec.kind not in INPUT_KINDS:
            raise ValueError(f"graph: input {spec.id} has unknown kind {spec.kind!r}")
        if spec.kind == "arg" and seen_variable:
            raise ValueError("graph: 'arg' inputs must come before 'variable' inputs")
        seen_variable = seen_variable or spec.kind == "variable"
        define(spec.id, f"input {spec.name or spec.id}")
    for value_id in graph.constants:
        define(value_id, "a constant")
    for index, node in enumerate(graph.nodes):
        where = f"node {index} ({node.primitive})"
        if node.primitive not in PRIMITIVES:
            raise ValueError(f"graph: {where}: unknown primitive {node.primitive!r}")
        prim = PRIMITIVES[node.primitive]
        problem = call_problem(prim, len(node.inputs), node.params)
        if problem:
            raise ValueError(f"graph: {where}: {problem}")
        for atom in node.inputs:
            if not isinstance(atom, Literal) and atom not in defined:
                raise ValueError(f"graph: {where} reads value {atom!r} before it is defined")
        if not (len(node.outputs) == len(node.shapes) == len(node.dtypes)) or not node.outputs:
            raise ValueError(f"graph: {where}: outputs, shapes and dtypes do not match")
        # A multiple-results primitive may return one piece (a split into one).
        if len(node.outputs) > 1 and not prim.multiple_results:
            raise ValueError(
                f"graph: {where} has {len(node.outputs)} outputs, but the primitive "
                f"{'returns several' if prim.multiple_results else 'returns one'}"
            )
        for out_id in node.outputs:
            define(out_id, where)
    for atom in graph.outputs:
        if not isinstance(atom, Literal) and atom not in defined:
            raise ValueError(f"graph: output reads undefined value {atom!r}")
    variable_ids = {spec.id: spec for spec in graph.variable_inputs}
    avals = _avals(graph)
    for key, atom in graph.updates.items():
        if key not in variable_ids:
            raise ValueError(f"graph: update of {key!r}, which is not a variable input")
        if not isinstance(atom, Literal) and atom not in defined:
            raise ValueError(f"graph: update of a variable reads undefined value {atom!r}")
        spec = variable_ids[key]
        if not isinstance(atom, Literal) and avals[atom] != (tuple(spec.shape), spec.dtype):
            raise ValueError(
                f"graph: variable {spec.name or key} ({format_aval(spec.shape, spec.dtype)}) is "
                f"updated with a {format_aval(*avals[atom])} value"
            )
    if graph.in_tree is not None and count_leaves(graph.in_tree) != len(graph.arg_inputs):
        raise ValueError("graph: the argument structure does not match the 'arg' inputs")
    _verify_by_running(graph, example_args)


def _avals(graph: Graph) -> dict[int, tuple[Shape, np.dtype]]:
    """Value id -> (shape, dtype), for inputs, constants and node results."""
    avals: dict[int, tuple[Shape, np.dtype]] = {
        spec.id: (tuple(spec.shape), np.dtype(spec.dtype)) for spec in graph.inputs
    }
    for value_id, value in graph.constants.items():
        avals[value_id] = (np.shape(value), np.asarray(value).dtype)
    for node in graph.nodes:
        for out_id, shape, dtype in zip(node.outputs, node.shapes, node.dtypes, strict=True):
            avals[out_id] = (tuple(shape), np.dtype(dtype))
    return avals


def _verify_by_running(graph: Graph, example_args: Sequence[Any] | None) -> None:
    rng = np.random.default_rng(0)
    args = (
        list(example_args)
        if example_args is not None
        else [_example(spec, rng) for spec in graph.arg_inputs]
    )
    variables = [_example(spec, rng) for spec in graph.variable_inputs]
    env: dict[int, Any] = dict(graph.constants)
    for spec, value in [
        *zip(graph.arg_inputs, args, strict=True),
        *zip(graph.variable_inputs, variables, strict=True),
    ]:
        env[spec.id] = np.asarray(value._value if isinstance(value, Tensor) else value)
    with np.errstate(all="ignore"):
        for index, node in enumerate(graph.nodes):
            prim = PRIMITIVES[node.primitive]
            operands = [_read(env, a) for a in node.inputs]
            try:
                result = prim.impl(*operands, **node.params)
            except np.linalg.LinAlgError as err:
                # The values (random or zeros) suit the graph's shapes, not every op's
                # domain: a singular matrix is not a malformed graph. Trust the record —
                # but only for square matrices (else it is the shapes that are wrong).
                shape: Shape = np.shape(operands[0]) if operands else ()
                if len(shape) < 2 or shape[-1] != shape[-2]:
                    raise ValueError(
                        f"graph: node {index} ({node.primitive}) fails on inputs of the "
                        f"recorded shapes: {err}"
                    ) from err
                result = tuple(
                    np.zeros(s, d) for s, d in zip(node.shapes, node.dtypes, strict=True)
                )
                result = result if prim.multiple_results else result[0]
            except Exception as err:  # a hostile document may provoke any error in an impl
                raise ValueError(
                    f"graph: node {index} ({node.primitive}) fails on inputs of the recorded "
                    f"shapes: {err}"
                ) from err
            results = result if prim.multiple_results else (result,)
            if len(results) != len(node.outputs):
                raise ValueError(
                    f"graph: node {index} ({node.primitive}) returned {len(results)} results, "
                    f"recorded {len(node.outputs)}"
                )
            for out_id, value, shape, dtype in zip(
                node.outputs, results, node.shapes, node.dtypes, strict=True
            ):
                value = np.asarray(value)
                if value.shape != tuple(shape) or value.dtype != dtype:
                    raise ValueError(
                        f"graph: node {index} ({node.primitive}) computes "
                        f"{format_aval(value.shape, value.dtype)} but records "
                        f"{format_aval(shape, dtype)}"
                    )
                env[out_id] = value


def _example(spec: Input, rng: np.random.Generator) -> np.ndarray:
    """Seeded values of an input's shape: random floats, zero integers (valid indices)."""
    if spec.dtype.kind in "fc":
        return rng.standard_normal(spec.shape).astype(spec.dtype)
    return np.zeros(spec.shape, spec.dtype)


# -- printing -------------------------------------------------------------------------------
_SHORT_DTYPES = {
    "float16": "f16",
    "float32": "f32",
    "float64": "f64",
    "complex64": "c64",
    "complex128": "c128",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "uint16": "u16",
    "uint32": "u32",
    "uint64": "u64",
    "bool": "bool",
}


def format_aval(shape: Sequence[int], dtype: Any) -> str:
    name = np.dtype(dtype).name
    return f"{_SHORT_DTYPES.get(name, name)}[{','.join(str(int(d)) for d in shape)}]"


def value_names(graph: Graph) -> dict[int, str]:
    """The printer's names: x0.. arguments, w0.. variables, c0.. constants, t0.. results."""
    names: dict[int, str] = {}
    for k, spec in enumerate(graph.arg_inputs):
        names[spec.id] = f"x{k}"
    for k, spec in enumerate(graph.variable_inputs):
        names[spec.id] = f"w{k}"
    for k, value_id in enumerate(graph.constants):
        names[value_id] = f"c{k}"
    count = 0
    for node in graph.nodes:
        for out_id in node.outputs:
            names[out_id] = f"t{count}"
            count += 1
    return names


def format_value(value: Any) -> str:
    """A compact rendering of a param or literal (arrays by dtype and shape)."""
    if isinstance(value, Literal):
        value = value.value
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return f"{format_aval(value.shape, value.dtype)}{{{','.join(map(str, value.ravel()))}}}"
        return format_aval(value.shape, value.dtype)
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    if isinstance(value, slice):
        parts = ["" if p is None else str(p) for p in (value.start, value.stop, value.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if value.step is not None else "")
    if value is Ellipsis:
        return "..."
    if isinstance(value, tuple):
        inner = ", ".join(format_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return repr(value)


def format_graph(graph: Graph) -> str:
    """A JAX-jaxpr-like listing: constants ; args | variables, one line per node."""
    names = value_names(graph)

    def decl(value_id: int, shape: Sequence[int], dtype: Any) -> str:
        return f"{names[value_id]}:{format_aval(shape, dtype)}"

    def atom(a: Atom) -> str:
        return format_value(a) if isinstance(a, Literal) else names.get(a, f"?{a}")

    consts = " ".join(decl(i, np.shape(v), np.asarray(v).dtype) for i, v in graph.constants.items())
    args = " ".join(decl(s.id, s.shape, s.dtype) for s in graph.arg_inputs)
    variables = " ".join(decl(s.id, s.shape, s.dtype) for s in graph.variable_inputs)
    head = f"{{ lambda {consts + ' ' if consts else ''}; {args}"
    head += f" | {variables}" if variables else ""
    lines = [head.rstrip() + " . let"]
    for node in graph.nodes:
        outs = " ".join(
            decl(o, s, d) for o, s, d in zip(node.outputs, node.shapes, node.dtypes, strict=True)
        )
        params = ", ".join(f"{k}={format_value(v)}" for k, v in node.params.items())
        call = node.primitive + (f"[{params}]" if params else "")
        lines.append(f"    {outs} = {' '.join([call, *map(atom, node.inputs)])}")
    results = [atom(a) for a in graph.outputs]
    shown = (
        results[0]
        if graph.out_tree is None and len(results) == 1
        else "(" + ", ".join(results) + ("," if len(results) == 1 else "") + ")"
    )
    if graph.updates:
        shown += " ; " + ", ".join(
            f"{names.get(k, f'?{k}')} <- {atom(a)}" for k, a in graph.updates.items()
        )
    lines.append(f"  in {shown} }}")
    return "\n".join(lines)


def count_leaves(tree: TreeDef) -> int:
    """Number of leaves of a `tree_flatten` structure definition."""
    if tree is None:
        return 1
    return sum(count_leaves(child) for child in tree[2])


def _describe_tree(tree: TreeDef) -> str:
    if tree is None:
        return "a single array"
    kind, _, children = tree
    return f"{kind} of {len(children)}"
