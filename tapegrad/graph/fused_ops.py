"""Opcodes of the fused-kernel programs (`fused.py` writes them, `_fused_vm.py` runs them).

Kept free of numba so `fused.py` imports without the `jit` extra. `_fused_vm.py` holds a
literal copy and checks it against this table at import: its numba disk cache is keyed on
its own file, so a change here must be made there too (the check says so).
"""

# Row fields: (opcode, destination register, a, b, c).
FILL, LOAD, LOADB, STORE, STOREB = 0, 1, 2, 3, 4
COPY, ADD, SUB, MUL, DIV, NEG, MAX, MIN, POW, WHERE = range(10, 20)
EQ, NE, LT, LE, GT, GE = range(20, 26)
SQRT, EXP, LOG, TANH, TANH32, ABS = range(30, 36)

OPCODES = (FILL, LOAD, LOADB, STORE, STOREB, COPY, ADD, SUB, MUL, DIV, NEG, MAX, MIN, POW,
           WHERE, EQ, NE, LT, LE, GT, GE, SQRT, EXP, LOG, TANH, TANH32, ABS)
