"""Opcodes of the fused-kernel programs (`fused.py` writes them, `_fused_vm.py` runs them):
their one table. Kept free of numba so `fused.py` imports without the `jit` extra."""

# Row fields: (opcode, destination register, a, b, c).
FILL, LOAD, LOADB, STORE, STOREB = 0, 1, 2, 3, 4
COPY, ADD, SUB, MUL, DIV, NEG, MAX, MIN, POW, WHERE = range(10, 20)
EQ, NE, LT, LE, GT, GE = range(20, 26)
SQRT, EXP, LOG, TANH, TANH32, ABS = range(30, 36)
