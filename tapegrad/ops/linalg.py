"""``keras.ops.linalg``: Keras 3's linear algebra ops, on `tapegrad.numpy.linalg`.

Keras's names and return conventions: ``lstsq`` returns the solution only, ``qr`` /
``svd`` / ``eigh`` tuples, ``cholesky(x, upper=False)``, ``solve_triangular(a, b,
lower=False)`` (the other triangle of ``a`` is ignored), ``lu_factor`` as
``jax.scipy.linalg.lu_factor``. Integer inputs are computed in float32. Everything is
differentiable except ``eig`` and ``lu_factor`` (values only, documented there) and the
integer ``matrix_rank``.

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.linalg.solve_triangular(tg.tensor([[2.0, 0.0], [1.0, 1.0]]),
    ...                                tg.tensor([2.0, 3.0]), lower=True).numpy()
    array([1., 2.], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, shape_of
from tapegrad.numpy import linalg as _linalg
from tapegrad.numpy import matrix_transpose, tril, triu
from tapegrad.ops.activations import float_input
from tapegrad.ops.core import concrete_value, jvp

__all__ = [
    "cholesky",
    "cholesky_inverse",
    "det",
    "eig",
    "eigh",
    "inv",
    "jvp",
    "lstsq",
    "lu_factor",
    "matrix_rank",
    "norm",
    "pinv",
    "qr",
    "solve",
    "solve_triangular",
    "svd",
]


def _square(op: str, x: Any) -> Any:
    x = float_input(x)
    shape = shape_of(x)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"ops.{op}: expected square matrices (..., n, n), got shape {shape}")
    return x


def cholesky(x: Any, upper: bool = False) -> Any:
    """The Cholesky factor of positive-definite matrices: ``L`` (``x = L L^T``), or ``U = L^T``
    with ``upper=True``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.cholesky(tg.tensor([[4.0, 2.0], [2.0, 2.0]])).numpy()
        array([[2., 0.],
               [1., 1.]], dtype=float32)
    """
    return _linalg.cholesky(_square("cholesky", x), upper=bool(upper))


def cholesky_inverse(x: Any, upper: bool = False) -> Any:
    """The inverse of ``A`` from its Cholesky factor (``A = L L^T``, or ``U^T U`` if ``upper``).

    Examples:
        >>> import tapegrad as tg
        >>> factor = tg.tensor([[2.0, 0.0], [1.0, 1.0]])  # A = [[4, 2], [2, 2]]
        >>> tg.ops.cholesky_inverse(factor).numpy()
        array([[ 0.5, -0.5],
               [-0.5,  1. ]], dtype=float32)
    """
    factor = _square("cholesky_inverse", x)
    n = shape_of(factor)[-1]
    identity = np.eye(n, dtype=factor.dtype)
    if upper:
        inv_upper = solve_triangular(factor, identity, lower=False)
        return inv_upper @ matrix_transpose(inv_upper)
    inv_lower = solve_triangular(factor, identity, lower=True)
    return matrix_transpose(inv_lower) @ inv_lower


def det(x: Any) -> Any:
    """Determinants of square matrices.

    Examples:
        >>> import tapegrad as tg
        >>> float(tg.ops.det(tg.tensor([[2.0, 1.0], [1.0, 3.0]])))
        5.0
    """
    return _linalg.det(_square("det", x))


def inv(x: Any) -> Any:
    """Inverses of square matrices.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.inv(tg.tensor([[2.0, 0.0], [0.0, 4.0]])).numpy()
        array([[0.5 , 0.  ],
               [0.  , 0.25]], dtype=float32)
    """
    return _linalg.inv(_square("inv", x))


def eigh(x: Any) -> tuple[Any, Any]:
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices: ``(w, v)``.

    Examples:
        >>> import tapegrad as tg
        >>> w, v = tg.ops.eigh(tg.tensor([[2.0, 0.0], [0.0, 1.0]]))
        >>> w.numpy()
        array([1., 2.], dtype=float32)
    """
    w, v = _linalg.eigh(_square("eigh", x))
    return w, v


def eig(x: Any) -> tuple[Tensor, Tensor]:
    """Eigenvalues and right eigenvectors of general square matrices (complex in general).

    Values only: the result carries no gradient (a general eigendecomposition's derivative
    is not implemented; use `eigh` for symmetric matrices, which is differentiable).

    Examples:
        >>> import tapegrad as tg
        >>> w, v = tg.ops.eig(tg.tensor([[2.0, 0.0], [0.0, 3.0]]))
        >>> w.numpy().real
        array([2., 3.], dtype=float32)
    """
    x = _square("eig", x)
    w, v = np.linalg.eig(concrete_value(x, "ops.eig (computed from values; ops.eigh traces)"))
    return Tensor(w), Tensor(v)


def lu_factor(x: Any) -> tuple[Tensor, Tensor]:
    """LU decomposition with partial pivoting, packed as ``jax.scipy.linalg.lu_factor``.

    Values only (no gradient). Returns ``(lu, pivots)``: ``lu`` holds ``U`` on and above
    the diagonal and the unit-diagonal ``L`` below it; row ``i`` was swapped with row
    ``pivots[i]`` (int32, 0-based) at step ``i``.

    Examples:
        >>> import tapegrad as tg
        >>> lu, pivots = tg.ops.lu_factor(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
        >>> lu.numpy().round(4), pivots.numpy()
        (array([[3.    , 4.    ],
               [0.3333, 0.6667]], dtype=float32), array([1, 1], dtype=int32))
    """
    x = float_input(x)
    shape = shape_of(x)
    if len(shape) < 2:
        raise ValueError(f"ops.lu_factor: expected matrices (..., m, n), got shape {shape}")
    values = concrete_value(x, "ops.lu_factor (pivots are chosen from values)")
    flat = values.reshape((-1,) + shape[-2:]).copy()
    steps = min(shape[-2:])
    pivots = np.zeros((flat.shape[0], steps), dtype=np.int32)
    for matrix, piv in zip(flat, pivots, strict=True):
        _lu_in_place(matrix, piv)
    return Tensor(flat.reshape(shape)), Tensor(pivots.reshape(shape[:-2] + (steps,)))


def _lu_in_place(a: np.ndarray, pivots: np.ndarray) -> None:
    for k in range(len(pivots)):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        pivots[k] = p
        if p != k:
            a[[k, p]] = a[[p, k]]
        if a[k, k] != 0:
            a[k + 1 :, k] /= a[k, k]
            a[k + 1 :, k + 1 :] -= np.outer(a[k + 1 :, k], a[k, k + 1 :])


def lstsq(a: Any, b: Any, rcond: Any = None) -> Any:
    """The least-squares solution ``x`` of ``a @ x = b`` (the solution only, as Keras).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.lstsq(tg.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]),
        ...              tg.tensor([1.0, 4.0, 0.0])).numpy().round(4)
        array([1., 2.], dtype=float32)
    """
    return _linalg.lstsq(float_input(a), float_input(b), rcond=rcond)[0]


def matrix_rank(x: Any, tol: Any = None) -> Any:
    """The rank of matrices (int32, as Keras), from their singular values.

    Examples:
        >>> import tapegrad as tg
        >>> int(tg.ops.matrix_rank(tg.tensor([[1.0, 2.0], [2.0, 4.0]])))
        1
    """
    x = float_input(x)
    if len(shape_of(x)) < 2:
        raise ValueError(f"ops.matrix_rank: expected rank >= 2, got shape {shape_of(x)}")
    return P.cast_p(_linalg.matrix_rank(x, tol=tol), dtype=np.dtype(np.int32))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """Vector or matrix norm (NumPy's ``ord`` and ``axis`` rules); integers give float32.

    Examples:
        >>> import tapegrad as tg
        >>> float(tg.ops.norm(tg.tensor([3, 4])))
        5.0
    """
    return _linalg.norm(float_input(x), ord=ord, axis=axis, keepdims=keepdims)


def pinv(x: Any, rcond: Any = None) -> Any:
    """Moore-Penrose pseudo-inverse.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.pinv(tg.tensor([[2.0, 0.0], [0.0, 0.0]])).numpy()
        array([[0.5, 0. ],
               [0. , 0. ]], dtype=float32)
    """
    x = float_input(x)
    return _linalg.pinv(x) if rcond is None else _linalg.pinv(x, rcond=rcond)


def qr(x: Any, mode: str = "reduced") -> tuple[Any, Any]:
    """QR decomposition ``(q, r)``; ``mode`` is ``"reduced"`` or ``"complete"``.

    Examples:
        >>> import tapegrad as tg
        >>> q, r = tg.ops.qr(tg.tensor([[3.0, 0.0], [4.0, 5.0]]))
        >>> (q @ r).numpy().round(4)
        array([[3., 0.],
               [4., 5.]], dtype=float32)
    """
    if mode not in ("reduced", "complete"):
        raise ValueError(f"ops.qr: mode must be 'reduced' or 'complete', got {mode!r}")
    q, r = _linalg.qr(float_input(x), mode=mode)
    return q, r


def solve(a: Any, b: Any) -> Any:
    """The solution ``x`` of ``a @ x = b``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.solve(tg.tensor([[2.0, 0.0], [0.0, 4.0]]), tg.tensor([2.0, 2.0])).numpy()
        array([1. , 0.5], dtype=float32)
    """
    return _linalg.solve(_square("solve", a), float_input(b))


def solve_triangular(a: Any, b: Any, lower: bool = False) -> Any:
    """Solve ``a @ x = b`` for triangular ``a``; only its lower (``lower=True``) or upper
    triangle is read, as ``scipy.linalg.solve_triangular``.

    Examples:
        >>> import tapegrad as tg
        >>> a = tg.tensor([[2.0, 99.0], [0.0, 4.0]])  # 99 is above the diagonal: ignored
        >>> tg.ops.solve_triangular(a, tg.tensor([2.0, 4.0]), lower=True).numpy()
        array([1., 1.], dtype=float32)
    """
    a = _square("solve_triangular", a)
    triangle = tril(a) if lower else triu(a)
    return _linalg.solve(triangle, float_input(b))


def svd(x: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """Singular value decomposition: ``(u, s, vh)``, or ``s`` alone without ``compute_uv``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.svd(tg.tensor([[3.0, 0.0], [0.0, 4.0]]), compute_uv=False).numpy()
        array([4., 3.], dtype=float32)
    """
    result = _linalg.svd(float_input(x), full_matrices=full_matrices, compute_uv=compute_uv)
    if not compute_uv:
        return result
    u, s, vh = result
    return u, s, vh
