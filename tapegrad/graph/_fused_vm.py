"""The fused-kernel interpreter, compiled by numba (the `jit` extra) and cached on disk.

Imported only when numba is installed (`tapegrad.graph.fused.interpreter`). Module-level
functions so numba can cache their machine code (``cache=True``: next to this file, or in
numba's user cache directory when that is read-only): the compile costs seconds once, not
in every process. The opcodes live here too, so editing them invalidates the cache (numba
keys its cache on this file).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.graph import fused_ops
from tapegrad.kernels._numba import njit

# A literal copy of the opcode table (see the module docstring), checked below.
FILL, LOAD, LOADB, STORE, STOREB = 0, 1, 2, 3, 4
COPY, ADD, SUB, MUL, DIV, NEG, MAX, MIN, POW, WHERE = range(10, 20)
EQ, NE, LT, LE, GT, GE = range(20, 26)
SQRT, EXP, LOG, TANH, TANH32, ABS = range(30, 36)
if (FILL, LOAD, LOADB, STORE, STOREB, COPY, ADD, SUB, MUL, DIV, NEG, MAX, MIN, POW, WHERE, EQ,
        NE, LT, LE, GT, GE, SQRT, EXP, LOG, TANH, TANH32, ABS) != fused_ops.OPCODES:
    raise ImportError("tapegrad.graph._fused_vm: its opcodes differ from fused_ops.OPCODES; "
                      "edit both (this file's edit also refreshes numba's cache)")



@njit(inline="always", error_model="numpy", nogil=True)
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

@njit(error_model="numpy", nogil=True)
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

@njit(error_model="numpy", nogil=True)
def vm(code: Any, n_pre: int, consts: Any, n: int, tile: int, n_regs: int,
       a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, b0: Any, b1: Any,
       o0: Any, o1: Any, o2: Any, o3: Any, q0: Any) -> None:  # pragma: no cover
    regs = np.empty((n_regs, tile), consts.dtype)
    for pc in range(n_pre):
        r = code[pc, 1]
        value = consts[code[pc, 2]]
        for lane in range(tile):
            regs[r, lane] = value
    n_code = code.shape[0]
    for start in range(0, n, tile):
        m = min(tile, n - start)
        for pc in range(n_pre, n_code):
            op = code[pc, 0]
            r = code[pc, 1]
            if op < COPY:
                k, div, mod = code[pc, 2], code[pc, 3], code[pc, 4]
                if op == LOAD:
                    src = pick(k, a0, a1, a2, a3, a4, a5)
                    if div == 1 and mod == n:
                        for lane in range(m):
                            regs[r, lane] = src[start + lane]
                    else:
                        for lane in range(m):
                            regs[r, lane] = src[((start + lane) // div) % mod]
                elif op == LOADB:
                    srcb = b0 if k == 0 else b1
                    for lane in range(m):
                        regs[r, lane] = 1.0 if srcb[((start + lane) // div) % mod] else 0.0
                elif op == STORE:
                    dst = pick(k, o0, o1, o2, o3, o3, o3)
                    for lane in range(m):
                        dst[start + lane] = regs[r, lane]
                else:
                    for lane in range(m):
                        q0[start + lane] = regs[r, lane] != 0
                continue
            a = code[pc, 2]
            b = code[pc, 3]
            if op == MUL:
                for lane in range(m):
                    regs[r, lane] = regs[a, lane] * regs[b, lane]
            elif op == ADD:
                for lane in range(m):
                    regs[r, lane] = regs[a, lane] + regs[b, lane]
            elif op == SUB:
                for lane in range(m):
                    regs[r, lane] = regs[a, lane] - regs[b, lane]
            elif op == TANH32:
                for lane in range(m):
                    regs[r, lane] = tanh_f32(regs[a, lane])
            elif op == DIV:
                for lane in range(m):
                    regs[r, lane] = regs[a, lane] / regs[b, lane]
            elif op == MAX:
                for lane in range(m):
                    u, v = regs[a, lane], regs[b, lane]
                    regs[r, lane] = u if (u >= v or u != u) else v
            elif op == MIN:
                for lane in range(m):
                    u, v = regs[a, lane], regs[b, lane]
                    regs[r, lane] = u if (u <= v or u != u) else v
            elif op == WHERE:
                c = code[pc, 4]
                for lane in range(m):
                    regs[r, lane] = regs[b, lane] if regs[a, lane] != 0 else regs[c, lane]
            elif op == COPY:
                for lane in range(m):
                    regs[r, lane] = regs[a, lane]
            elif op == NEG:
                for lane in range(m):
                    regs[r, lane] = -regs[a, lane]
            elif op == GT:
                for lane in range(m):
                    regs[r, lane] = 1.0 if regs[a, lane] > regs[b, lane] else 0.0
            elif op == GE:
                for lane in range(m):
                    regs[r, lane] = 1.0 if regs[a, lane] >= regs[b, lane] else 0.0
            elif op == LT:
                for lane in range(m):
                    regs[r, lane] = 1.0 if regs[a, lane] < regs[b, lane] else 0.0
            elif op == LE:
                for lane in range(m):
                    regs[r, lane] = 1.0 if regs[a, lane] <= regs[b, lane] else 0.0
            elif op == EQ:
                for lane in range(m):
                    regs[r, lane] = 1.0 if regs[a, lane] == regs[b, lane] else 0.0
            elif op == NE:
                for lane in range(m):
                    regs[r, lane] = 1.0 if regs[a, lane] != regs[b, lane] else 0.0
            elif op == POW:
                for lane in range(m):
                    regs[r, lane] = regs[a, lane] ** regs[b, lane]
            elif op == SQRT:
                for lane in range(m):
                    regs[r, lane] = np.sqrt(regs[a, lane])
            elif op == EXP:
                for lane in range(m):
                    regs[r, lane] = np.exp(regs[a, lane])
            elif op == LOG:
                for lane in range(m):
                    regs[r, lane] = np.log(regs[a, lane])
            elif op == TANH:
                for lane in range(m):
                    regs[r, lane] = np.tanh(regs[a, lane])
            elif op == ABS:
                for lane in range(m):
                    regs[r, lane] = abs(regs[a, lane])
