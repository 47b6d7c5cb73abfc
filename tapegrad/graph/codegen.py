"""Code generation: a graph becomes one straight-line Python function.

`compile_graph` specialises a `Graph` to its traced shapes and dtypes and writes Python
source with one line per node (a comment names the node as the printer does), compiled
with ``compile``/``exec`` of that text only; the table's implementations and ufuncs are
bound as globals. The source holds no text from the graph, which may come from a file:
names come from counters, params are numbers written out or values passed by reference
(strings too), param names are the impl's own (others go in a ``**`` dict), comments are
sanitized (`source_text`). Its `linecache` entry, for readable tracebacks, lives as long
as the compiled function. What the generated code does better than `evaluate`:

* no interpretation: no table look-ups, environment dicts or keyword parsing per node;
* preallocated buffers: a node whose primitive is a NumPy ufunc (``prim.ufunc``) writes
  into a buffer with ``out=``; buffers are reused by liveness (`passes/buffers.py`),
  in place where an input dies at the node, so steady-state calls allocate almost
  nothing; Variable updates go into the variables' own arrays when the old value is dead;
  after a primitive whose result layout only the run shows (a kernel's, einsum's), the
  buffer is taken when the inputs are C-ordered then (``out=(_s0 if x.flags.c_contiguous
  else None)``), where NumPy's own result would be C-ordered too;
* Python-float literals are bound as NumPy scalars of the operation's dtype (NumPy casts
  a weak Python scalar to that dtype anyway, so the result is the same and the call
  cheaper);
* dead nodes (nothing reads them) are not run;
* each result's name is deleted after its last reader, so its array is freed then (as
  eager mode frees a value its tape no longer needs), not when the call returns;
* optionally, fused kernels: groups of elementwise nodes (`passes/fusion.py`) run as one
  numba loop each (`tapegrad/graph/fused.py`, needs the ``jit`` extra).

Without fusion the results are bit-identical to `evaluate` for C-ordered arguments: the
same NumPy functions run on the same values in the same memory layout (a buffer is used
only where NumPy itself would lay the result out in C order). Fused kernels compute
elementwise in the same dtype, with +, -, *, / and sqrt exact, but transcendental
functions come from the C library (tanh through float64), so they agree to a few float
ulps, not bits.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> from tapegrad.graph import trace
    >>> x = np.array([1.0, 2.0, 3.0], np.float32)
    >>> compiled = compile_graph(trace(lambda x: tnp.tanh(x * 2.0) - 1.0, x), fuse=False)
    >>> print(compiled.source)  # doctest: +NORMALIZE_WHITESPACE
    def run(args, variables):
        x0, = args
        t0 = np_multiply(x0, _k0, out=_s0)  # t0:f32[3] = multiply x0 2.0
        t1 = np_tanh(t0, out=t0)  # t1:f32[3] = tanh t0
        del t0
        t2 = np_subtract(t1, _k1)  # t2:f32[3] = subtract t1 1.0
        del t1
        return [t2], []
    >>> outputs, updates = compiled([x], [])
    >>> outputs[0].tolist() == (np.tanh(x * 2.0) - 1.0).tolist()
    True
"""

from __future__ import annotations

import functools
import itertools
import keyword
import linecache
import weakref
from typing import Any

import numpy as np

from tapegrad.core.primitive import PRIMITIVES, Primitive
from tapegrad.graph.codegen_analysis import (
    avals_of,
    c_ordered,
    find_paired,
    find_scatter_adds,
    live_nodes,
)
from tapegrad.graph.codegen_buffers import (
    copy_array,
    out_text,
    own_array,
    return_line,
    storage_roots,
    unsure_arrays,
)
from tapegrad.graph.codegen_fused import fused_kernel_call, fused_units
from tapegrad.graph.compiled import CompiledGraph
from tapegrad.graph.ir import Atom, Graph, Literal, Node, value_names
from tapegrad.graph.passes.buffers import BufferPlan, Step, plan_buffers
from tapegrad.graph.passes.fusion import FusionGroup, Unit
from tapegrad.graph.signatures import keyword_name
from tapegrad.graph.source_text import check_source, identifier, plain
from tapegrad.graph.source_text import describe as _describe
from tapegrad.kernels import kernels_of, operand_for

Shape = tuple[int, ...]


def compile_graph(
    graph: Graph, *, fuse: bool | str = "auto", reuse_buffers: bool = True
) -> CompiledGraph:
    """Compile ``graph`` (specialised to its traced shapes and dtypes) to Python code.

    Args:
        graph: The graph. Arguments must later come with the traced shapes and dtypes.
        fuse: ``"auto"``: run a fused kernel for each group of elementwise nodes where
            the cost model predicts it is faster (needs numba; without it, nothing is
            fused); ``True``: fuse every group (numba required); ``False``: never.
        reuse_buffers: Write ufunc results into reused buffers (``False``: allocate every
            result, like `evaluate`).

    Returns:
        The `CompiledGraph`; ``.source`` shows the generated code.

    Raises:
        ImportError: ``fuse=True`` without numba installed.
        ValueError: a primitive the table does not have.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> from tapegrad.graph import evaluate, trace
        >>> x = np.linspace(-1, 1, 4, dtype=np.float32)
        >>> graph = trace(tg.grad(lambda x: tnp.sum(tnp.tanh(x) ** 2)), x)
        >>> compiled = compile_graph(graph, fuse=False)
        >>> (gradient,), updates = compiled([x], [])
        >>> gradient.tobytes() == evaluate(graph, [x])[0].tobytes()
        True
    """
    if fuse not in (True, False, "auto"):
        raise ValueError(f"compile_graph: fuse must be True, False or 'auto', got {fuse!r}")
    for node in graph.nodes:
        if node.primitive not in PRIMITIVES:
            raise ValueError(f"compile_graph: unknown primitive {node.primitive!r}")
    return _Compiler(graph, fuse, reuse_buffers).build()


# -- the compiler --------------------------------------------------------------------------
class _Compiler:
    def __init__(self, graph: Graph, fuse: bool | str, reuse: bool) -> None:
        self.graph = graph
        self.fuse = fuse
        self.reuse = reuse
        self.names = value_names(graph)
        self.avals = avals_of(graph)
        self.namespace: dict[str, Any] = {"np": np, "_copy": copy_array, "_own": own_array}
        self.globals_by_key: dict[Any, str] = {}
        self.keep_alive: list[Any] = []
        self.counter = itertools.count()
        self.lines: list[str] = []
        self.producer: dict[int, Node] = {}
        self.scatter_adds: dict[int, tuple[int, int]] = {}
        self.paired: dict[int, int] = {}
        # Result -> the inputs whose C order decides at run time whether it takes its buffer.
        self.guards: dict[int, list[int]] = {}
        for node in graph.nodes:
            for out in node.outputs:
                self.producer[out] = node

    # -- globals ---------------------------------------------------------------------------
    def bind(self, prefix: str, value: Any, key: Any = None) -> str:
        """A global name for ``value`` in the generated module.

        Names starting with ``_`` get a number; others (``np_add``, ``sum_impl``) are
        used as they are while they name the same object. Values with equal ``key``
        share one name.
        """
        key = ("id", id(value)) if key is None else key
        if key in self.globals_by_key:
            return self.globals_by_key[key]
        # User primitives are named "module.function": make an ASCII identifier of it.
        prefix = identifier(prefix)
        name = prefix
        if prefix.startswith("_") or self.namespace.get(name, value) is not value:
            name = f"{prefix}{next(self.counter)}"
        self.namespace[name] = value
        self.globals_by_key[key] = name
        self.keep_alive.append(value)  # ids in keys stay unique while the value lives
        return name

    def callee(self, prim: Primitive, ufunc: bool) -> str:
        if ufunc:
            return self.bind(f"np_{prim.ufunc.__name__}", prim.ufunc)
        if kernels_of(prim):
            # The primitive itself: on arrays it runs the kernel registry's choice for them
            # (the engine switches apply to compiled code too).
            return self.bind(f"{prim.name}_kernel", prim)
        return self.bind(f"{prim.name}_impl", prim.impl)

    def literal(self, value: Any, dtype: np.dtype | None) -> str:
        """Source text for an inline literal (a typed NumPy scalar where that is exact)."""
        if dtype is not None and type(value) in (int, float) and dtype.kind in "fc":
            typed = dtype.type(value)
            return self.bind("_k", typed, key=("k", dtype.str, repr(value)))
        return self.param(value)

    def param(self, value: Any) -> str:
        """Source text for a param or literal: numbers, bools and None (and tuples and
        lists of them) written out; anything else, strings included, passed by reference
        as a global, so no text from a graph ever becomes code."""
        if plain(value):
            return repr(value)
        return self.bind("_p", value)

    def keyword_args(self, prim: Primitive, params: dict[str, Any]) -> list[str]:
        """``name=value`` for each param the impl declares (the name written as the
        impl's signature spells it), and ``**_kwN`` (a dict bound by reference) for the
        rest, which only an impl taking ``**kwargs`` accepts."""
        named: list[str] = []
        rest: dict[str, Any] = {}
        for key, value in params.items():
            name = keyword_name(prim, key) if isinstance(key, str) else None
            if name is not None and name.isidentifier() and not keyword.iskeyword(name):
                named.append(f"{name}={self.param(value)}")
            else:
                rest[key] = value
        if rest:
            named.append(f"**{self.bind('_kw', rest)}")
        return named

    # -- code ------------------------------------------------------------------------------
    def build(self) -> CompiledGraph:
        live = live_nodes(self.graph)
        self.layout = c_ordered(self.graph, self.avals)
        units = fused_units(self.graph, live, self.avals, self.fuse)
        # add(x, index_add(g, idx)) as "x[idx] += g" in x's buffer (a slice's gradient
        # accumulated into the whole tensor's): the index_add's zeros are never built.
        self.scatter_adds = find_scatter_adds(self.graph, units, self.avals, self.layout)
        if self.scatter_adds:
            absorbed = {index for index, _ in self.scatter_adds.values()}
            units = [u for u in units if not (isinstance(u, int) and u in absorbed)]
        # A loss and its derivative on the same logits: one pass computes both.
        self.paired = find_paired(self.graph, units)
        if self.paired:
            absorbed = set(self.paired.values())
            units = [u for u in units if not (isinstance(u, int) and u in absorbed)]
        steps = [self.step(unit) for unit in units]
        escaping = {
            a
            for a in [*self.graph.outputs, *self.graph.updates.values()]
            if not isinstance(a, Literal)
        }
        targets = {
            atom: key
            for key, atom in self.graph.updates.items()
            if not isinstance(atom, Literal) and atom != key
        }
        external = {spec.id for spec in self.graph.inputs} | set(self.graph.constants)
        plan = plan_buffers(
            steps, external=external, escaping=escaping, update_targets=targets, reuse=self.reuse
        )
        self.plan = plan
        self.unsure_shares = {("share", v) for v in unsure_arrays(plan, self.guards)}
        for k, (shape, dtype) in enumerate(plan.slots):
            self.namespace[f"_s{k}"] = np.empty(shape, dtype)
        self.emit_header(plan)
        dying = self.dying_after(steps, escaping)
        descriptions = []
        for index, unit in enumerate(units):
            if isinstance(unit, FusionGroup):
                descriptions.append(self.emit_kernel(unit))
            else:
                self.emit_node(unit)
            if index in dying:
                # A local would keep its array alive to the end of the call: the forward
                # activations of every layer and every VJP temporary at once.
                self.lines.append(f"    del {', '.join(self.names[v] for v in dying[index])}")
        self.emit_return(plan)
        source = "\n".join(self.lines) + "\n"
        check_source(source)
        filename = f"<tapegrad compiled graph {next(_compiled_ids)}>"
        exec(compile(source, filename, "exec"), self.namespace)
        # Out of its own globals, so the function dies with its last user (no cycle).
        function = self.namespace.pop("run")
        # Tracebacks show the generated lines while the function lives; then the entry
        # goes with it.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        weakref.finalize(function, linecache.cache.pop, filename, None)
        return CompiledGraph(self.graph, source, function, descriptions, len(plan.slots))

    def dying_after(self, steps: list[Step], escaping: set[int]) -> dict[int, list[int]]:
        """Step index -> the results whose last reader it is (or that nothing reads).

        Values the call returns stay; inputs and constants are the caller's or globals.
        A view keeps its base array alive by itself, so names die by their own reads.
        """
        last: dict[int, int] = {}
        for index, step in enumerate(steps):
            for value in step.writes:
                last[value] = index
            for value in step.reads:
                if value in last:  # (only values a step produced: not inputs, constants)
                    last[value] = index
        dying: dict[int, list[int]] = {}
        for value, index in last.items():
            if value not in escaping:
                dying.setdefault(index, []).append(value)
        return dying

    def step(self, unit: Unit) -> Step:
        if isinstance(unit, FusionGroup):
            outs = unit.outputs
            return Step(
                tuple(unit.inputs),
                outs,
                tuple(self.avals[v] for v in outs),
                "out",
                shares_contiguous_only=True,
            )
        node = self.graph.nodes[unit]
        if unit in self.paired:
            partner = self.graph.nodes[self.paired[unit]]
            writes = node.outputs + partner.outputs
            pair_avals = ((node.shape, node.dtype), (partner.shape, partner.dtype))
            pair_reads = tuple(a for a in node.inputs if not isinstance(a, Literal))
            return Step(pair_reads, writes, pair_avals, "fresh", c_order=True, in_place=False)
        if unit in self.scatter_adds:
            producer, k = self.scatter_adds[unit]
            other = node.inputs[k]
            g = self.graph.nodes[producer].inputs[0]
            assert not isinstance(other, Literal) and not isinstance(g, Literal)
            return Step(
                (other, g),
                node.outputs,
                ((node.shape, node.dtype),),
                "out",
                c_order=True,
                in_place=True,
            )
        reads = tuple(a for a in node.inputs if not isinstance(a, Literal))
        avals = tuple(zip(node.shapes, node.dtypes, strict=True))
        # A buffer (C order) only where NumPy would lay the result out in C order too.
        c_order = all(self.layout[o] for o in node.outputs)
        kind = self.kind(node)
        if not c_order and kind == "out" and self.reuse:
            # Inputs of a layout known only at run time (a kernel's or einsum's result):
            # the buffer is used when they are all C-ordered then, where NumPy's own result
            # would be C-ordered too, so the step still allocates nothing fresh.
            unknown = [a for a in reads if not self.layout.get(a, False)]
            if unknown:
                self.guards[node.outputs[0]] = unknown
                c_order = True
        elementwise = PRIMITIVES[node.primitive].elementwise
        return Step(reads, node.outputs, avals, kind, c_order=c_order, in_place=elementwise)

    def out_form(self, node: Node) -> str | None:
        """How a node writes into a given array: "ufunc", "reduce", "expand" or None."""
        prim = PRIMITIVES[node.primitive]
        if prim.multiple_results:
            return None
        if prim.ufunc is not None and not node.params:
            return "ufunc"
        reads = [a for a in node.inputs if not isinstance(a, Literal)]
        if (
            prim.reduce_ufunc is not None
            and reads
            and self.avals[reads[0]][0]
            and set(node.params) <= {"axis", "keepdims"}
        ):
            return "reduce"
        if (
            prim.ufunc_steps is not None
            and len(reads) == 1
            and not node.params
            and self.avals[reads[0]][1] == node.dtype
        ):
            return "expand"
        return None

    def atom(self, atom: Atom, dtype: np.dtype | None = None) -> str:
        if isinstance(atom, Literal):
            return self.literal(atom.value, dtype)
        return self.names[atom]

    def emit_header(self, plan: BufferPlan) -> None:
        graph = self.graph
        self.lines.append("def run(args, variables):")
        args = [self.names[s.id] for s in graph.arg_inputs]
        variables = [self.names[s.id] for s in graph.variable_inputs]
        self.lines.append(
            f"    {', '.join(args)}{',' if args else ''} = args" if args else "    _ = args"
        )
        if variables:
            self.lines.append(f"    {', '.join(variables)}, = variables")
        for value_id, value in graph.constants.items():
            self.namespace[self.names[value_id]] = value
        for target in plan.in_place_updates:
            name = self.names[target]
            self.lines.append(f"    {name} = _own({name})  # its update is written in place")

    def operand_dtype(self, node: Node) -> np.dtype | None:
        """The dtype NumPy computes a ufunc in, when all array operands share it."""
        dtypes = {self.avals[a][1] for a in node.inputs if not isinstance(a, Literal)}
        if len(dtypes) != 1:
            return None
        (dtype,) = dtypes
        if dtype.kind not in "fc" or node.dtype not in (dtype, np.dtype(bool)):
            return None
        # Only where the ufunc has a loop taking every operand in that dtype (ldexp's
        # exponent stays an integer).
        return dtype if _has_loop(PRIMITIVES[node.primitive].ufunc, dtype) else None

    def emit_scatter_add(self, index: int) -> None:
        """``out = x; out[idx] += g`` for an absorbed ``add(x, index_add(g, idx))``."""
        node = self.graph.nodes[index]
        producer, k = self.scatter_adds[index]
        scatter = self.graph.nodes[producer]
        x, g = self.atom(node.inputs[k]), self.atom(scatter.inputs[0])
        out = self.names[node.outputs[0]]
        where = self.plan.placement.get(node.outputs[0], ("new",))
        comment = f"{_describe(node, self.names)} with {_describe(scatter, self.names)} folded in"
        if where[0] == "share" and self.names[where[1]] == x:
            self.lines.append(f"    {out} = {x}  # {comment}")
        elif where[0] == "slot":
            self.lines.append(f"    {out} = _s{where[1]}; {out}[...] = {x}  # {comment}")
        else:
            self.lines.append(f"    {out} = {x}.copy()  # {comment}")
        index = scatter.params[str(PRIMITIVES[scatter.primitive].scatter_index)]
        self.lines.append(f"    {out}[{self.param(index)}] += {g}")

    def emit_node(self, index: int) -> None:
        if index in self.scatter_adds:
            self.emit_scatter_add(index)
            return
        if index in self.paired:
            node, partner = self.graph.nodes[index], self.graph.nodes[self.paired[index]]
            both_prim = PRIMITIVES[node.primitive].paired_with[1]  # type: ignore[index]
            both = self.bind("xent_with_delta", both_prim)
            arg_text = ", ".join(self.atom(a) for a in node.inputs)
            self.lines.append(
                f"    {self.names[node.outputs[0]]}, {self.names[partner.outputs[0]]} = "
                f"{both}({arg_text})  # {_describe(node, self.names)} and "
                f"{_describe(partner, self.names)}"
            )
            return
        node = self.graph.nodes[index]
        comment = _describe(node, self.names)
        outs = ", ".join(self.names[o] for o in node.outputs)
        if PRIMITIVES[node.primitive].returns == "input":
            self.lines.append(f"    {outs} = {self.atom(node.inputs[0])}  # {comment}")
            return
        prim = PRIMITIVES[node.primitive]
        form = self.out_form(node)
        out = self.out_arg(node.outputs[0]) if form else ""
        # Typed literals only for ufuncs, whose casting rules make them exact.
        dtype = self.operand_dtype(node) if form == "ufunc" else None
        args = [self.atom(a, dtype) for a in node.inputs]
        if form == "ufunc":
            call = f"{self.callee(prim, True)}({', '.join(args)}{out})"
        elif form == "reduce":
            ufunc = prim.reduce_ufunc
            name = self.bind(f"np_{ufunc.__name__}_reduce", ufunc.reduce)
            # The impl's defaults (ufunc.reduce's own default axis is 0, not None).
            axis = self.param(node.params.get("axis"))
            keepdims = self.param(node.params.get("keepdims", False))
            call = f"{name}({args[0]}, axis={axis}, keepdims={keepdims}{out})"
        elif form == "expand":
            self.emit_expansion(node, args[0], out, comment)
            return
        elif prim.view_method is not None and not isinstance(node.inputs[0], Literal):
            # The ndarray method the impl calls, without the impl's Python frame.
            method, param = prim.view_method
            call = f"{args[0]}.{method}({self.param(node.params.get(param))})"
        else:
            params = self.keyword_args(prim, node.params)
            call = f"{self.callee(prim, False)}({', '.join([*args, *params])})"
        if prim.multiple_results:
            outs += ","
        self.lines.append(f"    {outs} = {call}  # {comment}")

    def out_arg(self, value: int) -> str:
        where = self.plan.placement.get(value, ("new",))
        return out_text(where, self.guards.get(value), self.names)

    def emit_expansion(self, node: Node, x: str, out: str, comment: str) -> None:
        """A primitive's ``ufunc_steps`` (relu, sigmoid) as ufunc calls into one buffer."""
        name = self.names[node.outputs[0]]
        dtype = node.dtype
        steps = PRIMITIVES[node.primitive].ufunc_steps
        assert steps is not None  # (out_form checked it)

        def call(ufunc: Any, operand: str, constant: Any, tail: str) -> str:
            callee = self.bind(f"np_{ufunc.__name__}", ufunc)
            if constant is None:
                return f"{callee}({operand}{tail})"
            return f"{callee}({operand}, {self.literal(constant, dtype)}{tail})"

        (ufunc, constant), rest = steps[0], steps[1:]
        operand = operand_for(node.primitive, tuple(node.shape), np.dtype(dtype))
        if not rest and operand is not None:
            # A kernel's array in place of the constant (relu: zeros of the result's shape
            # keep np.maximum on its fast SIMD loop).
            array = self.bind(
                "_operand", operand, key=("operand", operand.shape, operand.dtype.str)
            )
            callee = self.bind(f"np_{ufunc.__name__}", ufunc)
            self.lines.append(f"    {name} = {callee}({x}, {array}{out})  # {comment}")
            return
        self.lines.append(f"    {name} = {call(ufunc, x, constant, out)}  # {comment}")
        if not rest:
            return
        if not node.shape and not out:
            # 0-d: NumPy scalars cannot be written into; chain the calls as the impl does.
            chained = name
            for ufunc, constant in rest:
                chained = call(ufunc, chained, constant, "")
            self.lines.append(f"    {name} = {chained}")
            return
        # Into the first call's result (the buffer, or a fresh array where there is none
        # or a guarded one was not taken).
        again = f", out={name}"
        for ufunc, constant in rest:
            self.lines.append(f"    {call(ufunc, name, constant, again)}")

    def emit_kernel(self, group: FusionGroup) -> str:
        """One call of the fused-kernel interpreter for a group (`codegen_fused`)."""
        placement = self.plan.placement
        # A kernel writes its outputs flat: never in place into an array of unknown layout.
        unsure = [v for v in group.outputs if placement.get(v, ("new",)) in self.unsure_shares]
        if unsure:
            placement = {**placement, **{v: ("new",) for v in unsure}}
        lines, description = fused_kernel_call(
            self.graph, group, self.avals, self.names, placement, self.bind, self.param
        )
        self.lines.extend(lines)
        return description

    def emit_return(self, plan: BufferPlan) -> None:
        roots = storage_roots(plan, self.producer, self.kind)
        self.lines.append(return_line(self.graph, plan, self.names, roots, self.param))

    def kind(self, node: Node) -> str:
        """The buffer-planning kind of a node's step: "out", "fresh" or "alias"."""
        if self.out_form(node) is not None:
            return "out"
        prim = PRIMITIVES[node.primitive]
        if prim.ufunc is not None or prim.returns in ("fresh_like_inputs", "fresh"):
            return "fresh"
        return "alias"  # ("input", "view", "unknown", or undeclared: a user's primitive)


_compiled_ids = itertools.count()


@functools.lru_cache(maxsize=1024)
def _has_loop(ufunc: np.ufunc, dtype: np.dtype) -> bool:
    """Whether ``ufunc`` has a loop taking every operand in ``dtype``."""
    loop = dtype.char * ufunc.nin + "->"
    return any(t.startswith(loop) for t in ufunc.types)


__all__ = ["CompiledGraph", "compile_graph"]
