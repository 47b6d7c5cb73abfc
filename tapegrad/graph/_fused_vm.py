"""The fused-kernel interpreter, compiled by numba (the `jit` extra) and cached on disk.

Imported only when numba is installed (`tapegrad.graph.fused.interpreter`). The compile
costs seconds once, not in every process: numba caches the machine code (``cache=True``:
next to this file, or in numba's user cache directory when that is read-only). The opcodes
come from `fused_ops`, their one table: `vm` is built by `_build` as a closure over them,
and numba keys a closure's cache on the values it closes over, so a change of the table
compiles afresh instead of loading stale code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.graph import fused_ops
from tapegrad.kernels._numba import njit


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


def _build(ops: Any) -> Any:
    """The interpreter for the opcode table ``ops`` (the `fused_ops` module)."""
    # The opcodes as closure constants (see the module docstring).
    op_load, op_loadb, op_store, op_copy, op_add = ops.LOAD, ops.LOADB, ops.STORE, ops.COPY, ops.ADD
    op_sub, op_mul, op_div, op_neg, op_max = ops.SUB, ops.MUL, ops.DIV, ops.NEG, ops.MAX
    op_min, op_pow, op_where, op_eq, op_ne = ops.MIN, ops.POW, ops.WHERE, ops.EQ, ops.NE
    op_lt, op_le, op_gt, op_ge, op_sqrt = ops.LT, ops.LE, ops.GT, ops.GE, ops.SQRT
    op_exp, op_log, op_tanh, op_tanh32, op_abs = ops.EXP, ops.LOG, ops.TANH, ops.TANH32, ops.ABS

    @njit(error_model="numpy", nogil=True)
    def vm(
        code: Any,
        n_pre: int,
        consts: Any,
        n: int,
        tile: int,
        n_regs: int,
        a0: Any,
        a1: Any,
        a2: Any,
        a3: Any,
        a4: Any,
        a5: Any,
        b0: Any,
        b1: Any,
        o0: Any,
        o1: Any,
        o2: Any,
        o3: Any,
        q0: Any,
    ) -> None:  # pragma: no cover
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
                if op < op_copy:
                    k, div, mod = code[pc, 2], code[pc, 3], code[pc, 4]
                    if op == op_load:
                        src = pick(k, a0, a1, a2, a3, a4, a5)
                        if div == 1 and mod == n:
                            for lane in range(m):
                                regs[r, lane] = src[start + lane]
                        else:
                            for lane in range(m):
                                regs[r, lane] = src[((start + lane) // div) % mod]
                    elif op == op_loadb:
                        srcb = b0 if k == 0 else b1
                        for lane in range(m):
                            regs[r, lane] = 1.0 if srcb[((start + lane) // div) % mod] else 0.0
                    elif op == op_store:
                        dst = pick(k, o0, o1, o2, o3, o3, o3)
                        for lane in range(m):
                            dst[start + lane] = regs[r, lane]
                    else:
                        for lane in range(m):
                            q0[start + lane] = regs[r, lane] != 0
                    continue
                a = code[pc, 2]
                b = code[pc, 3]
                if op == op_mul:
                    for lane in range(m):
                        regs[r, lane] = regs[a, lane] * regs[b, lane]
                elif op == op_add:
                    for lane in range(m):
                        regs[r, lane] = regs[a, lane] + regs[b, lane]
                elif op == op_sub:
                    for lane in range(m):
                        regs[r, lane] = regs[a, lane] - regs[b, lane]
                elif op == op_tanh32:
                    for lane in range(m):
                        regs[r, lane] = tanh_f32(regs[a, lane])
                elif op == op_div:
                    for lane in range(m):
                        regs[r, lane] = regs[a, lane] / regs[b, lane]
                elif op == op_max:
                    for lane in range(m):
                        u, v = regs[a, lane], regs[b, lane]
                        regs[r, lane] = u if (u >= v or u != u) else v
                elif op == op_min:
                    for lane in range(m):
                        u, v = regs[a, lane], regs[b, lane]
                        regs[r, lane] = u if (u <= v or u != u) else v
                elif op == op_where:
                    c = code[pc, 4]
                    for lane in range(m):
                        regs[r, lane] = regs[b, lane] if regs[a, lane] != 0 else regs[c, lane]
                elif op == op_copy:
                    for lane in range(m):
                        regs[r, lane] = regs[a, lane]
                elif op == op_neg:
                    for lane in range(m):
                        regs[r, lane] = -regs[a, lane]
                elif op == op_gt:
                    for lane in range(m):
                        regs[r, lane] = 1.0 if regs[a, lane] > regs[b, lane] else 0.0
                elif op == op_ge:
                    for lane in range(m):
                        regs[r, lane] = 1.0 if regs[a, lane] >= regs[b, lane] else 0.0
                elif op == op_lt:
                    for lane in range(m):
                        regs[r, lane] = 1.0 if regs[a, lane] < regs[b, lane] else 0.0
                elif op == op_le:
                    for lane in range(m):
                        regs[r, lane] = 1.0 if regs[a, lane] <= regs[b, lane] else 0.0
                elif op == op_eq:
                    for lane in range(m):
                        regs[r, lane] = 1.0 if regs[a, lane] == regs[b, lane] else 0.0
                elif op == op_ne:
                    for lane in range(m):
                        regs[r, lane] = 1.0 if regs[a, lane] != regs[b, lane] else 0.0
                elif op == op_pow:
                    for lane in range(m):
                        regs[r, lane] = regs[a, lane] ** regs[b, lane]
                elif op == op_sqrt:
                    for lane in range(m):
                        regs[r, lane] = np.sqrt(regs[a, lane])
                elif op == op_exp:
                    for lane in range(m):
                        regs[r, lane] = np.exp(regs[a, lane])
                elif op == op_log:
                    for lane in range(m):
                        regs[r, lane] = np.log(regs[a, lane])
                elif op == op_tanh:
                    for lane in range(m):
                        regs[r, lane] = np.tanh(regs[a, lane])
                elif op == op_abs:
                    for lane in range(m):
                        regs[r, lane] = abs(regs[a, lane])

    return vm


vm = _build(fused_ops)
