"""Fused elementwise kernels on numba (optional: the ``jit`` extra).

A fusion group (`passes/fusion.py`) becomes a small *program* for one loop: every
member node is one or a few vector instructions on registers (rows of a tile-sized
scratch array). The loop walks the group's elements tile by tile; in each tile it loads
the inputs, runs the instructions, and stores the values the rest of the graph reads.
Intermediate values never leave the cache, and the whole group costs one call.

Why a program and not a generated ``@njit`` function per group: numba's compile time
grows with the function, about 10 ms per statement — a fused W1 gradient (700 nodes)
took 8 to 25 s. The interpreter loop (`_vm`) is compiled once per process and float
dtype (a few seconds) and runs any program; each group only gets a small generated
``@njit`` wrapper that binds its program and flattens its arrays (tens of ms), because
numba's call overhead grows with the number of arguments (about 0.3 µs each).

Semantics: each member computes in the group's float dtype, like NumPy does after
casting booleans and Python scalars; +, -, *, /, sqrt, comparisons and selects are
exact, other functions come from the C library (tanh for float32 through float64), so
fused results agree with NumPy's to a few ulps, not bit for bit.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

from tapegrad.graph.ir import Graph, Literal, Node
from tapegrad.graph.passes.fusion import FusionGroup

Shape = tuple[int, ...]

# -- opcodes ------------------------------------------------------------------------------
# Row fields: (opcode, destination register, a, b, c).
FILL, LOAD, LOADB, STORE, STOREB = 0, 1, 2, 3, 4
COPY, ADD, SUB, MUL, DIV, NEG, MAX, MIN, POW, WHERE = range(10, 20)
EQ, NE, LT, LE, GT, GE = range(20, 26)
SQRT, EXP, EXPM1, LOG, LOG1P, SIN, COS, TAN, TANH, TANH32, SINH, COSH = range(30, 42)
ARCSIN, ARCCOS, ARCTAN, ARCSINH, ARCCOSH, ARCTANH, ABS = range(42, 49)

_BINARY = {"add": ADD, "subtract": SUB, "multiply": MUL, "divide": DIV, "maximum": MAX,
           "minimum": MIN, "power": POW, "equal": EQ, "not_equal": NE, "less": LT,
           "less_equal": LE, "greater": GT, "greater_equal": GE}
_UNARY = {"negative": NEG, "sqrt": SQRT, "exp": EXP, "expm1": EXPM1, "log": LOG,
          "log1p": LOG1P, "sin": SIN, "cos": COS, "tan": TAN, "tanh": TANH, "sinh": SINH,
          "cosh": COSH, "arcsin": ARCSIN, "arccos": ARCCOS, "arctan": ARCTAN,
          "arcsinh": ARCSINH, "arccosh": ARCCOSH, "arctanh": ARCTANH, "absolute": ABS,
          "identity": COPY, "stop_gradient": COPY, "cast": COPY}
_COMPOSITE = {"square", "reciprocal", "relu", "sigmoid", "clip", "where"}
_COMPARISONS = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"}
_TRANSCENDENTAL = {"exp", "expm1", "log", "log1p", "sin", "cos", "tan", "tanh", "sinh",
                   "cosh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh",
                   "power", "sigmoid"}
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_BOOL = np.dtype(bool)
MAX_INPUTS, MAX_BOOL_INPUTS, MAX_OUTPUTS = 6, 2, 4


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether numba can be imported."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    """Raise a helpful ImportError when numba is missing."""
    if not available():
        raise ImportError("fused kernels need numba: pip install 'tapegrad[jit]'")


# -- which nodes can join a kernel ------------------------------------------------------------
def group_key(node: Node, avals: dict[int, tuple[Shape, np.dtype]]) -> Any:
    """The float dtype a node computes in, if a kernel can run it (else None).

    Args:
        node: A graph node.
        avals: Shape and dtype of every value.

    Returns:
        None, or the computation dtype (members of a group share it).
    """
    name = node.primitive
    if name not in _BINARY and name not in _UNARY and name not in _COMPOSITE:
        return None
    if len(node.outputs) != 1 or not node.shape or 0 in node.shape or node.params and (
            name != "cast"):
        return None
    arrays = [avals[a][1] for a in node.inputs if not isinstance(a, Literal)]
    floats = {d for d in arrays if d != _BOOL}
    if name in _COMPARISONS:
        if node.dtype != _BOOL or len(floats) != 1:
            return None
        (dtype,) = floats
    else:
        dtype = node.dtype
    if dtype not in _FLOATS or not floats <= {dtype}:
        return None
    if name == "where" and avals.get(_first_array(node), ((), None))[1] != _BOOL:
        return None
    for atom in node.inputs:
        if isinstance(atom, Literal):
            if type(atom.value) not in (bool, int, float):
                return None
        elif _pattern(avals[atom][0], node.shape) is None:
            return None
    return dtype


def _first_array(node: Node) -> int:
    atom = node.inputs[0]
    return -1 if isinstance(atom, Literal) else atom


def _pattern(shape: Shape, target: Shape) -> tuple[int, int] | None:
    """``(div, mod)`` with element ``e`` of ``target`` reading ``(e // div) % mod``."""
    size = math.prod(shape)
    if size == 1:
        return (1, 1)
    padded = (1,) * (len(target) - len(shape)) + tuple(shape)
    axes = [k for k, s in enumerate(padded) if s != 1]
    if axes != list(range(axes[0], axes[-1] + 1)):
        return None  # broadcast in the middle: not one stride pattern
    if any(padded[k] != target[k] for k in axes):
        return None
    return (math.prod(target[axes[-1] + 1:]), size)


# -- the cost model -----------------------------------------------------------------------------
# Measured on the development machine (2-core EPYC, NumPy 2.4, numba 0.68): a NumPy ufunc
# call with out= costs about 1 µs plus its elements; a kernel call about 1.5 µs plus
# 0.25 µs per array and a few ns per instruction and tile.
_NUMPY_CALL_US = 1.0
_KERNEL_CALL_US = 1.5
_KERNEL_ARG_US = 0.25
_INSTRUCTION_US = 0.004
_NUMPY_ELEMENT_US = {"arith": 0.0004, "transcendental": 0.006}
_KERNEL_ELEMENT_US = {"arith": 0.0006, "transcendental": 0.012}


def worth_fusing(graph: Graph, group: FusionGroup) -> bool:
    """Whether the kernel is predicted faster than the group's NumPy calls.

    Args:
        graph: The graph.
        group: A fusion group.

    Returns:
        True when the cost model predicts a kernel call saves at least 20 %.
    """
    size = math.prod(group.shape)
    numpy_us = 0.0
    kernel_us = _KERNEL_CALL_US + _KERNEL_ARG_US * (len(group.inputs) + len(group.outputs))
    instructions = len(group.inputs) + len(group.outputs)
    for index in group.nodes:
        node = graph.nodes[index]
        kind = "transcendental" if node.primitive in _TRANSCENDENTAL else "arith"
        calls = 4 if node.primitive == "sigmoid" else 1
        numpy_us += calls * (_NUMPY_CALL_US + size * _NUMPY_ELEMENT_US[kind])
        kernel_us += size * _KERNEL_ELEMENT_US[kind]
        instructions += calls
    tiles = -(-size // _tile(size, 16))
    kernel_us += tiles * instructions * _INSTRUCTION_US
    return kernel_us < 0.8 * numpy_us


# -- programs ---------------------------------------------------------------------------------
@dataclasses.dataclass
class Kernel:
    """A compiled fused group: ``function(*inputs, *outputs)`` fills the outputs."""

    function: Any
    description: str
    program: np.ndarray


def build_kernel(graph: Graph, group: FusionGroup,
                 avals: dict[int, tuple[Shape, np.dtype]]) -> Kernel:
    """Translate a group into a program and wrap it in a small numba function.

    Args:
        graph: The graph.
        group: The group (its members must have a `group_key`).
        avals: Shape and dtype of every value.

    Returns:
        The kernel; its function takes the group's inputs, then its outputs (arrays of
        the outputs' shapes and dtypes, C-contiguous), and writes the outputs.
    """
    require()
    builder = _ProgramBuilder(graph, group, avals)
    return builder.build()


class _ProgramBuilder:
    def __init__(self, graph: Graph, group: FusionGroup,
                 avals: dict[int, tuple[Shape, np.dtype]]) -> None:
        self.graph = graph
        self.group = group
        self.avals = avals
        self.dtype = group_key(graph.nodes[group.nodes[0]], avals)
        self.size = math.prod(group.shape)
        self.pre: list[tuple[int, ...]] = []
        self.body: list[tuple[int, ...]] = []
        self.constants: list[float] = []
        self.constant_regs: dict[Any, int] = {}
        self.reg_of: dict[int, int] = {}
        self.fixed: set[int] = set()  # registers filled once, before the tiles
        self.free: list[int] = []
        self.n_regs = 0
        self.remaining: dict[int, int] = {}

    def new_reg(self, fixed: bool = False) -> int:
        """A register; ``fixed`` ones (filled once, before the tiles) are never reused."""
        if self.free and not fixed:
            return self.free.pop()
        self.n_regs += 1
        if fixed:
            self.fixed.add(self.n_regs - 1)
        return self.n_regs - 1

    def constant(self, value: Any) -> int:
        """A register filled once with a constant (the value cast to the group dtype)."""
        typed = self.dtype.type(value)
        key = typed.tobytes()
        if key not in self.constant_regs:
            self.constants.append(float(typed))
            reg = self.new_reg(fixed=True)
            self.pre.append((FILL, reg, len(self.constants) - 1, 0, 0))
            self.constant_regs[key] = reg
        return self.constant_regs[key]

    def build(self) -> Kernel:
        graph, group = self.graph, self.group
        members = [graph.nodes[i] for i in group.nodes]
        for node in members:
            for atom in node.inputs:
                if not isinstance(atom, Literal):
                    self.remaining[atom] = self.remaining.get(atom, 0) + 1
        float_inputs: list[int] = []
        bool_inputs: list[int] = []
        scalar_inputs: list[int] = []
        for value in group.inputs:
            shape, dtype = self.avals[value]
            if value in graph.constants and math.prod(shape) == 1:
                self.reg_of[value] = self.constant(np.asarray(graph.constants[value]).item())
            elif math.prod(shape) == 1:
                self.constants.append(0.0)  # filled from the argument at each call
                reg = self.new_reg(fixed=True)
                self.pre.append((FILL, reg, len(self.constants) - 1, 0, 0))
                self.reg_of[value] = reg
                scalar_inputs.append(value)
            else:
                div, mod = _pattern(shape, group.shape) or (1, 1)
                reg = self.new_reg()
                if dtype == _BOOL:
                    self.body.append((LOADB, reg, len(bool_inputs), div, mod))
                    bool_inputs.append(value)
                else:
                    self.body.append((LOAD, reg, len(float_inputs), div, mod))
                    float_inputs.append(value)
                self.reg_of[value] = reg
        outputs = set(group.outputs)
        float_outputs = [v for v in group.outputs if self.avals[v][1] != _BOOL]
        bool_outputs = [v for v in group.outputs if self.avals[v][1] == _BOOL]
        if (len(float_inputs) > MAX_INPUTS or len(bool_inputs) > MAX_BOOL_INPUTS
                or len(float_outputs) > MAX_OUTPUTS or len(bool_outputs) > 1):
            raise ValueError("fused kernel: too many inputs or outputs for one kernel")
        for node in members:
            out = node.outputs[0]
            reg = self.emit(node)
            self.reg_of[out] = reg
            if out in outputs:
                if out in bool_outputs:
                    self.body.append((STOREB, reg, 0, 0, 0))
                else:
                    self.body.append((STORE, reg, float_outputs.index(out), 0, 0))
            if not self.remaining.get(out):
                self.release(out)
        program = np.array([*self.pre, *self.body], dtype=np.int64).reshape(-1, 5)
        function = _wrapper(program, len(self.pre), np.array(self.constants, self.dtype),
                            len(scalar_inputs), self.size, max(self.n_regs, 1), group,
                            self.avals, float_inputs, bool_inputs, scalar_inputs,
                            float_outputs, bool_outputs, self.dtype)
        description = (f"{len(group.nodes)} nodes on {self.dtype.name}{list(group.shape)}, "
                       f"{len(program)} instructions, {self.n_regs} registers")
        return Kernel(function, description, program)

    def release(self, value: int) -> None:
        reg = self.reg_of.get(value)
        if reg is not None and reg not in self.fixed and reg not in self.free:
            self.free.append(reg)

    def operand(self, atom: Any) -> int:
        if isinstance(atom, Literal):
            return self.constant(atom.value)
        self.remaining[atom] -= 1
        return self.reg_of[atom]

    def emit(self, node: Node) -> int:
        """Instructions for one node; returns the register holding its result."""
        args = [self.operand(a) for a in node.inputs]
        dst = self.new_reg()
        self.emit_instructions(node.primitive, dst, args)
        # Registers of operands read for the last time are free for the next nodes
        # (inputs too: every tile loads them again before anything else runs).
        for atom in node.inputs:
            if not isinstance(atom, Literal) and not self.remaining[atom]:
                self.release(atom)
        return dst

    def emit_instructions(self, name: str, dst: int, args: list[int]) -> None:
        body = self.body
        if name in _BINARY:
            body.append((_BINARY[name], dst, args[0], args[1], 0))
        elif name == "tanh" and self.dtype == np.float32:
            body.append((TANH32, dst, args[0], args[0], args[0]))
        elif name in _UNARY:
            body.append((_UNARY[name], dst, args[0], args[0], args[0]))
        elif name == "square":
            body.append((MUL, dst, args[0], args[0], 0))
        elif name == "reciprocal":
            body.append((DIV, dst, self.constant(1), args[0], 0))
        elif name == "relu":
            body.append((MAX, dst, args[0], self.constant(0), 0))
        elif name == "clip":
            body.append((MAX, dst, args[0], args[1], 0))
            body.append((MIN, dst, dst, args[2], 0))
        elif name == "where":
            body.append((WHERE, dst, args[0], args[1], args[2]))
        elif name == "sigmoid":
            # The impl's own sequence: (tanh(x * 0.5) + 1) * 0.5.
            half, one = self.constant(0.5), self.constant(1)
            tanh = TANH32 if self.dtype == np.float32 else TANH
            body.append((MUL, dst, args[0], half, 0))
            body.append((tanh, dst, dst, dst, dst))
            body.append((ADD, dst, dst, one, 0))
            body.append((MUL, dst, dst, half, 0))


def _wrapper(program: np.ndarray, n_pre: int, constants: np.ndarray, n_scalars: int,
             size: int, n_regs: int, group: FusionGroup,
             avals: dict[int, tuple[Shape, np.dtype]], float_inputs: list[int],
             bool_inputs: list[int], scalar_inputs: list[int], float_outputs: list[int],
             bool_outputs: list[int], dtype: np.dtype) -> Any:
    """Generate and jit the group's wrapper: flatten arrays, call the interpreter."""
    import numba

    vm = _vm_for()
    tile = _tile(size, n_regs)
    params = [f"i{k}" for k in range(len(group.inputs))]
    params += [f"o{k}" for k in range(len(group.outputs))]
    position = {v: k for k, v in enumerate(group.inputs)}
    out_position = {v: k for k, v in enumerate(group.outputs)}
    n_fixed = len(constants) - n_scalars
    lines = [f"def kernel({', '.join(params)}):",
             "    cv = _CONSTANTS.copy()"]
    for k, value in enumerate(scalar_inputs):
        lines.append(f"    cv[{n_fixed + k}] = _first(i{position[value]})")
    lines.append("    e = np.empty(0, _DTYPE)")
    lines.append("    eb = np.empty(0, np.bool_)")

    def flat_in(value: int) -> str:
        n = math.prod(avals[value][0])
        return f"np.ascontiguousarray(i{position[value]}).reshape({n})"

    floats = [flat_in(v) for v in float_inputs] + ["e"] * (MAX_INPUTS - len(float_inputs))
    bools = [flat_in(v) for v in bool_inputs] + ["eb"] * (MAX_BOOL_INPUTS - len(bool_inputs))
    outs = [f"o{out_position[v]}.reshape({size})" for v in float_outputs]
    outs += ["e"] * (MAX_OUTPUTS - len(float_outputs))
    bool_out = [f"o{out_position[v]}.reshape({size})" for v in bool_outputs] or ["eb"]
    args = ["_PROGRAM", str(n_pre), "cv", str(size), str(tile), str(n_regs),
            *floats, *bools, *outs, *bool_out]
    lines.append(f"    _vm({', '.join(args)})")
    namespace: dict[str, Any] = {"np": np, "_vm": vm, "_PROGRAM": program,
                                 "_CONSTANTS": constants, "_DTYPE": dtype.type,
                                 "_first": _first_for()}
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<tapegrad fused kernel wrapper>", "exec"), namespace)
    return numba.njit(error_model="numpy", nogil=True)(namespace["kernel"])


def _tile(size: int, n_regs: int) -> int:
    """Elements per tile: the registers of a tile stay within about 64 KiB."""
    tile = max(16, min(1024, 8192 // max(n_regs, 1)))
    return min(tile, size)


@functools.lru_cache(maxsize=1)
def _first_for() -> Any:
    """A numba function giving the value of a size-1 array or of a scalar."""
    import numba
    from numba.core import types
    from numba.extending import overload

    def first(x: Any) -> Any:
        raise NotImplementedError  # only called from compiled code

    @overload(first)
    def _first_overload(x: Any) -> Any:
        if isinstance(x, types.Array):
            return lambda x: x.flat[0]
        return lambda x: x

    return first


@functools.lru_cache(maxsize=1)
def _vm_for() -> Any:
    """The interpreter, compiled on first use (once per process and dtype)."""
    import numba

    njit = functools.partial(numba.njit, error_model="numpy", nogil=True)

    @njit(inline="always")
    def tanh_f32(x: Any) -> Any:
        # float32 tanh through float64 exp: correctly rounded in practice and 3x
        # faster than the C library's tanhf; the series keeps tiny arguments exact.
        v = np.float64(x)
        a = abs(v)
        if a < 0.02:
            s = v * v
            return v + v * s * (-1.0 / 3.0 + s * (2.0 / 15.0 - s * (17.0 / 315.0)))
        e = math.exp(-2.0 * a)
        r = (1.0 - e) / (1.0 + e)
        return r if v >= 0 else -r

    @njit(inline="always")
    def pick(k: int, a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any) -> Any:
        if k == 0:
            return a0
        if k == 1:
            return a1
        if k == 2:
            return a2
        if k == 3:
            return a3
        if k == 4:
            return a4
        return a5

    @njit
    def vm(code: Any, n_pre: int, consts: Any, n: int, tile: int, n_regs: int,
           a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, b0: Any, b1: Any,
           o0: Any, o1: Any, o2: Any, o3: Any, q0: Any) -> None:  # pragma: no cover
        regs = np.empty((n_regs, tile), consts.dtype)
        for pc in range(n_pre):
            row = regs[code[pc, 1]]
            value = consts[code[pc, 2]]
            for lane in range(tile):
                row[lane] = value
        n_code = code.shape[0]
        for start in range(0, n, tile):
            m = min(tile, n - start)
            for pc in range(n_pre, n_code):
                op = code[pc, 0]
                d = regs[code[pc, 1]]
                if op < COPY:
                    k, div, mod = code[pc, 2], code[pc, 3], code[pc, 4]
                    if op == LOAD:
                        src = pick(k, a0, a1, a2, a3, a4, a5)
                        if div == 1 and mod == n:
                            for lane in range(m):
                                d[lane] = src[start + lane]
                        else:
                            for lane in range(m):
                                d[lane] = src[((start + lane) // div) % mod]
                    elif op == LOADB:
                        srcb = b0 if k == 0 else b1
                        for lane in range(m):
                            d[lane] = 1.0 if srcb[((start + lane) // div) % mod] else 0.0
                    elif op == STORE:
                        dst = pick(k, o0, o1, o2, o3, o3, o3)
                        for lane in range(m):
                            dst[start + lane] = d[lane]
                    else:
                        for lane in range(m):
                            q0[start + lane] = d[lane] != 0
                    continue
                x = regs[code[pc, 2]]
                y = regs[code[pc, 3]]
                if op == MUL:
                    for lane in range(m):
                        d[lane] = x[lane] * y[lane]
                elif op == ADD:
                    for lane in range(m):
                        d[lane] = x[lane] + y[lane]
                elif op == SUB:
                    for lane in range(m):
                        d[lane] = x[lane] - y[lane]
                elif op == TANH32:
                    for lane in range(m):
                        d[lane] = tanh_f32(x[lane])
                elif op == DIV:
                    for lane in range(m):
                        d[lane] = x[lane] / y[lane]
                elif op == MAX:
                    for lane in range(m):
                        u, v = x[lane], y[lane]
                        d[lane] = u if (u >= v or u != u) else v
                elif op == MIN:
                    for lane in range(m):
                        u, v = x[lane], y[lane]
                        d[lane] = u if (u <= v or u != u) else v
                elif op == WHERE:
                    z = regs[code[pc, 4]]
                    for lane in range(m):
                        d[lane] = y[lane] if x[lane] != 0 else z[lane]
                elif op == COPY:
                    for lane in range(m):
                        d[lane] = x[lane]
                elif op == NEG:
                    for lane in range(m):
                        d[lane] = -x[lane]
                elif op == GT:
                    for lane in range(m):
                        d[lane] = 1.0 if x[lane] > y[lane] else 0.0
                elif op == GE:
                    for lane in range(m):
                        d[lane] = 1.0 if x[lane] >= y[lane] else 0.0
                elif op == LT:
                    for lane in range(m):
                        d[lane] = 1.0 if x[lane] < y[lane] else 0.0
                elif op == LE:
                    for lane in range(m):
                        d[lane] = 1.0 if x[lane] <= y[lane] else 0.0
                elif op == EQ:
                    for lane in range(m):
                        d[lane] = 1.0 if x[lane] == y[lane] else 0.0
                elif op == NE:
                    for lane in range(m):
                        d[lane] = 1.0 if x[lane] != y[lane] else 0.0
                elif op == POW:
                    for lane in range(m):
                        d[lane] = x[lane] ** y[lane]
                elif op == SQRT:
                    for lane in range(m):
                        d[lane] = np.sqrt(x[lane])
                elif op == EXP:
                    for lane in range(m):
                        d[lane] = np.exp(x[lane])
                elif op == EXPM1:
                    for lane in range(m):
                        d[lane] = np.expm1(x[lane])
                elif op == LOG:
                    for lane in range(m):
                        d[lane] = np.log(x[lane])
                elif op == LOG1P:
                    for lane in range(m):
                        d[lane] = np.log1p(x[lane])
                elif op == SIN:
                    for lane in range(m):
                        d[lane] = np.sin(x[lane])
                elif op == COS:
                    for lane in range(m):
                        d[lane] = np.cos(x[lane])
                elif op == TAN:
                    for lane in range(m):
                        d[lane] = np.tan(x[lane])
                elif op == TANH:
                    for lane in range(m):
                        d[lane] = np.tanh(x[lane])
                elif op == SINH:
                    for lane in range(m):
                        d[lane] = np.sinh(x[lane])
                elif op == COSH:
                    for lane in range(m):
                        d[lane] = np.cosh(x[lane])
                elif op == ARCSIN:
                    for lane in range(m):
                        d[lane] = np.arcsin(x[lane])
                elif op == ARCCOS:
                    for lane in range(m):
                        d[lane] = np.arccos(x[lane])
                elif op == ARCTAN:
                    for lane in range(m):
                        d[lane] = np.arctan(x[lane])
                elif op == ARCSINH:
                    for lane in range(m):
                        d[lane] = np.arcsinh(x[lane])
                elif op == ARCCOSH:
                    for lane in range(m):
                        d[lane] = np.arccosh(x[lane])
                elif op == ARCTANH:
                    for lane in range(m):
                        d[lane] = np.arctanh(x[lane])
                elif op == ABS:
                    for lane in range(m):
                        d[lane] = abs(x[lane])

    return vm


__all__ = ["Kernel", "available", "build_kernel", "group_key", "require", "worth_fusing"]
