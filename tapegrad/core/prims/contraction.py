"""``einsum`` on BLAS: contractions become one batched ``matmul`` per operand pair.

``numpy.einsum`` without a contraction path runs its own C loop (no BLAS), and NumPy's
path optimizer only reaches BLAS (``tensordot``) for pairs without batch indices, so an
attention score ``"bqhd,bkhd->bhqk"`` would never run on BLAS. This module does what
JAX's ``dot_general`` does: per pair of operands, indices are sorted into batch (in
both and in the output), contracted (in both, not in the output) and free (in one), the
operands are transposed to ``(batch..., free, contracted)`` and ``(batch...,
contracted, free)``, and one ``matmul`` computes the pair. Operands of three or more
follow NumPy's greedy contraction order, one pair at a time.

The result equals ``numpy.einsum``'s up to the order of floating-point sums.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def einsum(subscripts: str, *operands: Any) -> Any:
    """``numpy.einsum`` with every pairwise contraction on ``matmul`` (BLAS for floats).

    Args:
        subscripts: Explicit subscripts (``"ij,jk->ik"``); implicit output or ``...``
            fall back to ``numpy.einsum``.
        *operands: Arrays.

    Returns:
        The contraction, an array.

    Examples:
        >>> a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
        >>> bool(np.allclose(einsum("ij,jk->ik", a, b), a @ b))
        True
        >>> einsum("bi,bi->b", a, a)
        array([ 5., 50.])
    """
    inputs, arrow, output = subscripts.partition("->")
    terms = inputs.split(",")
    if (
        not arrow
        or "." in subscripts
        or len(terms) != len(operands)
        or len(operands) < 2
        or any(len(set(t)) != len(t) for t in [*terms, output])
        or not set(output) <= set(inputs)
    ):
        # Diagonals, a single operand and implicit output are not matmul-shaped.
        return np.einsum(subscripts, *operands)
    arrays = [np.asarray(op) for op in operands]
    if any(a.ndim != len(t) for a, t in zip(arrays, terms, strict=True)):
        return np.einsum(subscripts, *operands)  # NumPy's own error message
    if len(arrays) == 2:
        return _pair(arrays[0], terms[0], arrays[1], terms[1], output)
    path = np.einsum_path(subscripts, *arrays, optimize="greedy")[0][1:]
    for positions in path:
        chosen = [(arrays.pop(i), terms.pop(i)) for i in sorted(positions, reverse=True)]
        x, tx = chosen.pop()
        while chosen:  # a step may name several operands: fold them in pairs
            y, ty = chosen.pop()
            needed = set(output).union(*terms, *(t for _, t in chosen))
            kept = "".join(dict.fromkeys(c for c in tx + ty if c in needed))
            x, tx = _pair(x, tx, y, ty, kept), kept
        needed = set(output).union(*terms)
        if not set(tx) <= needed:
            kept = "".join(c for c in tx if c in needed)
            x, tx = np.einsum(f"{tx}->{kept}", x), kept
        arrays.append(x)
        terms.append(tx)
    (result,), (term,) = arrays, terms
    return result if term == output else np.einsum(f"{term}->{output}", result)


def _sum_private(x: np.ndarray, term: str, other: str, output: str) -> tuple[np.ndarray, str]:
    """Sum the indices only ``x`` has and the output drops (they take no part in products)."""
    private = tuple(i for i, c in enumerate(term) if c not in other and c not in output)
    if not private:
        return x, term
    return x.sum(axis=private), "".join(c for c in term if c in other or c in output)


def _pair(a: np.ndarray, ta: str, b: np.ndarray, tb: str, output: str) -> np.ndarray:
    """One contraction of two operands as a (broadcasting, batched) ``matmul``."""
    if not ta or not tb:  # a scalar factor: a plain product
        return np.einsum(f"{ta},{tb}->{output}", a, b)
    a, ta = _sum_private(a, ta, tb, output)
    b, tb = _sum_private(b, tb, ta, output)
    contracted = [c for c in ta if c in tb and c not in output]
    # A size-1 axis broadcasts against the other operand's: summing the other's first
    # leaves 1 x (sum) terms, which is the broadcast contraction.
    for c in contracted:
        na, nb = a.shape[ta.index(c)], b.shape[tb.index(c)]
        if na != nb and na == 1:
            b = b.sum(axis=tb.index(c), keepdims=True)
        elif na != nb and nb == 1:
            a = a.sum(axis=ta.index(c), keepdims=True)
    batch = [c for c in ta if c in tb and c in output]
    # Index orders that follow the operands' memory layout keep the reshapes below views
    # (matmul takes a transposed matrix as is).
    big, big_term = (a, ta) if a.size >= b.size else (b, tb)
    contracted.sort(key=lambda c: -big.strides[big_term.index(c)])
    free_a = _by_stride(a, ta, [c for c in ta if c not in tb])
    free_b = _by_stride(b, tb, [c for c in tb if c not in ta])
    a_m = _matrix(a, ta, batch, free_a, contracted)
    b_m = np.swapaxes(_matrix(b, tb, batch, free_b, contracted), -1, -2)
    batch_shape = np.broadcast_shapes(a_m.shape[:-2], b_m.shape[:-2])
    shape = (
        batch_shape
        + tuple(a.shape[ta.index(c)] for c in free_a)
        + tuple(b.shape[tb.index(c)] for c in free_b)
    )
    result_term = batch + free_a + free_b
    order = [result_term.index(c) for c in output]
    if a_m.shape[-1] != 1 and order != sorted(order):
        written = _matmul_in_layout(a_m, b_m, shape, result_term, output)
        if written is not None:
            return written
    # With nothing to sum (k == 1) it is an outer product per batch element:
    # broadcasting, not a stack of 1 x 1 products.
    product = a_m * b_m if a_m.shape[-1] == 1 else np.matmul(a_m, b_m)
    return product.reshape(shape).transpose(order)


def _matmul_in_layout(
    a_m: np.ndarray, b_m: np.ndarray, shape: tuple[int, ...], result_term: list[str], output: str
) -> np.ndarray | None:
    """``a_m @ b_m`` written straight into a C-ordered array of the output's index order
    (BLAS takes the strided rows), or None where that layout is not matmul-shaped.

    The alternative, a transposed view of the product, is copied by whatever reads it
    next as a matrix (the following projection, a reshape).
    """
    if a_m.dtype != b_m.dtype or a_m.dtype.kind not in "fc":
        return None
    out = np.empty(tuple(shape[result_term.index(c)] for c in output), a_m.dtype)
    view = out.transpose([output.index(c) for c in result_term])
    target = view.reshape(shape[: a_m.ndim - 2] + (a_m.shape[-2], b_m.shape[-1]))
    # A reshape that had to copy, or a result with neither rows nor columns contiguous,
    # would not be written in place by BLAS.
    if not np.may_share_memory(target, out):
        return None
    if target.strides[-1] == out.itemsize:
        np.matmul(a_m, b_m, out=target)
    elif target.strides[-2] == out.itemsize:  # column-major: the transposed product
        np.matmul(
            np.swapaxes(b_m, -1, -2), np.swapaxes(a_m, -1, -2), out=np.swapaxes(target, -1, -2)
        )
    else:
        return None
    return out


def _by_stride(x: np.ndarray, term: str, letters: list[str]) -> list[str]:
    return sorted(letters, key=lambda c: -x.strides[term.index(c)])


def _matrix(
    x: np.ndarray, term: str, batch: list[str], rows: list[str], cols: list[str]
) -> np.ndarray:
    """``x`` as ``(batch..., prod(rows), prod(cols))``, a transposed view where the
    columns lie outside the rows in memory."""
    strides = {c: x.strides[term.index(c)] for c in term}
    batch_shape = tuple(x.shape[term.index(c)] for c in batch)
    m = math.prod(x.shape[term.index(c)] for c in rows)
    k = math.prod(x.shape[term.index(c)] for c in cols)
    if rows and cols and min(strides[c] for c in rows) < min(strides[c] for c in cols):
        t = x.transpose([term.index(c) for c in batch + cols + rows])
        return np.swapaxes(t.reshape(batch_shape + (k, m)), -1, -2)
    t = x.transpose([term.index(c) for c in batch + rows + cols])
    return t.reshape(batch_shape + (m, k))
