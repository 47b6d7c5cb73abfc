"""Fused elementwise kernels on numba (optional: the ``jit`` extra).

A fusion group (`passes/fusion.py`) becomes a small *program* for one loop: every
member node is one or a few vector instructions on registers (rows of a tile-sized
scratch array). The loop walks the group's elements tile by tile; in each tile it loads
the inputs, runs the instructions, and stores the values the rest of the graph reads.
Intermediate values never leave the cache, and the whole group costs one call.

Why a program and not a generated ``@njit`` function per group: numba's compile time
grows with the function, about 10 ms per statement — a fused W1 gradient (700 nodes) took
8 to 25 s as generated source. The interpreter (`interpreter`) is compiled once per
process and float dtype (a few seconds) and runs any program; compiling a graph then
costs no numba compilation at all. Generated code calls it directly with flat views of
the arrays (numba's call overhead grows with the number of arguments, about 0.3 µs each,
so the interpreter takes a fixed, small set).

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

from tapegrad.graph.fused_ops import (
    ABS,
    ADD,
    COPY,
    DIV,
    EQ,
    EXP,
    FILL,
    GE,
    GT,
    LE,
    LOAD,
    LOADB,
    LOG,
    LT,
    MAX,
    MIN,
    MUL,
    NE,
    NEG,
    POW,
    SQRT,
    STORE,
    STOREB,
    SUB,
    TANH,
    TANH32,
    WHERE,
)
from tapegrad.graph.ir import Graph, Literal, Node
from tapegrad.graph.passes.fusion import FusionGroup

Shape = tuple[int, ...]

# -- opcodes ------------------------------------------------------------------------------
# Row fields: (opcode, destination register, a, b, c).

_BINARY = {
    "add": ADD,
    "subtract": SUB,
    "multiply": MUL,
    "divide": DIV,
    "maximum": MAX,
    "minimum": MIN,
    "power": POW,
    "equal": EQ,
    "not_equal": NE,
    "less": LT,
    "less_equal": LE,
    "greater": GT,
    "greater_equal": GE,
}
# Few opcodes on purpose: numba's compile time of the interpreter grows with each one.
_UNARY = {
    "negative": NEG,
    "sqrt": SQRT,
    "exp": EXP,
    "log": LOG,
    "tanh": TANH,
    "absolute": ABS,
    "identity": COPY,
    "stop_gradient": COPY,
    "cast": COPY,
}
_COMPOSITE = {"square", "reciprocal", "relu", "sigmoid", "clip", "where"}
_COMPARISONS = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"}
_TRANSCENDENTAL = {"exp", "log", "tanh", "power", "sigmoid"}
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
    if (
        len(node.outputs) != 1
        or not node.shape
        or 0 in node.shape
        or node.params
        and (name != "cast")
    ):
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
    return (math.prod(target[axes[-1] + 1 :]), size)


def fits(group: FusionGroup, avals: dict[int, tuple[Shape, np.dtype]]) -> bool:
    """Whether the group's arrays fit the interpreter's fixed argument slots."""
    arrays = [v for v in group.inputs if math.prod(avals[v][0]) != 1]
    bools = sum(avals[v][1] == _BOOL for v in arrays)
    bool_outputs = sum(avals[v][1] == _BOOL for v in group.outputs)
    return (
        len(arrays) - bools <= MAX_INPUTS
        and bools <= MAX_BOOL_INPUTS
        and len(group.outputs) - bool_outputs <= MAX_OUTPUTS
        and bool_outputs <= 1
    )


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
_WORTHWHILE_US = 20.0


def worth_fusing(graph: Graph, group: FusionGroup) -> bool:
    """Whether the kernel is predicted faster than the group's NumPy calls.

    Args:
        graph: The graph.
        group: A fusion group.

    Returns:
        True when the cost model predicts the kernel at least halves the group's time
        and saves 20 µs a call: the interpreter costs seconds to compile once per
        process, so small savings are not worth it.
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
    return kernel_us < 0.5 * numpy_us and numpy_us - kernel_us > _WORTHWHILE_US


# -- programs ---------------------------------------------------------------------------------
@dataclasses.dataclass
class Kernel:
    """A fused group as a program for the interpreter (`interpreter`).

    Generated code calls ``interpreter()(program, n_pre, constants, size, tile, n_regs,
    *float_inputs, *bool_inputs, *float_outputs, bool_output)`` with flat C-ordered
    arrays, unused positions filled with empty arrays, after writing the value of each
    size-1 input into ``constants[scalar_slots[k]]``.
    """

    program: np.ndarray
    n_pre: int
    constants: np.ndarray
    size: int
    tile: int
    n_regs: int
    float_inputs: list[int]
    bool_inputs: list[int]
    scalar_inputs: list[int]
    scalar_slots: list[int]
    float_outputs: list[int]
    bool_outputs: list[int]
    description: str


def build_kernel(
    graph: Graph, group: FusionGroup, avals: dict[int, tuple[Shape, np.dtype]]
) -> Kernel:
    """Translate a group into a program and wrap it in a small numba function.

    Args:
        graph: The graph.
        group: The group (its members must have a `group_key`).
        avals: Shape and dtype of every value.

    Returns:
        The kernel (a program and how to call the interpreter with it).
    """
    return _ProgramBuilder(graph, group, avals).build()


class _ProgramBuilder:
    def __init__(
        self, graph: Graph, group: FusionGroup, avals: dict[int, tuple[Shape, np.dtype]]
    ) -> None:
        self.graph = graph
        self.group = group
        self.avals = avals
        self.dtype = group_key(graph.nodes[group.nodes[0]], avals)
        self.size = math.prod(group.shape)
        self.pre: list[tuple[int, ...]] = []
        self.body: list[tuple[int, ...]] = []
        self.constants: list[float] = []
        self.constant_regs: dict[Any, int] = {}
        self.scalar_slots: list[int] = []
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
                self.scalar_slots.append(len(self.constants) - 1)
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
        if (
            len(float_inputs) > MAX_INPUTS
            or len(bool_inputs) > MAX_BOOL_INPUTS
            or len(float_outputs) > MAX_OUTPUTS
            or len(bool_outputs) > 1
        ):
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
        n_regs = max(self.n_regs, 1)
        description = (
            f"{len(group.nodes)} nodes on {self.dtype.name}{list(group.shape)}, "
            f"{len(program)} instructions, {n_regs} registers"
        )
        return Kernel(
            program,
            len(self.pre),
            np.array(self.constants, self.dtype),
            self.size,
            _tile(self.size, n_regs),
            n_regs,
            float_inputs,
            bool_inputs,
            scalar_inputs,
            self.scalar_slots,
            float_outputs,
            bool_outputs,
            description,
        )

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


def _tile(size: int, n_regs: int) -> int:
    """Elements per tile: the registers of a tile stay within about 64 KiB."""
    tile = max(16, min(1024, 8192 // max(n_regs, 1)))
    return min(tile, size)


def interpreter() -> Any:
    """The interpreter (`_fused_vm.vm`), compiled on first use once per float dtype and
    cached on disk by numba, so later processes load it instead of compiling."""
    from tapegrad.graph import _fused_vm

    return _fused_vm.vm


__all__ = [
    "MAX_BOOL_INPUTS",
    "MAX_INPUTS",
    "MAX_OUTPUTS",
    "Kernel",
    "available",
    "build_kernel",
    "fits",
    "group_key",
    "interpreter",
    "require",
    "worth_fusing",
]
