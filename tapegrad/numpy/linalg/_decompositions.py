"""Decompositions: ``cholesky``, ``eig``, ``eigvals``, ``eigh``, ``eigvalsh``, ``svd``,
``svdvals``, ``qr``.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tnp.linalg.eigvalsh(np.array([[2.0, 1.0], [1.0, 2.0]])).round(6)
    array([1., 3.])
    >>> tg.grad(lambda a: tnp.sum(tnp.linalg.svdvals(a)))(np.diag([3.0, -2.0])).numpy()
    array([[ 1.,  0.],
           [ 0., -1.]])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.linalg import matrix_transpose as _mT
from tapegrad.core.prims.reduction import argsort_p
from tapegrad.numpy import _indexing
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._arguments import value_of as _value
from tapegrad.numpy.linalg._checks import check_square as _square
from tapegrad.numpy.linalg._checks import check_stacked as _stacked
from tapegrad.numpy.linalg._checks import float_dtype as _float_dtype

__all__ = [
    "EigResult",
    "EighResult",
    "QRResult",
    "SVDResult",
    "cholesky",
    "eig",
    "eigh",
    "eigvals",
    "eigvalsh",
    "qr",
    "svd",
    "svdvals",
]


class EigResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class SVDResult(NamedTuple):
    U: Any  # noqa: N815 - NumPy's field names
    S: Any  # noqa: N815
    Vh: Any  # noqa: N815


class QRResult(NamedTuple):
    Q: Any  # noqa: N815
    R: Any  # noqa: N815


def cholesky(a: Any, /, *, upper: bool = False) -> Any:
    """Cholesky factor of symmetric positive-definite matrices (``numpy.linalg.cholesky``).

    Args:
        a: Matrices ``(..., n, n)``; only the lower triangle is read (the upper one when
            ``upper=True``).
        upper: Return ``U`` with ``a = U.T @ U`` instead of ``L`` with ``a = L @ L.T``.
    """
    _square("cholesky", a)
    if upper:
        return _mT(P.cholesky_p(_mT(a)))
    return P.cholesky_p(a)


def _lower(a: Any, uplo: str) -> Any:
    if uplo not in ("L", "U"):
        raise ValueError(f"eigh: UPLO argument must be 'L' or 'U', got {uplo!r}")
    return a if uplo == "L" else _mT(a)


def eigh(a: Any, UPLO: str = "L") -> EighResult:  # noqa: N803 - NumPy's name
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices (``numpy.linalg.eigh``).

    Eigenvector gradients exist only for distinct eigenvalues; at exact ties their terms
    are dropped (so functions of the eigenvalues alone keep finite gradients).

    Args:
        a: Matrices ``(..., n, n)``; only the triangle named by ``UPLO`` is read.
        UPLO: ``"L"`` (lower, default) or ``"U"``.

    Returns:
        ``EighResult(eigenvalues, eigenvectors)``, shapes ``(..., n)`` and ``(..., n, n)``.
    """
    _square("eigh", a)
    return EighResult(*P.eigh_p(_lower(a, UPLO)))


def eig(a: Any) -> EigResult:
    """Eigenvalues and right eigenvectors of square matrices (``numpy.linalg.eig``).

    Complex results, real (as NumPy's) where every eigenvalue of the input is real.
    Gradients follow JAX's (nondegenerate perturbation theory); eigenvectors are
    differentiated through LAPACK's normalisation (unit norm, real largest component),
    as ``jax.lax.linalg.eig(..., enable_eigvec_derivs=True)``.

    Args:
        a: Matrices ``(..., n, n)``, real or complex.

    Returns:
        ``EigResult(eigenvalues, eigenvectors)``, shapes ``(..., n)`` and ``(..., n, n)``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> tnp.linalg.eig(np.array([[0.0, -1.0], [1.0, 0.0]])).eigenvalues
        array([0.+1.j, 0.-1.j])
        >>> a = np.array([[2.0, 1.0], [0.0, 3.0]])
        >>> tg.grad(lambda a: tnp.sum(tnp.linalg.eigvals(a) ** 2))(a).numpy()
        array([[4., 0.],
               [2., 6.]])
    """
    _square("eig", a)
    if _float_dtype(a) != _dtype(a):
        a = P.cast_p(a, dtype=_float_dtype(a))
    w, v = P.eig_p(a)
    if _dtype(a).kind != "c" and not np.any(np.imag(_value(w))):
        return EigResult(P.real_p(w), P.real_p(v))  # NumPy's real results
    return EigResult(w, v)


def eigvals(a: Any) -> Any:
    """Eigenvalues of square matrices (``numpy.linalg.eigvals``; see `eig`).

    Examples:
        >>> import numpy as np
        >>> import tapegrad.numpy as tnp
        >>> tnp.linalg.eigvals(np.diag([1.0, 2.0]))
        array([1., 2.])
    """
    return eig(a).eigenvalues


def eigvalsh(a: Any, UPLO: str = "L") -> Any:  # noqa: N803
    """Eigenvalues (ascending) of symmetric matrices (``numpy.linalg.eigvalsh``)."""
    return eigh(a, UPLO).eigenvalues


def _hermitian_svd(a: Any, compute_uv: bool) -> Any:
    # NumPy's own route: eigh, then |w| sorted descending; the signs move into Vh. Signs
    # and order are primitives: a traced graph sorts the eigenvalues it computes.
    w, v = P.eigh_p(a)
    dtype = _float_dtype(w)
    signs = P.where_p(P.signbit_p(w), dtype.type(-1), dtype.type(1))
    order = P.getitem_p(argsort_p(P.abs_p(w), axis=-1), index=(Ellipsis, slice(None, None, -1)))
    s = _indexing.take_along_axis(w * signs, order, axis=-1)
    if not compute_uv:
        return s
    row = _shape(order)[:-1] + (1, _shape(order)[-1])
    u = _indexing.take_along_axis(v, P.reshape_p(order, shape=row), axis=-1)
    sorted_signs = _indexing.take_along_axis(signs, order, axis=-1)
    return SVDResult(u, s, _mT(u * P.reshape_p(sorted_signs, shape=row)))


def svd(
    a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False
) -> Any:
    """Singular value decomposition (``numpy.linalg.svd``), reduced form.

    Singular-vector gradients need distinct singular values; singular values alone have
    gradients everywhere. Losses should not depend on the signs of singular vectors.

    Args:
        a: Matrices ``(..., m, n)``.
        full_matrices: Only meaningful for non-square ``a``, where the extra columns are
            not unique (so not differentiable): pass ``False`` there.
        compute_uv: Return ``(U, S, Vh)``; else only ``S``.
        hermitian: ``a`` is symmetric (lower triangle read): computed from `eigh`.

    Returns:
        ``SVDResult(U, S, Vh)`` with shapes ``(..., m, k)``, ``(..., k)``, ``(..., k, n)``,
        ``k = min(m, n)``, or ``S`` alone.
    """
    _stacked("svd", a)
    if hermitian:
        _square("svd", a)
        return _hermitian_svd(a, compute_uv)
    if not compute_uv:
        return P.svd_p(a)[1]
    m, n = _shape(a)[-2:]
    if full_matrices and m != n:
        raise NotImplementedError(
            f"tapegrad.numpy.linalg.svd: full_matrices=True is not supported for non-square "
            f"matrices (shape {_shape(a)}): the extra singular vectors are not unique; pass "
            "full_matrices=False"
        )
    return SVDResult(*P.svd_p(a))


def svdvals(x: Any, /) -> Any:
    """Singular values, descending (``numpy.linalg.svdvals``)."""
    return svd(x, compute_uv=False)


def qr(a: Any, mode: str = "reduced") -> Any:
    """QR decomposition (``numpy.linalg.qr``).

    Args:
        a: Matrices ``(..., m, n)``; tall, square and wide are all differentiable (the
            leading ``min(m, n)`` columns must have full rank).
        mode: ``"reduced"`` (default), ``"r"``, or ``"complete"`` when ``m <= n`` (then the
            same as reduced). ``"raw"`` is not supported.

    Returns:
        ``QRResult(Q, R)``, or ``R`` for ``mode="r"``.
    """
    _stacked("qr", a)
    m, n = _shape(a)[-2:]
    if mode == "r":
        return P.qr_p(a)[1]
    if mode == "reduced" or (mode == "complete" and m <= n):
        return QRResult(*P.qr_p(a))
    if mode in ("complete", "raw"):
        raise NotImplementedError(
            f"tapegrad.numpy.linalg.qr: mode={mode!r} is not supported for shape {_shape(a)} "
            "(not unique, so not differentiable); use mode='reduced'"
        )
    raise ValueError(f"qr: unrecognized mode {mode!r}")
