"""Solving, inverting and determinants: ``solve``, ``inv``, ``tensorsolve``, ``tensorinv``,
``pinv``, ``lstsq``, ``det``, ``slogdet``.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tnp.linalg.inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    >>> tg.grad(lambda a: tnp.linalg.det(a))(np.array([[2.0, 1.0], [1.0, 3.0]])).numpy()
    array([[ 3., -1.],
           [-1.,  2.]])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.linalg import sym_from_lower
from tapegrad.core.prims.reduction import count_nonzero_p
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._arguments import unwrap as _raw
from tapegrad.numpy.linalg._checks import LinAlgError
from tapegrad.numpy.linalg._checks import check_square as _square
from tapegrad.numpy.linalg._checks import check_stacked as _stacked
from tapegrad.numpy.linalg._checks import float_dtype as _float_dtype

__all__ = [
    "LstsqResult",
    "SlogdetResult",
    "det",
    "inv",
    "lstsq",
    "pinv",
    "slogdet",
    "solve",
    "tensorinv",
    "tensorsolve",
]


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


class LstsqResult(NamedTuple):
    x: Any
    residuals: Any
    rank: Any
    s: Any


def _identity_like(a: Any) -> np.ndarray:
    return np.eye(_shape(a)[-1], dtype=_float_dtype(a))


def solve(a: Any, b: Any) -> Any:
    """Solve ``a @ x = b`` for ``x`` (``numpy.linalg.solve``).

    Args:
        a: Square matrices, shape ``(..., n, n)``.
        b: A vector ``(n,)`` (only when 1-D, as in NumPy 2) or matrices ``(..., n, k)``;
            batch dimensions broadcast.

    Returns:
        ``x`` with the broadcast shape of ``b``.
    """
    _square("solve", a)
    return P.solve_p(a, b)


def inv(a: Any) -> Any:
    """Inverse of each square matrix (``numpy.linalg.inv``), as ``solve(a, I)``."""
    _square("inv", a)
    return P.solve_p(a, _identity_like(a))


def tensorsolve(a: Any, b: Any, axes: Any = None) -> Any:
    """Solve the tensor equation ``tensordot(a, x, x.ndim) = b`` (``numpy.linalg.tensorsolve``)."""
    an = _ndim(a)
    if axes is not None:
        order = list(range(an))
        for k in axes:
            order.remove(k % an)
            order.insert(an, k % an)
        a = P.transpose_p(a, axes=tuple(order))
    old_shape = _shape(a)[-(an - _ndim(b)) :]
    size = int(np.prod(old_shape, dtype=np.int64))
    if int(np.prod(_shape(a), dtype=np.int64)) != size * size:
        raise LinAlgError(
            "tensorsolve: input arrays must satisfy prod(a.shape[b.ndim:]) == "
            f"prod(a.shape[:b.ndim]), got shapes {_shape(a)} and {_shape(b)}"
        )
    square = P.reshape_p(a, shape=(size, size))
    x = P.solve_p(square, P.reshape_p(b, shape=(size,)))
    return P.reshape_p(x, shape=old_shape)


def tensorinv(a: Any, ind: int = 2) -> Any:
    """Inverse of an N-d array with respect to ``tensordot`` (``numpy.linalg.tensorinv``)."""
    if ind <= 0:
        raise ValueError(f"tensorinv: invalid ind argument {ind}; it must be positive")
    shape = _shape(a)
    inv_shape = shape[ind:] + shape[:ind]
    rows = int(np.prod(shape[ind:], dtype=np.int64))
    return P.reshape_p(inv(P.reshape_p(a, shape=(rows, -1))), shape=inv_shape)


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = np._NoValue) -> Any:
    """Moore-Penrose pseudo-inverse (``numpy.linalg.pinv``).

    Its derivative assumes the rank is locally constant (singular values below the cutoff
    stay below it), which is the case almost everywhere.

    Args:
        a: Matrices ``(..., m, n)``.
        rcond: Relative cutoff for small singular values (a scalar; default 1e-15).
        hermitian: Treat ``a`` as symmetric (only its lower triangle is read).
        rtol: Array-API name of ``rcond``; ``None`` means ``max(m, n) * eps``.

    Returns:
        Pseudo-inverses, shape ``(..., n, m)``.
    """
    _stacked("pinv", a)
    if rcond is None:
        if rtol is np._NoValue:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(_shape(a)[-2:]) * np.finfo(_float_dtype(a)).eps
        else:
            rcond = rtol
    elif rtol is not np._NoValue:
        raise ValueError("pinv: `rtol` and `rcond` can't be both set")
    if np.ndim(_raw(rcond)) != 0:
        raise NotImplementedError("tapegrad.numpy.linalg.pinv: rcond must be a scalar")
    if hermitian:
        a = sym_from_lower(a)
    # A fixed parameter: a traced rcond has no value yet, so float() refuses it.
    return P.pinv_p(a, rcond=float(rcond), hermitian=bool(hermitian))


def lstsq(a: Any, b: Any, rcond: Any = None) -> LstsqResult:
    """Least-squares solution of ``a @ x = b`` (``numpy.linalg.lstsq``), via `pinv`.

    Returns:
        ``(x, residuals, rank, s)``: ``residuals`` (squared 2-norms of ``b - a @ x``) is
        empty unless ``a`` has full column rank and more rows than columns; ``rank`` is not
        differentiable.
    """
    if _ndim(a) != 2 or _ndim(b) not in (1, 2):
        raise LinAlgError(
            f"lstsq: a must be 2-D and b 1-D or 2-D, got shapes {_shape(a)} and {_shape(b)}"
        )
    m, n = _shape(a)
    if _shape(b)[0] != m:
        raise LinAlgError(f"lstsq: incompatible dimensions {_shape(a)} and {_shape(b)}")
    if rcond is None:
        rcond = np.finfo(_float_dtype(a)).eps * max(m, n)
    x = P.matmul_p(P.pinv_p(a, rcond=float(rcond), hermitian=False), b)
    s = P.svd_p(a)[1]
    residuals = np.zeros((0,), dtype=_float_dtype(x))
    if m <= n:
        # No residuals whatever the rank: it is computed with primitives (a graph value).
        large = P.greater_p(s, rcond * P.max_p(s)) if min(m, n) else np.zeros(0, bool)
        return LstsqResult(x, residuals, P.cast_p(count_nonzero_p(large), dtype=np.int32), s)
    # The residuals exist only at full column rank: their shape depends on the values, so
    # they are read (which refuses a traced `a`).
    s_raw = np.asarray(s)
    rank = np.int32(np.sum(s_raw > rcond * s_raw.max())) if s_raw.size else np.int32(0)
    if rank == n:
        r = P.matmul_p(a, x) - b
        residuals = P.sum_p(r * r, axis=(0,), keepdims=_ndim(b) == 1)
    return LstsqResult(x, residuals, rank, s)


def det(a: Any) -> Any:
    """Determinant of each square matrix (``numpy.linalg.det``).

    The gradient is the cofactor matrix, finite also at singular matrices.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> singular = np.array([[1.0, 2.0], [2.0, 4.0]])
        >>> tg.grad(tnp.linalg.det)(singular).numpy().round(6)
        array([[ 4., -2.],
               [-2.,  1.]])
    """
    _square("det", a)
    return P.det_p(a)


def slogdet(a: Any) -> SlogdetResult:
    """Sign and log of the absolute determinant (``numpy.linalg.slogdet``).

    Returns:
        ``SlogdetResult(sign, logabsdet)``; ``sign`` carries no gradient.
    """
    _square("slogdet", a)
    return SlogdetResult(*P.slogdet_p(a))
